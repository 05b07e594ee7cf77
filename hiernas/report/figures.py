"""The report's plots as matplotlib Figures: best fitness so far against evaluations, the fitness
distribution per strategy, and what became of each run's proposals.

Every figure gets its own Agg canvas (as ``hiernas.drawing`` does): no ``matplotlib.use``, no pyplot
and its global figure registry, so building a report changes nothing in the caller's matplotlib.
Sizes are in inches for a page about 10 inches wide, so that 9 to 11 point text in the figures
reads at the size of the page's own text.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from hiernas.report.runs import Run
from hiernas.report.stats import Group, fitness_values
from hiernas.report.style import FAILED, GRID, INK, MUTED, colour

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

WIDTH = 10.0
PNG_DPI = 150
TICK_SIZE = 9.5
LABEL_SIZE = 10.5


def _horizontal() -> dict[str, object]:
    """Matplotlib 3.10 replaced violinplot's ``vert=False`` by ``orientation`` (3.11 warns about
    ``vert``); the project supports matplotlib from 3.8."""
    import matplotlib

    major, minor = (int(part) for part in matplotlib.__version__.split(".")[:2])
    return {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)  # this figure only; the caller's backend is untouched
    return figure


def _style(ax: Axes, *, grid_axis: str = "y") -> None:
    """Quiet axes: no box, a light grid behind the data, ticks in the text colour."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#9aa0a6")
    ax.tick_params(colors=INK, labelsize=TICK_SIZE, length=3)
    ax.grid(axis=grid_axis, color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)


def png_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    # Matplotlib's PNG metadata is only its constant "Software" entry (no date), so the same runs
    # give the same image bytes.
    figure.savefig(buffer, format="png", dpi=PNG_DPI, facecolor="white", bbox_inches="tight", pad_inches=0.12)
    return buffer.getvalue()


def convergence(groups: Sequence[Group], fitness_label: str) -> Figure:
    """Best fitness so far against finished evaluations: every seed thin, the mean over seeds bold
    with ±1 standard deviation shaded, one colour per strategy."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    figure = _figure(WIDTH, 4.8)
    ax = figure.add_subplot()
    _style(ax, grid_axis="both")
    labels = [group.label for group in groups]
    for group in groups:
        hue = colour(group.label, labels)
        for curve in group.curves:
            x = np.arange(1, len(curve) + 1)
            ax.step(x, curve, where="post", color=hue, linewidth=0.8, alpha=0.35)
        if group.length == 0:
            continue
        mean, std, _, _, count = group.spread()
        x = np.arange(1, group.length + 1)
        several = count > 1
        if several.any():
            ax.fill_between(
                x, mean - std, mean + std, where=several, step="post", color=hue, alpha=0.16, linewidth=0
            )
        runs = len(group.runs)
        ax.step(
            x,
            mean,
            where="post",
            color=hue,
            linewidth=2.2,
            label=f"{group.label}  (mean of {runs} run{'s' * (runs != 1)})" if runs > 1 else group.label,
        )
    lower, upper = _focus(groups)
    if math.isfinite(lower) and math.isfinite(upper):
        pad = max((upper - lower) * 0.06, 1e-6)
        ax.set_ylim(lower - pad, upper + pad)
    ax.set_xlim(1, max(max(group.length for group in groups), 2))
    ax.set_xlabel("finished evaluations (cache hits not counted)", fontsize=LABEL_SIZE, color=INK)
    ax.set_ylabel(f"best {fitness_label} so far", fontsize=LABEL_SIZE, color=INK)
    # The thin lines and the band are explained once, in grey, rather than once per strategy.
    handles, names = ax.get_legend_handles_labels()
    handles += [Line2D([], [], color=MUTED, linewidth=0.8, alpha=0.6), Patch(color=MUTED, alpha=0.2)]
    names += ["one run (seed)", "±1 s.d. over seeds"]
    ax.legend(handles, names, loc="lower right", fontsize=TICK_SIZE, frameon=False)
    return figure


def _focus(groups: Sequence[Group]) -> tuple[float, float]:
    """The fitness range worth the axis: from the weakest group mean after a tenth of its
    evaluations (the first few draws of a search say little and would squash the rest against the
    top), down to any seed's curve at that point, up to the best value reached."""
    lows, highs = [], []
    for group in groups:
        if group.length == 0:
            continue
        start = max(0, math.ceil(group.length * 0.1) - 1)
        for curve in group.curves:
            tail = curve[start:]
            if np.isfinite(tail).any():
                lows.append(float(np.nanmin(tail)))
                highs.append(float(np.nanmax(tail)))
    return (min(lows), max(highs)) if lows else (math.nan, math.nan)


