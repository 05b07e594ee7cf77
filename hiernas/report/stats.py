"""What the report computes from the runs: best-so-far curves and their spread over seeds, a summary
per strategy, the best architectures over all runs, and failure reasons grouped.

The x axis of every curve is the number of finished evaluations (done or failed) in the order they
finished, the unit a search's budget is spent in; cache hits cost nothing and do not count.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hiernas.report.runs import Architecture, Run
from hiernas.report.style import group_order


@dataclass(frozen=True, slots=True)
class Group:
    """The runs of one strategy and their best-so-far curves (NaN before a run's first success)."""

    label: str
    runs: tuple[Run, ...]
    curves: tuple[np.ndarray, ...]

    @property
    def length(self) -> int:
        return max((len(curve) for curve in self.curves), default=0)

    def spread(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per x = 1..length: mean, std, min, max and how many runs have a value there. A run that
        stopped earlier (unfinished, smaller budget) leaves the statistics rather than dragging them
        with a stale value."""
        table = np.full((len(self.curves), self.length), np.nan)
        for row, curve in zip(table, self.curves, strict=True):
            row[: len(curve)] = curve
        values = np.ma.masked_invalid(table)
        count = values.count(axis=0)
        mean = values.mean(axis=0).filled(np.nan)
        # The sample standard deviation over seeds; with one run there is no spread to show.
        std = values.std(axis=0, ddof=1).filled(np.nan) if len(self.curves) > 1 else np.zeros(self.length)
        std = np.where(count > 1, std, np.nan)
        low = values.min(axis=0).filled(np.nan)
        high = values.max(axis=0).filled(np.nan)
        return mean, std, low, high, np.asarray(count)

    @property
    def finals(self) -> list[float]:
        """The best fitness of every run of the group that has one."""
        return [run.best.fitness for run in self.runs if run.best is not None]


@dataclass(frozen=True, slots=True)
class RankedArchitecture:
    """One architecture of the top table: its best evaluation over every run, and who found it."""

    architecture: Architecture
    run: Run
    found_by: tuple[Run, ...]  # every run that evaluated it (the best one first)


@dataclass(frozen=True, slots=True)
class Reason:
    """Failures with one cause: the message with numbers masked, how often, in which runs."""

    pattern: str
    example: str
    count: int
    runs: tuple[str, ...]


def best_so_far(fitness: Sequence[float | None]) -> np.ndarray:
    values = np.array([np.nan if f is None else f for f in fitness], dtype=float)
    if values.size == 0:
        return values
    # fmax ignores NaN (a failure) once a value exists; before the first success it stays NaN.
    return np.fmax.accumulate(values)


def evaluations_to_best(fitness: Sequence[float | None]) -> int | None:
    """How many finished evaluations a run spent before it first reached its best fitness: how
    quickly a strategy finds what it ends with (None before any success)."""
    values = [f for f in fitness if f is not None]
    if not values:
        return None
    return list(fitness).index(max(values)) + 1


def groups(runs: Sequence[Run]) -> list[Group]:
    """Runs grouped by strategy (aging evolution apart), in the report's fixed strategy order."""
    by_label: dict[str, list[Run]] = {}
    for run in runs:
        by_label.setdefault(run.group, []).append(run)
    ordered = []
    for label in group_order(list(by_label)):
        members = sorted(by_label[label], key=lambda r: (r.seed is None, r.seed or 0, r.name))
        ordered.append(Group(label, tuple(members), tuple(best_so_far(r.fitness) for r in members)))
    return ordered


def fitness_values(group: Group) -> np.ndarray:
    """Every done evaluation's fitness in the group, pooled over its runs."""
    return np.array([f for run in group.runs for f in run.fitness if f is not None], dtype=float)


def top_architectures(runs: Sequence[Run], limit: int) -> list[RankedArchitecture]:
    """The ``limit`` fittest architectures over all runs, one row per canonical key: a network that
    several runs found is listed once, at its best fitness (ties: the first run given)."""
    found: dict[str, list[tuple[Architecture, Run]]] = {}
    for run in runs:
        for architecture in run.top:
            found.setdefault(architecture.key, []).append((architecture, run))
    rows = []
    for entries in found.values():
        # Python's sort is stable: runs stay in the order given among equal fitness.
        entries.sort(key=lambda entry: -entry[0].fitness)
        seen: dict[int, Run] = {}
        for _, run in entries:
            seen.setdefault(id(run), run)
        rows.append(RankedArchitecture(entries[0][0], entries[0][1], tuple(seen.values())))
    rows.sort(key=lambda row: -row.architecture.fitness)
    return rows[:limit]


# Numbers that identify an evaluation rather than describe the network: the table's row, the seed.
_BOOKKEEPING = frozenset({"index", "seed"})


def key_metrics(rows: Sequence[RankedArchitecture], limit: int = 4) -> list[str]:
    """The numeric metrics worth a column: held-out (test) accuracies first, since they say whether
    the search's fitness generalises, then size and cost. Bookkeeping (row index, seed) and values
    equal in every row (the step count, the validation set's size) tell the rows apart in nothing
    and are left out."""
    values: dict[str, set[float]] = {}
    for row in rows:
        for name, value in row.architecture.metrics.items():
            if isinstance(value, int | float) and not isinstance(value, bool) and name not in _BOOKKEEPING:
                values.setdefault(name, set()).add(float(value))
    names = [name for name, seen in values.items() if len(seen) > 1 or len(rows) == 1]

    def priority(name: str) -> int:
        lowered = name.lower()
        if "test" in lowered:
            return 0
        if lowered in ("params", "flops"):
            return 1
        if "seconds" in lowered:
            return 2
        return 3

    return sorted(names, key=priority)[:limit]


# A word that names one particular thing rather than a kind of failure: it holds a digit, a path
# separator or an NB201 edge separator ("step 120", "/data/nb201.csv", "|nor_conv_3x3~0|+|...|").
_PARTICULAR = re.compile(r"\S*[\d/|\\]\S*")


def failure_reasons(runs: Sequence[Run], example_length: int = 200) -> list[Reason]:
    """Failures grouped by their first line with the particulars masked (so "diverged at step 120"
    and "diverged at step 340" are one reason, and so are two architectures missing from one
    table), most frequent first."""
    counts: Counter[str] = Counter()
    examples: dict[str, str] = {}
    where: dict[str, dict[str, None]] = {}
    for run in runs:
        for error in run.errors:
            first = (error.strip().splitlines() or ["unknown error"])[0].strip()
            pattern = _PARTICULAR.sub("#", first)
            counts[pattern] += 1
            examples.setdefault(
                pattern, first[:example_length] + ("…" if len(first) > example_length else "")
            )
            where.setdefault(pattern, {})[run.name] = None
    return [Reason(p, examples[p], n, tuple(where[p])) for p, n in counts.most_common()]


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    array = np.asarray(values, dtype=float)
    spread = float(array.std(ddof=1)) if len(array) > 1 else 0.0
    return float(array.mean()), spread
