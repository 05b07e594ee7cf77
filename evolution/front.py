"""Objective vectors, constraints, Pareto ranks and hypervolume, on DEAP's multi-objective tools.

A result's objective vector is read by name from its metrics (``params``, ``flops``,
``latency_ms``, or any metric an evaluator declares); the first objective falls back to the
result's fitness when its metrics hold no value of that name (a table result's fitness is the
accuracy fraction, its metrics the table's percent columns). Directions come from the search's
objectives: internally every vector is a DEAP ``wvalues`` tuple, higher-is-better in every
component (a minimised objective is negated), which is what DEAP's sorting and hypervolume read.

DEAP wants individuals with a ``fitness`` whose class carries the weights; ``deap.creator.create``
would make that class a module global of ``deap.creator`` (shared, mutable, and a pickling trap),
so ``fitness_class`` builds a private subclass of ``deap.base.Fitness`` per weight vector.

Constraints are bounds on named metrics: ``{params: 1.0e6}`` is an upper bound, ``{accuracy:
{min: 0.9}}`` a lower one, ``{params: {min: 1e4, max: 1e6}}`` both. A result that breaks one is
never on a front.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from deap import base, tools
from deap.benchmarks.tools import hypervolume as deap_hypervolume
from deap.tools.emo import assignCrowdingDist

from evolution.objectives import Objective

# Known before any training: a constraint on these is checked before an evaluation spends anything.
CHEAP_METRICS = ("params", "flops")
# Metrics hiernas itself measures for every evaluator (besides what evaluators declare).
BUILT_IN_METRICS = ("params", "flops", "latency_ms")


@dataclass(frozen=True, slots=True)
class Bound:
    """``low <= metrics[name] <= high`` (None: unbounded on that side)."""

    name: str
    low: float | None = None
    high: float | None = None

    def violation(self, value: Any) -> str | None:
        """Why ``value`` breaks this bound, or None when it keeps it."""
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            return f"{self.name} is not measured (got {value!r})"
        if self.high is not None and value > self.high:
            return f"{self.name} = {value:.6g} > {self.high:.6g}"
        if self.low is not None and value < self.low:
            return f"{self.name} = {value:.6g} < {self.low:.6g}"
        return None

    @property
    def cheap(self) -> bool:
        return self.name in CHEAP_METRICS


def parse_constraints(data: Mapping[str, Any] | None) -> tuple[Bound, ...]:
    """``{name: upper}`` or ``{name: {min: low, max: high}}`` → bounds, in the mapping's order."""
    bounds = []
    for name, spec in (data or {}).items():
        if isinstance(spec, Mapping):
            bounds.append(Bound(str(name), _number(spec.get("min")), _number(spec.get("max"))))
        else:
            bounds.append(Bound(str(name), None, _number(spec)))
    return tuple(bounds)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def violations(metrics: Mapping[str, Any], bounds: Sequence[Bound]) -> list[str]:
    """Every bound ``metrics`` breaks, as readable reasons."""
    return [reason for bound in bounds if (reason := bound.violation(metrics.get(bound.name))) is not None]


def measured(
    fitness: float | None, metrics: Mapping[str, Any], objectives: Sequence[Objective]
) -> dict[str, Any]:
    """A result's metrics, plus the primary objective from its fitness when the metrics lack it."""
    if not objectives or objectives[0].name in metrics or fitness is None:
        return dict(metrics)
    # The fitness is higher-is-better: a minimised primary objective reports its negation.
    primary = objectives[0]
    return {**metrics, primary.name: fitness if primary.direction == "max" else -fitness}


def objective_values(
    fitness: float | None, metrics: Mapping[str, Any], objectives: Sequence[Objective]
) -> tuple[float, ...] | None:
    """The raw objective vector of a result (each in its own direction), None when one is missing."""
    values = []
    found = measured(fitness, metrics, objectives)
    for objective in objectives:
        value = found.get(objective.name)
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            return None
        values.append(float(value))
    return tuple(values)


def weights(objectives: Sequence[Objective]) -> tuple[float, ...]:
    return tuple(1.0 if objective.direction == "max" else -1.0 for objective in objectives)


def to_wvalues(values: Sequence[float], objectives: Sequence[Objective]) -> tuple[float, ...]:
    """Higher-is-better in every component (DEAP's ``wvalues``)."""
    return tuple(w * v for w, v in zip(weights(objectives), values, strict=True))


