"""Runs read into plain data: what the report needs of each run directory, and nothing live.

Each run is read in one read-only snapshot of its journal (``Journal.snapshot``), the pattern of
``hiernas status``: a run that is being written is reported as it stood at one instant, never half a
step, and a reader never blocks the writer (WAL) nor fails with "database is locked" (the journal's
busy timeout covers the writer's checkpoints). The configuration is read from ``config.yaml``, which
the run writes atomically, as a plain mapping: a report should still read runs written by an older
hiernas whose configuration would no longer validate.

Fitness is compared only between runs that measure it the same way (``Measure``): the same
evaluator kind on the same data set or table column, in the same unit. The unit is the first
objective the run's evaluator declared in the journal (``evolution.objectives``): a fraction for
accuracies. Journals written before objectives were declared hold none; their table runs recorded
the column in percent, their training runs a fraction, and are read as such.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from evolution.journal import FILENAME as JOURNAL_FILE
from evolution.objectives import OBJECTIVES_KEY, Objective
from hiernas.errors import InputError
from hiernas.report.curves import PER_RUN as CURVE_CANDIDATES
from hiernas.report.curves import Candidate, candidates
from hiernas.report.front import (
    config_section,
    feasible_values,
    full_budget_rung,
    run_constraints,
    run_front,
)
from hiernas.report.style import group_label
from hiernas.run_dir import open_journal_read_only, read_config

# Each run contributes at most this many of its best evaluations to the report's top table; more
# than the table shows, so that an architecture found by several runs still leaves enough others.
TOP_PER_RUN = 30


@dataclass(frozen=True, slots=True)
class Measure:
    """What a run's fitness is. Runs with different measures are never plotted on one axis."""

    kind: str  # "table", "train" or "python"
    name: str  # the table column, "validation accuracy", or the python evaluator's target
    source: str  # the table file's name, or the data set
    unit: str = "fraction"  # of the first declared objective

    @property
    def comparable(self) -> tuple[str, str, str]:
        # The table's file name may differ between machines for the same table; its column may not.
        return (self.kind, self.name if self.kind == "table" else self.source, self.unit)

    def describe(self) -> str:
        unit = "a fraction, shown in percent" if self.unit == "fraction" else self.unit
        if self.kind == "table":
            return f"table column {self.name} of {self.source} ({unit})"
        if self.kind == "python":
            return f"the first objective of {self.name} ({unit})"
        return f"validation accuracy after the search's short training on {self.source} ({unit})"


@dataclass(frozen=True, slots=True)
class Architecture:
    """One of a run's best finished evaluations; the genotype stays in its file-format dict."""

    key: str
    fitness: float
    genotype: dict[str, Any]
    metrics: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Run:
    """One run directory as the report sees it."""

    path: Path
    strategy: str
    aging: bool
    seed: int | None
    budget: int | None
    dedup: str
    measure: Measure
    # One entry per finished evaluation, in the order the strategy was told of them: the fitness of
    # a done one, None for a failed one. Cache hits are not evaluations and are left out.
    fitness: tuple[float | None, ...]
    # The error text of every failed evaluation, in the same order.
    errors: tuple[str, ...]
    done: int
    failed: int
    cached: int
    pending: int
    lost: int  # attempts lost with their worker and run again
    top: tuple[Architecture, ...]
    name: str = field(default="")
    # What the run's front trades off (hiernas.report.front), and each fresh result's values of
    # those objectives, aligned with ``fitness`` (None: failed, infeasible or not measured).
    front_objectives: tuple[Objective, ...] = ()
    values: tuple[tuple[float, ...] | None, ...] = ()
    # Every feasible done evaluation's genotype by its values, for drawings of the front.
    genotypes: tuple[tuple[tuple[float, ...], dict[str, Any]], ...] = ()
    # The learning curves of the run's best candidates (hiernas.report.curves).
    curves: tuple[Candidate, ...] = ()

    @property
    def group(self) -> str:
        return group_label(self.strategy, self.aging)

    @property
    def finished(self) -> int:
        return self.done + self.failed

    @property
    def best(self) -> Architecture | None:
        return self.top[0] if self.top else None

    @property
    def complete(self) -> bool:
        return self.budget is not None and self.finished >= self.budget and self.pending == 0


