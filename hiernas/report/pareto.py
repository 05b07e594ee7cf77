"""The report's Pareto figures: every evaluation in the plane of the first two objectives with each
strategy's front as a step line, and hypervolume against finished evaluations per strategy.

Both use the runs' ``front_objectives`` (``hiernas.report.front``); runs whose objectives differ
are not comparable here and the figures are left out. One reference point serves every run (the
worst value of each objective over all of them), so the hypervolumes compare across strategies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from evolution.front import front_indices, hypervolume, reference_point, to_wvalues
from hiernas.report.runs import Run
from hiernas.report.stats import Group
from hiernas.report.style import INK, MUTED, colour

if TYPE_CHECKING:
    from matplotlib.figure import Figure

LOG_SCALED = ("params", "flops", "latency_ms")


def comparable(runs: Sequence[Run]) -> bool:
    """Every run trades off the same objectives, at least two, and has a feasible evaluation."""
    names = {tuple((o.name, o.direction) for o in run.front_objectives) for run in runs}
    return len(names) == 1 and len(runs[0].front_objectives) >= 2 and any(any(run.values) for run in runs)


def common_reference(runs: Sequence[Run]) -> tuple[float, ...]:
    """In wvalues (higher-is-better): just beyond the worst value of every objective in any run."""
    objectives = runs[0].front_objectives
    every = [to_wvalues(v, objectives) for run in runs for v in run.values if v is not None]
    return reference_point(every, objectives)


def hypervolume_curve(run: Run, reference: Sequence[float]) -> np.ndarray:
    """Hypervolume of the front of the first n finished evaluations, n = 1..finished."""
    seen: list[tuple[float, ...]] = []
    curve = []
    for values in run.values:
        if values is not None:
            seen.append(to_wvalues(values, run.front_objectives))
            seen = [seen[i] for i in front_indices(seen)]  # only the front matters from here on
        curve.append(hypervolume(seen, reference))
    return np.asarray(curve, dtype=float)


def pooled_front(group: Group) -> list[tuple[tuple[float, ...], dict[str, Any]]]:
    """The front of all of a group's runs together, best primary objective first."""
    objectives = group.runs[0].front_objectives
    members = [item for run in group.runs for item in run.genotypes]
    unique = list({(values, str(genotype)): (values, genotype) for values, genotype in members}.values())
    front = [unique[i] for i in front_indices([to_wvalues(v, objectives) for v, _ in unique])]
    sign = 1 if objectives[0].direction == "max" else -1
    return sorted(front, key=lambda item: -sign * item[0][0])


def scatter(groups: Sequence[Group]) -> Figure:
    """Every feasible evaluation (dots) and each strategy's pooled front (a step line)."""
    from hiernas.report.figures import LABEL_SIZE, TICK_SIZE, WIDTH, _figure, _style

    objectives = groups[0].runs[0].front_objectives
    primary, second = objectives[0], objectives[1]
    figure = _figure(WIDTH, 5.0)
    ax = figure.add_subplot()
    _style(ax, grid_axis="both")
    labels = [group.label for group in groups]
    for group in groups:
        hue = colour(group.label, labels)
        points = np.array([v[:2] for run in group.runs for v in run.values if v is not None])
        if points.size:
            ax.scatter(points[:, 1], points[:, 0], s=9, color=hue, alpha=0.3, linewidths=0)
        front = np.array([v[:2] for v, _ in pooled_front(group)])
        if front.size:
            order = np.argsort(front[:, 1])
            where = "post" if second.direction == "min" else "pre"
            ax.step(front[order, 1], front[order, 0], where=where, color=hue, linewidth=2, label=group.label)
    if second.name in LOG_SCALED:
        ax.set_xscale("log")
    ax.set_xlabel(f"{second.name} ({second.direction})", fontsize=LABEL_SIZE, color=INK)
    ax.set_ylabel(f"{primary.name} ({primary.direction})", fontsize=LABEL_SIZE, color=INK)
    ax.legend(loc="best", fontsize=TICK_SIZE, frameon=False)
    return figure


def hypervolume_figure(groups: Sequence[Group], reference: Sequence[float]) -> Figure:
    """Hypervolume against finished evaluations: mean over a strategy's seeds, ±1 s.d. shaded."""
    from hiernas.report.figures import LABEL_SIZE, TICK_SIZE, WIDTH, _figure, _style

    figure = _figure(WIDTH, 4.2)
    ax = figure.add_subplot()
    _style(ax, grid_axis="both")
    labels = [group.label for group in groups]
    for group in groups:
        hue = colour(group.label, labels)
        curves = [hypervolume_curve(run, reference) for run in group.runs]
        length = max(len(c) for c in curves)
        if not length:
            continue
        table = np.full((len(curves), length), np.nan)
        for row, curve in zip(table, curves, strict=True):
            row[: len(curve)] = curve
        mean = np.nanmean(table, axis=0)
        x = np.arange(1, length + 1)
        if len(curves) > 1:
            std = np.nanstd(table, axis=0, ddof=1)
            ax.fill_between(x, mean - std, mean + std, step="post", color=hue, alpha=0.16, linewidth=0)
        ax.step(x, mean, where="post", color=hue, linewidth=2, label=f"{group.label} ({len(curves)} runs)")
    ax.set_xlabel("finished evaluations", fontsize=LABEL_SIZE, color=INK)
    ax.set_ylabel("hypervolume of the front so far", fontsize=LABEL_SIZE, color=MUTED)
    ax.legend(loc="lower right", fontsize=TICK_SIZE, frameon=False)
    return figure