@cache
def fitness_class(weight_vector: tuple[float, ...]) -> type[base.Fitness]:
    """A private ``deap.base.Fitness`` subclass with these weights (never ``deap.creator``)."""
    return type("ParetoFitness", (base.Fitness,), {"weights": weight_vector})


class Point:
    """The minimal DEAP individual: a ``fitness`` and the index of the member it stands for."""

    __slots__ = ("fitness", "index")

    def __init__(self, index: int, wvalues: Sequence[float]) -> None:
        self.index = index
        # Unit weights on values that are already weighted: wvalues == values, no rounding twice.
        self.fitness = fitness_class((1.0,) * len(wvalues))(tuple(wvalues))


def points(wvalues: Sequence[Sequence[float]]) -> list[Point]:
    return [Point(i, w) for i, w in enumerate(wvalues)]


def pareto_ranks(wvalues: Sequence[Sequence[float]]) -> list[int]:
    """Non-dominated rank of each vector (0: the front), by DEAP's ``sortLogNondominated``
    (Fortin et al. 2013; Jensen 2003), which is O(N log^(M-1) N) rather than O(M N^2)."""
    if not wvalues:
        return []
    individuals = points(wvalues)
    if len(individuals[0].fitness.wvalues) == 1:
        # sortLogNondominated needs two objectives; with one, ranks are the distinct values' order.
        order = sorted({w[0] for w in wvalues}, reverse=True)
        return [order.index(w[0]) for w in wvalues]
    fronts = tools.sortLogNondominated(individuals, len(individuals))
    ranks = [0] * len(individuals)
    for rank, front in enumerate(fronts):
        for point in front:
            ranks[point.index] = rank
    return ranks


def crowding_distances(wvalues: Sequence[Sequence[float]], ranks: Sequence[int]) -> list[float]:
    """Each vector's crowding distance within its own front (NSGA-II, Deb et al. 2002, section
    III-B), by DEAP's ``assignCrowdingDist``; boundary members get infinity."""
    distances = [0.0] * len(wvalues)
    by_rank: dict[int, list[Point]] = {}
    for point in points(wvalues):
        by_rank.setdefault(ranks[point.index], []).append(point)
    for front in by_rank.values():
        assignCrowdingDist(front)
        for point in front:
            distances[point.index] = float(point.fitness.crowding_dist)
    return distances


def front_indices(wvalues: Sequence[Sequence[float]]) -> list[int]:
    """Indices of the non-dominated vectors, in input order (equal vectors all stay)."""
    return [i for i, rank in enumerate(pareto_ranks(wvalues)) if rank == 0]


def hypervolume(wvalues: Sequence[Sequence[float]], reference: Sequence[float]) -> float:
    """The volume dominated by ``wvalues`` and bounded by ``reference`` (both higher-is-better;
    DEAP's indicator, computed by moocore, negates to minimisation). Points that do not strictly
    beat the reference in every component add nothing."""
    inside = [w for w in wvalues if all(a > r for a, r in zip(w, reference, strict=True))]
    if not inside:
        return 0.0
    return float(deap_hypervolume(points(inside), [-r for r in reference]))


def reference_point(
    wvalues: Sequence[Sequence[float]], objectives: Sequence[Objective], bounds: Sequence[Bound] = ()
) -> tuple[float, ...]:
    """A reference point in wvalues space: a constraint's bound where one limits the objective from
    the bad side, else the worst value seen, so every point inside contributes. Reported with the
    hypervolume, since the number means nothing without it."""
    reference = []
    for position, objective in enumerate(objectives):
        sign = 1.0 if objective.direction == "max" else -1.0
        limit = next(
            (b.low if sign > 0 else b.high for b in bounds if b.name == objective.name),
            None,
        )
        if limit is not None:
            reference.append(sign * limit)
        elif wvalues:
            worst = min(w[position] for w in wvalues)
            reference.append(worst - 1e-9 * max(1.0, abs(worst)))
        else:
            reference.append(0.0)
    return tuple(reference)


# ``search.objectives`` left empty: the evaluator's primary objective (the fitness) against size.
DEFAULT_OBJECTIVES: tuple[dict[str, str], ...] = (
    {"name": "fitness", "direction": "max"},
    {"name": "params", "direction": "min"},
)