def read_run(run_dir: Path) -> Run:
    """Read ``run_dir``; ``InputError`` (one line) when it is missing or not a hiernas run."""
    if not run_dir.exists():
        raise InputError(f"{run_dir}: no such directory")
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: not a directory (give a run directory)")
    if not (run_dir / JOURNAL_FILE).is_file():
        raise InputError(f"{run_dir}: not a hiernas run (no {JOURNAL_FILE})")
    config = read_config(run_dir)
    journal = open_journal_read_only(run_dir)
    try:
        with journal.snapshot():
            counts = journal.counts()
            history = journal.history()
            ranked = journal.top(TOP_PER_RUN)
            objectives = journal.read_meta(OBJECTIVES_KEY)
            every_done = journal.top(journal.finished_count())
            rung_fitness = {
                row.proposal_id: [
                    (rung["steps"], rung["fitness"])
                    for rung in journal.rung_results(row.proposal_id)
                    if rung["status"] == "done" and isinstance(rung["steps"], int)
                ]
                for row in every_done[:CURVE_CANDIDATES]
                if row.rung > 0
            }
    finally:
        journal.close()
    search = config_section(config, "search")
    top_rung = full_budget_rung(config)
    # With successive halving a proposal is told once per rung; a fitness after fewer steps is not
    # comparable with a full-budget one, so only full-budget results are points of the run's curve.
    fresh = [told.result for told in history if not told.cached and told.rung == top_rung]
    front = run_front(every_done, config, objectives)
    front_objectives, bounds = tuple(front.objectives), run_constraints(config)
    values = tuple(feasible_values(result, front_objectives, bounds) for result in fresh)
    return Run(
        path=run_dir,
        strategy=str(search.get("strategy", "evolution")),
        aging=bool(search.get("aging", False)),
        seed=_int(config.get("seed")),
        budget=_int(config.get("budget")),
        dedup=str(search.get("dedup", "reuse")),
        measure=_measure(config, objectives),
        fitness=tuple(result.fitness if result.ok else None for result in fresh),
        errors=tuple(result.error or "unknown error" for result in fresh if not result.ok),
        done=counts["done"],
        failed=counts["failed"],
        cached=counts["cached"],
        pending=counts["pending"],
        lost=counts["lost"],
        top=tuple(Architecture(r.key, r.fitness, r.genotype, r.metrics) for r in ranked),
        front_objectives=front_objectives,
        values=values,
        genotypes=tuple((v, entry.genotype) for entry, v in front.feasible),
        curves=candidates(every_done, rung_fitness=rung_fitness),
    )


def read_runs(run_dirs: Sequence[Path]) -> list[Run]:
    """Every run, named by the shortest path suffix that tells them apart; ``InputError`` when they
    measure fitness differently, since one axis cannot show both."""
    if not run_dirs:
        raise InputError("give at least one run directory")
    unique: dict[Path, Path] = {}
    for run_dir in run_dirs:
        unique.setdefault(run_dir.resolve(), run_dir)
    runs = [read_run(run_dir) for run_dir in unique.values()]
    measures: dict[tuple[str, str], Run] = {}
    for run in runs:
        measures.setdefault(run.measure.comparable, run)
    if len(measures) > 1:
        first, second = list(measures.values())[:2]
        raise InputError(
            f"the runs measure fitness differently ({first.path}: {_short(first.measure)}; "
            f"{second.path}: {_short(second.measure)}); report them separately"
        )
    names = _names([run.path.resolve() for run in runs])
    return [replace(run, name=name) for run, name in zip(runs, names, strict=True)]


def _short(measure: Measure) -> str:
    return f"{measure.kind} evaluator, {measure.name} on {measure.source}"


def _names(paths: list[Path]) -> list[str]:
    """The last path component, or as many trailing components as it takes to be unique."""
    for depth in range(1, max(len(p.parts) for p in paths) + 1):
        names = ["/".join(p.parts[-depth:]) for p in paths]
        if len(set(names)) == len(names):
            return names
    return [str(p) for p in paths]


def _measure(config: Mapping[str, Any], objectives: Any) -> Measure:
    evaluator = config_section(config, "evaluator")
    # A configuration without evaluator.kind means training (hiernas.config's default).
    kind = str(evaluator.get("kind", "train"))
    if isinstance(objectives, list) and objectives and isinstance(objectives[0], Mapping):
        unit = str(Objective.from_dict(objectives[0]).unit)
    else:  # a journal from before objectives were declared (module docstring)
        unit = "percent" if kind == "table" else "fraction"
    if kind == "table":
        table = evaluator.get("table")
        source = Path(str(table)).name if table else "an unnamed table"
        return Measure("table", str(evaluator.get("fitness", "cifar10-val-12ep")), source, unit)
    if kind == "python":
        return Measure("python", str(evaluator.get("target")), "", unit)
    data = config_section(config, "data")
    dataset = str(data.get("dataset", "digits"))
    if data.get("path"):
        dataset = f"{dataset} ({Path(str(data['path'])).name})"
    return Measure(kind, "validation accuracy", dataset, unit)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
