"""Configuration of the search (strategy, objectives, constraints, predictor, RL) and the executor."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from evolution.executors import EXECUTORS
from evolution.registry import STRATEGIES
from hiernas.config.sections import _registered, _Section


class RLConfig(_Section):
    """The controller of Zoph & Le 2017: a 2-layer LSTM of 35 units, Adam at 6e-4, REINFORCE with an
    exponential-moving-average baseline."""

    hidden: int = Field(default=35, ge=1)
    layers: int = Field(default=2, ge=1)
    lr: float = Field(default=6e-4, gt=0)
    baseline_decay: float = Field(default=0.95, ge=0, lt=1)
    entropy: float = Field(default=0.0, ge=0)
    # Update the controller after every this many finished evaluations (never waits for a batch).
    update_every: int = Field(default=5, ge=1)
    init_range: float = Field(default=0.08, gt=0)
    # "scaled": fitness over a running spread; "paper": Zoph & Le's accuracy cubed, R − b unscaled.
    reward: Literal["paper", "scaled"] = "scaled"


class PredictorConfig(_Section):
    """Evolution guided by a fitness predictor learned from the journal (evolution/guided.py)."""

    # Children made per ask (one tournament and one mutation each); the acquisition picks one.
    candidates: int = Field(default=100, ge=1)
    # ucb: mean + beta · ensemble spread; thompson: one ensemble member's best; mean: exploit.
    acquisition: Literal["ucb", "thompson", "mean"] = "ucb"
    # Fresh successful results needed before the predictor chooses (before: plain evolution).
    start_after: int = Field(default=20, ge=2)
    beta: float = Field(default=1.0, ge=0)
    # 0: each child mutates a tournament winner; k: one of the k fittest members (BANANAS).
    parents: int = Field(default=0, ge=0)
    # Each child is 1 to this many successive mutations of its parent.
    mutations: int = Field(default=1, ge=1)
    # What the model is fitted on: the fitness, or its rank among the results (top-end resolution).
    target: Literal["raw", "rank"] = "raw"


class LocalConfig(_Section):
    """Local search (search.strategy=local, evolution/local_search.py)."""

    # At a local optimum: climb on from a random network (random, the paper's; better on NB201's
    # tuning seeds, benchmarks/RESULTS.md), or from the next-best evaluated network (best).
    restart: Literal["random", "best"] = "random"


class BayesianConfig(_Section):
    """Bayesian optimisation (search.strategy=bayesian, evolution/bayesian.py)."""

    # Candidates scored per ask: the whole space when it holds at most this many genotypes
    # (NAS-Bench-201: 15,625), else this many random ones drawn once (about 2.5 ms each to draw).
    pool: int = Field(default=20000, ge=1)
    # A sampled pool also holds the one-mutation neighbours of this many fittest networks.
    parents: int = Field(default=5, ge=0)
    # Starting points of each marginal-likelihood fit (θ = 1, then random ones).
    starts: int = Field(default=3, ge=1)
    # What the model learns: the fitnesses' normal scores (rank), or the fitnesses themselves (raw).
    # On the NB201 table (tuning seeds 100-199, 150 evaluations) rank reaches a mean best of 84.89
    # (the best cell in 99 runs of 100), raw 84.87 (benchmarks/RESULTS.md, "Sixth round").
    target: Literal["raw", "rank"] = "rank"


class SearchObjective(_Section):
    name: str = Field(min_length=1)
    direction: Literal["max", "min"] = "max"


class ConstraintBounds(_Section):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.min is None and self.max is None:
            raise ValueError("a constraint needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"a constraint's min {self.min} is above its max {self.max}")
        return self


def _number_or_same(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


class LatencyConfig(_Section):
    threads: int = Field(default=1, ge=1)
    repeats: int = Field(default=30, ge=1)
    warmup: int = Field(default=5, ge=0)
    backend: Literal["torch", "onnxruntime"] = "torch"


class FidelityConfig(_Section):
    """Asynchronous successive halving (ASHA, Li et al. 2020; evolution/successive_halving.py): a
    candidate trains ``min_steps`` first; the best 1/eta of each rung continue, to min_steps·eta,
    min_steps·eta², … and finally the evaluator's full ``steps``. The budget then counts full-budget
    equivalents (training steps / the evaluator's steps). ``rank_by``: what ranks a rung's results
    for promotion, the fitness or the training loss over the last third of the rung's steps (lower
    first; evolution/loss_score.py), which ranks far better at low rungs on digits
    (benchmarks/RESULTS.md, "Ranking low rungs by training loss")."""

    min_steps: int = Field(ge=1)
    eta: int = Field(default=3, ge=2)
    rank_by: Literal["fitness", "loss"] = "fitness"


# Built-in strategies that take no search.predictor.
IGNORE_PREDICTOR = ("random", "rl", "bayesian")


class SearchConfig(_Section):
    strategy: Annotated[str, _registered(STRATEGIES)] = "evolution"
    # Initial population size P (the paper: 200).
    population: int = Field(default=200, ge=1)
    # Tournament size as a fraction of the current population (the paper: 5%), at least 2.
    tournament: float = Field(default=0.05, gt=0, le=1)
    # Regularised evolution (Real et al. 2019): drop the oldest member beyond P.
    aging: bool = False
    # A proposal whose architecture was already evaluated: reuse its result, resample, or evaluate.
    dedup: Literal["reuse", "resample", "off"] = "reuse"
    # A failed network proposed again is evaluated again this many times; then its failure is reused.
    retry_failed: int = Field(default=1, ge=0)
    # A mutated child whose network was evaluated before (a dead edge or unused motif changed):
    # join the population as an individual of its own, or drop it (see evolution/tournament.py).
    neutral: Literal["join", "drop"] = "drop"
    # Unset: the paper's evolution. Set (even to {}): guided evolution (or guided pareto, or local
    # search in predicted order), see PredictorConfig.
    predictor: PredictorConfig | None = None
    rl: RLConfig = RLConfig()
    local: LocalConfig = LocalConfig()
    bayesian: BayesianConfig = BayesianConfig()
    # What the front is made of: [{name, direction}], the first one primary. Names: the evaluator's
    # declared objectives, params, flops, latency_ms. Empty: the primary objective against params.
    objectives: tuple[SearchObjective, ...] = ()
    # Bounds on metrics: {params: 1.0e6} is an upper bound, {accuracy: {min: 0.9}} a lower one.
    # Broken: never on the front; params/flops are checked before training (evolution/front.py).
    constraints: dict[str, ConstraintBounds] = Field(default_factory=dict)
    # How latency_ms is measured, when an objective or constraint names it (hiernas/latency.py).
    latency: LatencyConfig = LatencyConfig()
    # Unset: every candidate gets the full budget. Set: successive halving, see FidelityConfig.
    fidelity: FidelityConfig | None = None

    @field_validator("constraints", mode="before")
    @classmethod
    def _upper_bounds(cls, value: Any) -> Any:
        # A bare number is an upper bound: {params: 1.0e6} means {params: {max: 1.0e6}}. PyYAML reads
        # 1.0e6 (no sign in the exponent) as a string, so a string that is a number counts as one.
        if not isinstance(value, Mapping):
            return value
        return {
            name: {"max": _number_or_same(bound)}
            for name, bound in value.items()
            if not isinstance(bound, Mapping)
        } | {
            name: {k: _number_or_same(v) for k, v in bound.items()}
            for name, bound in value.items()
            if isinstance(bound, Mapping)
        }

    @field_validator("objectives")
    @classmethod
    def _distinct_objectives(cls, value: tuple[SearchObjective, ...]) -> tuple[SearchObjective, ...]:
        names = [objective.name for objective in value]
        if len(set(names)) != len(names):
            raise ValueError(f"an objective is listed twice: {', '.join(names)}")
        return value

    @model_serializer(mode="wrap")
    def _without_unset_fidelity(self, handler: SerializerFunctionWrapHandler) -> Any:
        # Unset, it is left out of config.yaml: a run directory written before the setting existed
        # resumes with the same configuration and the same run identity.
        data = handler(self)
        if isinstance(data, dict) and data.get("fidelity", 0) is None:
            del data["fidelity"]
        return data

    @field_validator("dedup", mode="before")
    @classmethod
    def _dedup_off(cls, value: Any) -> Any:
        return "off" if value is False else value  # YAML 1.1 reads a bare off as false

    @model_validator(mode="after")
    def _predictor_is_read(self) -> Self:
        # Evolution, pareto and local search read search.predictor (plug-ins may too); these
        # built-in strategies would silently ignore it.
        if self.predictor is not None and self.strategy in IGNORE_PREDICTOR:
            raise ValueError(
                f"predictor: the {self.strategy} strategy does not use a predictor (evolution, pareto "
                f"and local do); remove search.predictor"
            )
        return self


class ExecutorConfig(_Section):
    kind: Annotated[str, _registered(EXECUTORS)] = "local"
    workers: int = Field(default=1, ge=1)
    # Several small networks share one GPU well; each worker still sees exactly one GPU.
    workers_per_gpu: int = Field(default=1, ge=1)
    # Seconds one evaluation may take before its worker is stopped and it is recorded as failed.
    timeout: float | None = Field(default=None, gt=0)
    # ray: the cluster to join; None uses RAY_ADDRESS or starts a local instance.
    ray_address: str | None = None
    # Run more local workers than this machine's cores, GPUs and memory hold (refused otherwise).
    oversubscribe: bool = False

    @model_validator(mode="after")
    def _check_inline(self) -> Self:
        # The inline executor runs one evaluation at a time in the driver, and cannot stop one.
        if self.kind == "inline" and self.workers != 1:
            raise ValueError(
                f"workers: the inline executor runs one evaluation at a time, got {self.workers} "
                "(set executor.workers=1, or executor.kind=local)"
            )
        if self.kind == "inline" and self.timeout is not None:
            raise ValueError(
                "timeout: the inline executor cannot stop an evaluation "
                "(set executor.timeout=null, or executor.kind=local)"
            )
        return self
