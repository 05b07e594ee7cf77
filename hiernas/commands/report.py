"""``hiernas report``: one HTML page comparing runs, with its PNGs written beside it.

Safe on runs that are being written: each journal is read in one snapshot (``hiernas.report.runs``),
and the figures and the page are built from that plain data only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from hiernas.errors import InputError
from hiernas.report import curves, figures, html, pareto, stats
from hiernas.report.runs import Run, read_runs
from hiernas.run_dir import write_atomically
from motifs import Genotype

SUFFIXES = (".html", ".htm")
# The PNGs a report may write beside its page, named by the section that shows them.
IMAGES = (
    "convergence",
    "distribution",
    "runs",
    "best",
    "curves",
    "pareto",
    "hypervolume",
    "front1",
    "front2",
    "front3",
)


def run_report(run_dirs: Sequence[Path], output: Path, *, top: int = 10) -> list[Path]:
    """Write the report of ``run_dirs`` to ``output`` and its PNGs beside it (``<stem>-<figure>.png``,
    so that two reports can share a folder); print and return every path written, the page first."""
    # Checked before any run is read, so that a typo in -o costs nothing.
    if output.suffix.lower() not in SUFFIXES:
        raise InputError(f"{output}: the report is an HTML page; give a name ending in .html")
    if not output.parent.is_dir():
        raise InputError(f"{output}: cannot be written (no folder {output.parent})")
    read_at = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    groups = stats.groups(read_runs(run_dirs))
    # Every table and plot lists runs by strategy, then seed, whatever order they were given in.
    runs = [run for group in groups for run in group.runs]
    ranked = stats.top_architectures(runs, top)
    images = _images(runs, groups, ranked)
    text = html.page(runs, groups, ranked, images, read_at=read_at, version=_version())
    written = []
    try:
        for name in IMAGES:
            path = output.with_name(f"{output.stem}-{name}.png")
            if name in images:
                write_atomically(path, images[name])  # replaces a planted symlink, not its target
                written.append(path)
            else:
                # A plot with nothing to show this time: an older report's one would be mistaken
                # for this report's.
                path.unlink(missing_ok=True)
        # The page is replaced whole, so a browser reloading it mid-write never shows half of it.
        write_atomically(output, text)
    except OSError as error:
        where = error.filename or output
        raise InputError(f"{where}: cannot be written ({error.strerror or type(error).__name__})") from None
    for path in [output, *written]:
        print(path)
    return [output, *written]


def _images(
    runs: Sequence[Run], groups: Sequence[stats.Group], ranked: Sequence[stats.RankedArchitecture]
) -> dict[str, bytes]:
    """The PNGs by the id of the section that shows them; a plot with no data is left out."""
    label = runs[0].measure.name
    labels = [group.label for group in groups]
    images = {}
    if any(group.length for group in groups):
        images["convergence"] = figures.png_bytes(figures.convergence(groups, label))
    if any(stats.fitness_values(group).size for group in groups):
        images["distribution"] = figures.png_bytes(figures.distribution(groups, label))
    images["runs"] = figures.png_bytes(figures.outcomes(runs, labels))
    if ranked:
        from hiernas.drawing import draw_figure

        genotype = Genotype.from_dict(ranked[0].architecture.genotype, registered_only=False)
        images["best"] = figures.png_bytes(draw_figure(genotype))
    if any(run.curves for run in runs):
        images["curves"] = figures.png_bytes(curves.figure([(run.name, run.curves) for run in runs], label))
    if pareto.comparable(runs):
        images["pareto"] = figures.png_bytes(pareto.scatter(groups))
        images["hypervolume"] = figures.png_bytes(
            pareto.hypervolume_figure(groups, pareto.common_reference(runs))
        )
        images.update(_front_drawings(groups))
    return images


def _front_drawings(groups: Sequence[stats.Group]) -> dict[str, bytes]:
    """Small drawings of up to three members of the front of every run pooled: the best primary
    objective, the other extreme, and one between."""
    from hiernas.drawing import draw_figure

    pooled = stats.Group("all", tuple(run for group in groups for run in group.runs), ())
    front = pareto.pooled_front(pooled)
    picks = sorted({0, len(front) // 2, len(front) - 1}) if front else []
    return {
        f"front{n}": figures.png_bytes(draw_figure(Genotype.from_dict(front[i][1], registered_only=False)))
        for n, i in enumerate(picks, start=1)
    }


def _version() -> str:
    try:
        return version("hiernas")
    except PackageNotFoundError:
        return "(not installed)"
