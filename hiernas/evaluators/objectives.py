"""The search's objectives and constraints around any evaluator: refuse what is too big before it
is trained, and measure latency after.

``search.constraints`` on ``params`` or ``flops`` are known before any training (counting builds the
network once, milliseconds): a candidate that breaks one is not handed to the evaluator at all. It
comes back as a failed result whose error starts with ``infeasible:`` and whose metrics hold
``infeasible: true``, ``params`` and ``flops``; it costs no training. It does count as one finished
evaluation of the budget: the budget is what keeps a run finite, and a strategy that kept proposing
networks over the limit would otherwise never end (each refusal costs only the count). The journal
needs no new status, and dedup reuses the refusal like any failure.

``latency_ms``, when an objective or a constraint names it, is measured after the evaluator returns
a done result (``hiernas.latency``), in the same worker, and added to the metrics with its context.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evolution.evaluation import EvalContext, EvalResult, Evaluator
from evolution.front import Bound, violations
from hiernas.config import NetworkConfig
from hiernas.errors import InputError
from motifs.genotype import Genotype

INFEASIBLE = "infeasible"


class ObjectiveEvaluator:
    """Wraps an evaluator with cheap-constraint checks and latency measurement (module docstring)."""

    def __init__(
        self,
        evaluator: Evaluator,
        *,
        network: NetworkConfig,
        input_shape: tuple[int, int, int],
        classes: int,
        cheap: Sequence[Bound] = (),
        latency: Any = None,
        nb201: bool = False,
    ) -> None:
        self.evaluator = evaluator
        self.network, self.input_shape, self.classes = network, tuple(input_shape), classes
        self.cheap = tuple(cheap)
        self.latency = latency  # hiernas.latency.LatencySettings, or None: not measured
        self.nb201 = nb201  # sized and timed as NAS-Bench-201's own network (table runs)

    def __call__(self, genotype: Genotype, context: EvalContext) -> EvalResult:
        if self.cheap:
            params, flops = self._size(genotype)
            broken = violations({"params": params, "flops": flops}, self.cheap)
            if broken:
                return EvalResult.failed(
                    f"{INFEASIBLE}: {'; '.join(broken)} (not trained)",
                    params=params,
                    flops=flops,
                    infeasible=True,
                )
        result = self.evaluator(genotype, context)
        if not result.ok or self.latency is None:
            return result
        from hiernas.latency import measure_latency

        milliseconds, where = measure_latency(
            genotype, self.network, self.input_shape, self.classes, self.latency, nb201=self.nb201
        )  # type: ignore[arg-type]
        return EvalResult(
            "done", result.fitness, {**result.metrics, "latency_ms": milliseconds, "latency_context": where}
        )

    def _size(self, genotype: Genotype) -> tuple[int, int]:
        if self.nb201:
            from hiernas.nb201_network import nb201_size

            return nb201_size(genotype, self.input_shape, self.classes)  # type: ignore[arg-type]
        from hiernas.evaluators.size import network_size

        return network_size(genotype, self.network, self.input_shape, self.classes)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> Any:
        # Everything else (objectives, validate...) is the wrapped evaluator's.
        if name.startswith("__") or name in (
            "evaluator",
            "network",
            "input_shape",
            "classes",
            "cheap",
            "latency",
            "nb201",
        ):
            raise AttributeError(name)
        return getattr(self.evaluator, name)


def check_objective_names(names: Sequence[str], declared: Sequence[str]) -> None:
    """Objective and constraint names must be declared by the evaluator or built in; else exit 2."""
    from evolution.front import BUILT_IN_METRICS

    known = [*declared, *BUILT_IN_METRICS]
    for name in names:
        if name not in known:
            raise InputError(f"search: unknown objective {name!r} (known: {', '.join(dict.fromkeys(known))})")


def size_shape(config: Any, data_record: dict[str, Any] | None) -> tuple[tuple[int, int, int], int]:
    """(input shape, classes) the run's networks are sized and timed at."""
    kind = config.evaluator.kind
    if kind == "table":
        from hiernas.nb201 import column_shape

        return column_shape(config.evaluator.fitness)
    if kind == "python":
        return tuple(config.evaluator.input_shape), config.evaluator.classes
    dataset = (data_record or {}).get("dataset") or {}
    return tuple(dataset.get("image_shape") or (3, 32, 32)), int(dataset.get("classes") or 10)  # type: ignore[return-value]


def for_search(config: Any, evaluator: Evaluator, data_record: dict[str, Any] | None) -> Evaluator:
    """``evaluator`` wrapped for ``config.search``'s objectives and constraints (unchanged if none
    apply). Raises ``InputError`` for an objective no one measures."""
    from evolution.front import parse_constraints
    from hiernas.latency import LatencySettings

    search = config.search
    declared = [objective.name for objective in getattr(evaluator, "objectives", ())]
    names = [objective.name for objective in search.objectives]
    check_objective_names(names, declared)
    bounds = parse_constraints(search.model_dump()["constraints"])
    cheap = tuple(bound for bound in bounds if bound.cheap)
    wants_latency = "latency_ms" in names or any(bound.name == "latency_ms" for bound in bounds)
    if not cheap and not wants_latency:
        return evaluator
    shape, classes = size_shape(config, data_record)
    latency = LatencySettings(**search.latency.model_dump()) if wants_latency else None
    return ObjectiveEvaluator(
        evaluator,
        network=config.network,
        input_shape=shape,
        classes=classes,
        cheap=cheap,
        latency=latency,
        nb201=config.evaluator.kind == "table",
    )