def distribution(groups: Sequence[Group], fitness_label: str) -> Figure:
    """Every done evaluation's fitness, per strategy: a violin (the density), each evaluation as a
    dot, and the median and quartiles, so the shape and the outliers both show."""
    shown = [group for group in groups if fitness_values(group).size]
    figure = _figure(WIDTH, 0.95 + 0.85 * len(shown))
    ax = figure.add_subplot()
    _style(ax, grid_axis="x")
    labels = [group.label for group in groups]
    rng = np.random.default_rng(0)  # jitter only; fixed so a report is reproducible
    ticks = []
    for position, group in enumerate(reversed(shown)):
        values = fitness_values(group)
        hue = colour(group.label, labels)
        if values.size > 1 and np.ptp(values) > 0:
            parts = ax.violinplot(
                values, positions=[position], widths=0.8, showextrema=False, bw_method=0.15, **_horizontal()
            )
            for body in parts["bodies"]:
                body.set_facecolor(hue)
                body.set_edgecolor("none")
                body.set_alpha(0.22)
        jitter = rng.uniform(-0.18, 0.18, size=values.size)
        ax.scatter(values, position + jitter, s=7, color=hue, alpha=0.55, linewidths=0, zorder=3)
        q1, median, q3 = np.percentile(values, [25, 50, 75])
        ax.hlines(position, q1, q3, color=INK, linewidth=3.2, zorder=4)
        ax.scatter([median], [position], s=34, color="white", edgecolors=INK, linewidths=1.4, zorder=5)
        ticks.append(f"{group.label}\n{values.size} evaluations")
    ax.set_yticks(range(len(ticks)), ticks, fontsize=TICK_SIZE)
    ax.set_ylim(-0.6, len(ticks) - 0.4)
    ax.set_xlabel(fitness_label, fontsize=LABEL_SIZE, color=INK)
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    return figure


def outcomes(runs: Sequence[Run], labels: list[str]) -> Figure:
    """Each run's proposals: done (its strategy's colour), cache hits (the same, light), failed
    (hatched) and still pending (outlined), stacked; the run names are coloured by strategy."""
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    figure = _figure(WIDTH, 1.15 + 0.3 * len(runs))
    ax = figure.add_subplot()
    _style(ax, grid_axis="x")
    positions = np.arange(len(runs))[::-1]
    for y, run in zip(positions, runs, strict=True):
        hue = colour(run.group, labels)
        left = 0
        for count, style in (
            (run.done, {"color": hue}),
            (run.failed, {"color": "white", "edgecolor": FAILED, "hatch": "////", "linewidth": 0.6}),
            (run.cached, {"color": hue, "alpha": 0.3}),
            (run.pending, {"color": "white", "edgecolor": MUTED, "linewidth": 0.8}),
        ):
            if count:
                ax.barh(y, count, left=left, height=0.66, **style)
                left += count
    ax.set_yticks(positions, [run.name for run in runs], fontsize=TICK_SIZE)
    for tick, run in zip(ax.get_yticklabels(), runs, strict=True):
        tick.set_color(colour(run.group, labels))
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    ax.set_ylim(-0.6, len(runs) - 0.4)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # proposals are whole, even with none yet
    ax.set_xlabel("proposals", fontsize=LABEL_SIZE, color=INK)
    legend = [
        Patch(color="#7a7f85", label="done"),
        Patch(facecolor="white", edgecolor=FAILED, hatch="////", linewidth=0.6, label="failed"),
        Patch(color="#7a7f85", alpha=0.3, label="cache hit (result reused)"),
        Patch(facecolor="white", edgecolor=MUTED, linewidth=0.8, label="pending"),
    ]
    figure.legend(
        handles=legend,
        loc="outside upper center",
        ncols=4,
        fontsize=TICK_SIZE,
        frameon=False,
    )
    return figure
