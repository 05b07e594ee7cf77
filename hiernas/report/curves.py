"""Learning curves of a report's top candidates: training loss against step, and validation fitness
at each rung (issue 13).

The training evaluator records in every evaluation's metrics its ``loss_curve`` (``[step, mean loss
of the window ending there]``, from step 0 even when it continued from a checkpoint), its ``steps``
and its ``accuracy_curve`` (``[steps, accuracy, validation images]`` per rung so far); a plug-in may
record the same names. Under successive halving a proposal has one done evaluation per rung it
reached, each with its ``steps``: the rungs are read from those rows, completed by the highest row's
``accuracy_curve``. A candidate is ranked by the highest rung it reached, then by its fitness there:
a low rung's fitness (fewer steps, a validation subset) is not comparable to a full one's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evolution.journal import Ranked
from hiernas.report.style import COLOURS, INK, SPARE_COLOURS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Candidates kept per run (the report pools the runs and plots the best few of those).
PER_RUN = 6
# Candidates in the figure: more lines than this are hard to tell apart.
SHOWN = 6
_PALETTE = (*COLOURS.values(), *SPARE_COLOURS)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One proposal's curves. ``steps``/``fitness``: at the highest rung it reached (``steps`` None
    when its evaluator records no step count)."""

    proposal_id: int
    key: str
    steps: int | None
    fitness: float
    loss_curve: tuple[tuple[int, float], ...]
    rungs: tuple[tuple[int, float], ...]  # (steps, validation fitness), by steps

    @property
    def rank(self) -> tuple[int, float]:
        return (-1 if self.steps is None else self.steps, self.fitness)


def candidates(
    done: Iterable[Ranked],
    limit: int = PER_RUN,
    rung_fitness: Mapping[int, Sequence[tuple[int, float]]] | None = None,
) -> tuple[Candidate, ...]:
    """The best ``limit`` proposals of a run's done evaluations that have a curve to draw: a
    training-loss curve, or validation fitness at two rungs or more. ``rung_fitness``: per proposal,
    (steps, fitness) of each rung the journal recorded (``Journal.top`` lists a proposal once)."""
    by_proposal: dict[int, list[Ranked]] = {}
    for row in done:
        by_proposal.setdefault(row.proposal_id, []).append(row)
    found = []
    for rows in by_proposal.values():
        rows.sort(key=lambda row: (_steps(row.metrics) or 0, row.evaluation_id))
        top = rows[-1]
        rungs = {steps: float(fitness) for steps, fitness in _accuracy_curve(top.metrics)}
        rungs.update({s: row.fitness for row in rows if (s := _steps(row.metrics)) is not None})
        rungs.update(dict((rung_fitness or {}).get(top.proposal_id, ())))
        candidate = Candidate(
            top.proposal_id,
            top.key,
            _steps(top.metrics),
            top.fitness,
            _loss_curve(top.metrics),
            tuple(sorted(rungs.items())),
        )
        if candidate.loss_curve or len(candidate.rungs) > 1:
            found.append(candidate)
    found.sort(key=lambda c: c.rank, reverse=True)
    return tuple(found[:limit])


def figure(runs: Sequence[tuple[str, Sequence[Candidate]]], fitness_label: str) -> Figure:
    """Two panels for the best ``SHOWN`` candidates of all ``(run name, candidates)`` pooled:
    training loss against step, and validation fitness against the rung's steps."""
    from hiernas.report.figures import LABEL_SIZE, TICK_SIZE, WIDTH, _figure, _style

    pooled = sorted(
        ((run, c) for run, found in runs for c in found), key=lambda pair: pair[1].rank, reverse=True
    )[:SHOWN]
    fig = _figure(WIDTH, 4.4)
    loss_ax, rung_ax = fig.subplots(1, 2)
    for ax in (loss_ax, rung_ax):
        _style(ax, grid_axis="both")
    for number, (run, candidate) in enumerate(pooled, start=1):
        hue = _PALETTE[(number - 1) % len(_PALETTE)]
        label = f"#{number} {run}, proposal {candidate.proposal_id}"
        if candidate.loss_curve:
            steps, losses = zip(*candidate.loss_curve, strict=True)
            loss_ax.plot(steps, losses, color=hue, linewidth=1.6, label=label)
        if candidate.rungs:
            steps, values = zip(*candidate.rungs, strict=True)
            rung_ax.plot(steps, values, color=hue, linewidth=1.4, marker="o", markersize=5, label=label)
    loss_ax.set_xlabel("training step", fontsize=LABEL_SIZE, color=INK)
    loss_ax.set_ylabel("training loss (window mean)", fontsize=LABEL_SIZE, color=INK)
    rung_ax.set_xlabel("steps trained (rung)", fontsize=LABEL_SIZE, color=INK)
    rung_ax.set_ylabel(fitness_label, fontsize=LABEL_SIZE, color=INK)
    handles, labels = (loss_ax if loss_ax.lines else rung_ax).get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=TICK_SIZE, frameon=False)
    return fig


def _steps(metrics: dict[str, Any]) -> int | None:
    value = metrics.get("steps")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _loss_curve(metrics: dict[str, Any]) -> tuple[tuple[int, float], ...]:
    """The recorded curve's well-formed points; anything else in a journal is left out, not fatal."""
    curve = metrics.get("loss_curve")
    if not isinstance(curve, list):
        return ()
    return tuple(
        (int(point[0]), float(point[1]))
        for point in curve
        if isinstance(point, list) and len(point) == 2 and all(_number(v) for v in point)
    )


def _accuracy_curve(metrics: dict[str, Any]) -> list[tuple[int, float]]:
    curve = metrics.get("accuracy_curve")
    if not isinstance(curve, list):
        return []
    return [
        (int(point[0]), float(point[1]))
        for point in curve
        if isinstance(point, list) and len(point) >= 2 and all(_number(v) for v in point[:2])
    ]
