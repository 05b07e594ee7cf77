"""The whole figure: every motif's arc diagram, the flattened cell laid out in layers, a legend;
and ``draw``, which writes it (or DOT) to a file."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import networkx as nx

from hiernas.drawing.arcs import (
    Key,
    Panel,
    arc_panel,
    flat_arcs,
    level_labels,
    motif_arcs,
    node_spacing,
    text_width,
)
from hiernas.drawing.dot import to_dot
from hiernas.drawing.flattening import flatten
from hiernas.drawing.layout import LayeredLayout, layered_layout
from hiernas.drawing.style import (
    CLOSING_COLOUR,
    DEAD_COLOUR,
    FLAT_ARC_SPACING,
    FLAT_SLOT,
    FLAT_UNIT,
    GAP,
    HEADING_SPACE,
    LABEL_SIZE,
    LEGEND_COLUMNS,
    LIGHT_FRAME,
    MARGIN,
    MAX_WIDTH,
    NODE_RADIUS,
    NOTE_SPACE,
    PNG_DPI,
    TITLE_SIZE,
    TITLE_SPACE,
    primitive_colour,
)
from motifs.genotype import Genotype
from motifs.size import check_size

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.path import Path as MplPath

SUFFIXES = (".svg", ".png", ".dot")


def _edge_keys(genotype: Genotype, graph: nx.DiGraph) -> list[Key]:
    """Legend entries for the kinds of edge the flattened cell shows, primitives in their order."""
    kinds = {data["kind"] for _, _, data in graph.edges(data=True)}
    ops = {data["op"] for _, _, data in graph.edges(data=True) if data["kind"] == "primitive"}
    keys = [Key(name, primitive_colour(genotype, name)) for name in genotype.primitives if name in ops]
    if "closing" in kinds:
        closing = {1: "the cell", 2: "motif k (mk)"}.get(len(genotype.levels), "level-ℓ motif k (Lℓ mk)")
        keys.append(Key(f"closing 1×1 conv of {closing}", CLOSING_COLOUR))
    if "zeros" in kinds:
        keys.append(Key("zeros: motif without input→output path", DEAD_COLOUR, ":"))
    return keys


def _flat_panel(genotype: Genotype) -> tuple[Panel, list[Key]]:
    """The flattened cell, and the legend entries it needs."""
    graph = flatten(genotype)
    if all(data["kind"] == "cell" for _, data in graph.nodes(data=True)):
        arcs = flat_arcs(graph, genotype)
        spans = {edge.dst - edge.src for edge in arcs.edges}
        return arc_panel(arcs, FLAT_ARC_SPACING, True, spans), _edge_keys(genotype, graph)

    layout = layered_layout(graph)
    ys = [y for route in layout.routes.values() for _, y in route]
    # One layer per unit across and slots FLAT_SLOT units apart, in inches FLAT_UNIT per unit,
    # scaled down only when a deep hierarchy would make the panel wider than a page allows.
    xlim = (-0.45, layout.layers - 1 + 0.45)
    ylim = (-max(ys) * FLAT_SLOT - 0.45, -min(ys) * FLAT_SLOT + 0.45)
    unit = min(FLAT_UNIT, (MAX_WIDTH - 2 * MARGIN) / (xlim[1] - xlim[0]))
    keys = _edge_keys(genotype, graph)
    keys.append(Key("inner node of a motif", "#222222", "", "o", "white"))
    keys.append(Key("motif output (concatenation)", "#222222", "", "o", "#222222"))
    panel = Panel(
        width=(xlim[1] - xlim[0]) * unit,
        height=(ylim[1] - ylim[0]) * unit,
        xlim=xlim,
        ylim=ylim,
        title="",
        paint=lambda ax: _paint_layered(ax, genotype, graph, layout, unit),
    )
    return panel, keys


def _paint_layered(
    ax: Axes, genotype: Genotype, graph: nx.DiGraph, layout: LayeredLayout, unit: float
) -> None:
    from matplotlib.patches import Circle, FancyArrowPatch

    for spine in ax.spines.values():
        spine.set_color(LIGHT_FRAME)
    scale = unit / FLAT_UNIT  # fonts and strokes shrink only with a scaled-down panel

    def place(point: tuple[float, float]) -> tuple[float, float]:
        return point[0], -point[1] * FLAT_SLOT

    radius: dict[Hashable, float] = {}
    for node, data in graph.nodes(data=True):
        x, y = place(layout.positions[node])
        if data["kind"] == "cell":
            radius[node] = NODE_RADIUS / unit
            ax.add_artist(
                Circle((x, y), radius[node], facecolor="#f0f0f0", edgecolor="#222222", lw=1.3, zorder=3)
            )
            ax.text(x, y, data["label"], ha="center", va="center", fontsize=LABEL_SIZE, zorder=4)
        else:
            radius[node] = 0.055
            face = "#222222" if data["kind"] == "concat" else "white"
            ax.add_artist(Circle((x, y), radius[node], facecolor=face, edgecolor="#222222", lw=1.1, zorder=3))

    for (source, target), route in layout.routes.items():
        data = graph.edges[source, target]
        points = [place(point) for point in route]
        # Edges leave a node on its right and enter on its left, as in a left-to-right flow chart.
        points[0] = (points[0][0] + radius[source], points[0][1])
        points[-1] = (points[-1][0] - radius[target], points[-1][1])
        if data["kind"] == "primitive":
            colour, width, style = primitive_colour(genotype, data["op"]), 1.7, "-"
        elif data["kind"] == "closing":
            colour, width, style = CLOSING_COLOUR, 2.1, "-"
        else:
            colour, width, style = DEAD_COLOUR, 1.5, ":"
        ax.add_artist(
            FancyArrowPatch(
                path=_smooth_path(points),
                arrowstyle="-|>,head_length=0.5,head_width=0.25",
                mutation_scale=11 * scale,
                color=colour,
                linewidth=width * scale,
                linestyle=style,
                zorder=2,
            )
        )
        if data["kind"] != "primitive" and data["motif"] != "cell":
            (x0, y0), (x1, y1) = points[0], points[1]
            ax.text(
                (x0 + x1) / 2,
                (y0 + y1) / 2,
                data["motif"],
                ha="center",
                va="center",
                fontsize=LABEL_SIZE - 0.5,
                color="#222222",
                fontweight="bold",
                bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.9},
                zorder=5,
            )


def _smooth_path(points: Sequence[tuple[float, float]]) -> MplPath:
    """A C¹ cubic curve through ``points`` (Catmull-Rom tangents inside, horizontal at both ends):
    a long edge glides through its dummy nodes instead of stepping at each of them."""
    tangents = []
    for k in range(len(points)):
        if k == 0 or k == len(points) - 1:
            neighbour = points[1][0] - points[0][0] if k == 0 else points[-1][0] - points[-2][0]
            tangents.append((1.5 * neighbour, 0.0))
        else:
            (xa, ya), (xb, yb) = points[k - 1], points[k + 1]
            tangents.append(((xb - xa) / 2, (yb - ya) / 2))
    verts = [points[0]]
    for k in range(len(points) - 1):
        (x0, y0), (x1, y1) = points[k], points[k + 1]
        (tx0, ty0), (tx1, ty1) = tangents[k], tangents[k + 1]
        verts += [(x0 + tx0 / 3, y0 + ty0 / 3), (x1 - tx1 / 3, y1 - ty1 / 3), (x1, y1)]
    from matplotlib.path import Path as MplPath

    codes = [MplPath.MOVETO] + [MplPath.CURVE4] * (len(verts) - 1)
    return MplPath(verts, codes)


def draw_figure(genotype: Genotype) -> Figure:
    """Every motif of every level (one panel each), then the cell flattened to primitives.
    Raises ``GenotypeTooLarge`` first for a genotype too large to draw (``motifs.size``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    check_size(genotype, drawing=True)
    used = genotype.used_motifs()
    top = len(genotype.levels) - 1

    rows: list[tuple[str, list[Panel]]] = []
    for level_index, level in enumerate(genotype.levels):
        # Every panel of a level gets the same node spacing and room for the same arcs.
        spacing, inline = node_spacing(level_labels(genotype, level_index))
        panels = []
        for m, motif in enumerate(level):
            arcs = motif_arcs(genotype, level_index, m, m in used[level_index])
            # Panels of one level share their size; the cell, alone on its level, fits its edges.
            spans = {e.dst - e.src for e in motif.edges()} if len(level) == 1 else range(1, motif.nodes)
            panels.append(arc_panel(arcs, spacing, inline, spans))
        below = "primitives" if level_index == 0 else f"level {level_index + 1} motifs"
        if level_index == top:
            heading = f"Level {level_index + 2}: the cell (its edges are {below})"
        else:
            heading = f"Level {level_index + 2}: {len(level)} motifs (their edges are {below})"
        per_row = max(1, int((MAX_WIDTH - 2 * MARGIN + GAP) // (panels[0].width + GAP)))
        # Balanced rows: 6 panels that fit 4 a row go 3 + 3, not 4 + 2.
        row_count = math.ceil(len(panels) / per_row)
        per_row = math.ceil(len(panels) / row_count)
        for start in range(0, len(panels), per_row):
            rows.append((heading if start == 0 else "", panels[start : start + per_row]))
    flat, keys = _flat_panel(genotype)
    if top == 0:
        flat_heading = "The cell flattened to primitives: its live graph and closing 1×1 convolution"
    else:
        flat_heading = "The cell flattened to primitives (every motif edge expanded; nodes concatenate)"
    rows.append((flat_heading, [flat]))

    row_widths = [sum(p.width for p in panels) + GAP * (len(panels) - 1) for _, panels in rows]
    sentences = [
        "Solid, coloured: live edge (on an input→output path).",
        "Dashed grey: dead edge or node, not built.",
    ]
    if top > 0:
        sentences.append("Grey panel: a motif the cell never uses.")
    headings = [heading for heading, _ in rows if heading]
    fig_width = 2 * MARGIN + max(
        *row_widths, *(text_width(heading, TITLE_SIZE + 1, bold=True) for heading in headings)
    )
    # The note runs on one line where the figure is wide enough, one sentence a line otherwise.
    note = "   ".join(sentences)
    if text_width(note, LABEL_SIZE, bold=False) > fig_width - 2 * MARGIN:
        note = "\n".join(sentences)
    note_space = NOTE_SPACE + 0.18 * note.count("\n")
    legend_space = 0.24 * math.ceil(len(keys) / LEGEND_COLUMNS) + 0.1 if keys else 0.0

    def row_height(heading: str, panels: list[Panel]) -> float:
        titled = any(p.title for p in panels)
        return (
            (HEADING_SPACE if heading else 0.0)
            + (TITLE_SPACE if titled else 0.0)
            + max(p.height for p in panels)
        )

    fig_height = MARGIN + note_space + sum(row_height(*row) + GAP for row in rows) + legend_space + MARGIN
    fig = Figure(figsize=(fig_width, fig_height))
    FigureCanvasAgg(fig)  # Agg for this figure only; no global matplotlib.use, no pyplot state.
    cursor = fig_height - MARGIN
    fig.text(
        MARGIN / fig_width,
        cursor / fig_height,
        note,
        ha="left",
        va="top",
        fontsize=LABEL_SIZE,
        color="#444444",
    )
    cursor -= note_space
    for (heading, panels), width in zip(rows, row_widths, strict=True):
        if heading:
            fig.text(
                MARGIN / fig_width,
                cursor / fig_height,
                heading,
                ha="left",
                va="top",
                fontsize=TITLE_SIZE + 1,
                fontweight="bold",
            )
            cursor -= HEADING_SPACE
        if any(p.title for p in panels):
            cursor -= TITLE_SPACE
        x = (fig_width - width) / 2
        for panel in panels:
            box = (
                x / fig_width,
                (cursor - panel.height) / fig_height,
                panel.width / fig_width,
                panel.height / fig_height,
            )
            ax = fig.add_axes(box)
            ax.set_xlim(*panel.xlim)
            ax.set_ylim(*panel.ylim)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            panel.paint(ax)
            x += panel.width + GAP
        cursor -= max(p.height for p in panels) + GAP

    if keys:
        handles = [
            Line2D(
                [],
                [],
                color=key.colour,
                linestyle=key.style or "none",
                linewidth=2.4,
                marker=key.marker or None,
                markerfacecolor=key.face,
                markersize=7,
            )
            for key in keys
        ]
        fig.legend(
            handles,
            [key.label for key in keys],
            loc="upper center",
            bbox_to_anchor=(0.5, (cursor + GAP * 0.6) / fig_height),
            ncols=min(LEGEND_COLUMNS, len(keys)),
            fontsize=LABEL_SIZE,
            frameon=False,
            handlelength=2.4,
            columnspacing=1.6,
        )
    return fig


def draw(genotype: Genotype, path: str | Path) -> Path:
    """Write a drawing of ``genotype``; the suffix picks the format (.svg, .png or .dot)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(
            f"{path}: cannot draw to {suffix or 'a name without suffix'}; use {', '.join(SUFFIXES)}"
        )
    if suffix == ".dot":
        path.write_text(to_dot(genotype), encoding="utf-8")
        return path
    from matplotlib import rc_context

    fig = draw_figure(genotype)
    # SVG: text stays text (smaller, searchable, editable), and neither date nor random ids, so one
    # genotype always gives the same file.
    settings = {"svg.fonttype": "none", "svg.hashsalt": "hiernas"}
    metadata = {"Date": None} if suffix == ".svg" else {}
    with rc_context(settings):
        fig.savefig(
            path,
            format=suffix[1:],
            dpi=PNG_DPI,
            metadata=metadata,
            facecolor="white",
        )
    return path
