"""A run's Pareto front, read from its journal: what ``status``, ``export --front`` and reports show.

Every strategy gets a front (random search and single-objective evolution too), computed here from
the done evaluations and the run's ``search.objectives`` and ``search.constraints``, so strategies
compare on the same measure. Objectives left unset mean the evaluator's primary objective (the
fitness) against ``params``. A done result that breaks a constraint, or lacks an objective's value,
is never on the front. In a successive-halving run only full-budget results are: a result after
fewer steps is not comparable with a fully trained one (its accuracy is lower, its size the same).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evolution.evaluation import EvalResult
from evolution.front import (
    Bound,
    front_indices,
    hypervolume,
    measured,
    objective_values,
    parse_constraints,
    reference_point,
    to_wvalues,
    violations,
)
from evolution.journal import Ranked
from evolution.objectives import Objective
from evolution.successive_halving import Fidelity


def run_objectives(
    config: Mapping[str, Any], declared: Sequence[Mapping[str, Any]] | None
) -> list[Objective]:
    """The run's objectives: ``search.objectives``, or the declared primary against params."""
    units = {d["name"]: d.get("unit", "") for d in declared or ()}
    units.setdefault("params", "count")
    units.setdefault("flops", "count")
    units.setdefault("latency_ms", "ms")
    configured = (config.get("search") or {}).get("objectives") or ()
    if configured:
        return [Objective(o["name"], o.get("direction", "max"), units.get(o["name"], "")) for o in configured]
    primary = Objective.from_dict(declared[0]) if declared else Objective("fitness", "max", "")
    return [primary, Objective("params", "min", "count")]


def full_budget_rung(config: Mapping[str, Any]) -> int:
    """The index of the run's full-budget rung: 0 without successive halving (or unreadable settings)."""
    fidelity = config_section(config, "search").get("fidelity")
    steps = config_section(config, "evaluator").get("steps")
    if not isinstance(fidelity, Mapping) or not isinstance(steps, int):
        return 0
    try:
        return Fidelity.ladder(int(fidelity["min_steps"]), int(fidelity.get("eta", 3)), steps).top
    except (KeyError, TypeError, ValueError, OverflowError):  # a config.yaml may be someone else's: .inf
        return 0


def config_section(config: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """A section of a run directory's config.yaml, or {} where it is missing or not a mapping."""
    value = config.get(name)
    return value if isinstance(value, Mapping) else {}


def run_constraints(config: Mapping[str, Any]) -> tuple[Bound, ...]:
    return parse_constraints((config.get("search") or {}).get("constraints"))


@dataclass(frozen=True)
class Front:
    objectives: list[Objective]
    # Every feasible done evaluation with its objective values (in the objectives' own directions).
    feasible: list[tuple[Ranked, tuple[float, ...]]]
    members: list[tuple[Ranked, tuple[float, ...]]]  # the non-dominated ones, best primary first
    reference: tuple[float, ...]  # in the objectives' own directions
    hypervolume: float


def compute_front(
    ranked: Sequence[Ranked],
    objectives: Sequence[Objective],
    bounds: Sequence[Bound] = (),
    reference: Sequence[float] | None = None,
) -> Front:
    """The non-dominated feasible evaluations of ``ranked`` and their hypervolume. ``reference``
    (in the objectives' directions) defaults to a constraint's bound or the worst value seen."""
    feasible = []
    for entry in ranked:
        found = measured(entry.fitness, entry.metrics, objectives)
        values = objective_values(entry.fitness, entry.metrics, objectives)
        if values is not None and not violations(found, bounds):
            feasible.append((entry, values))
    wvalues = [to_wvalues(values, objectives) for _, values in feasible]
    if reference is None:
        wreference = reference_point(wvalues, objectives, bounds)
    else:
        wreference = to_wvalues(reference, objectives)
    members = [feasible[i] for i in front_indices(wvalues)]
    primary_sign = 1 if objectives[0].direction == "max" else -1
    members.sort(key=lambda item: (-primary_sign * item[1][0], item[0].proposal_id))
    volume = hypervolume([to_wvalues(values, objectives) for _, values in members], wreference)
    return Front(list(objectives), feasible, members, to_wvalues(wreference, objectives), volume)


def run_front(
    ranked: Sequence[Ranked], config: Mapping[str, Any], declared: Sequence[Mapping[str, Any]] | None
) -> Front:
    """The front of a run's done evaluations (``Journal.top``: each proposal at its highest rung)
    under its configured objectives and constraints, full-budget results only."""
    top = full_budget_rung(config)
    full = [entry for entry in ranked if entry.rung == top]
    return compute_front(full, run_objectives(config, declared), run_constraints(config))


def feasible_values(
    result: EvalResult, objectives: Sequence[Objective], bounds: Sequence[Bound]
) -> tuple[float, ...] | None:
    """A result's objective values, or None when it failed, breaks a bound or lacks a value."""
    if not result.ok or violations(measured(result.fitness, result.metrics, objectives), bounds):
        return None
    return objective_values(result.fitness, result.metrics, objectives)


def front_json(front: Front) -> dict[str, Any]:
    """``front`` and ``hypervolume`` as ``status --json`` reports them."""
    return {
        "front_objectives": [o.to_dict() for o in front.objectives],
        "front": [
            {
                "proposal": entry.proposal_id,
                "key": entry.key,
                "objectives": dict(zip((o.name for o in front.objectives), values, strict=True)),
                "metrics": entry.metrics,
                "genotype": entry.genotype,
            }
            for entry, values in front.members
        ],
        "hypervolume": {
            "value": front.hypervolume,
            "reference": dict(zip((o.name for o in front.objectives), front.reference, strict=True)),
            "space": "objectives in their own units; minimised ones negated to maximise (DEAP wvalues)",
        },
    }
