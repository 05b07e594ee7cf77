"""Arc diagrams: a motif's nodes on a line in index order, its edges as labelled arcs (see
``hiernas.drawing``), and the panel and legend types the figure is assembled from."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import networkx as nx

from hiernas.drawing.style import (
    ARC_RAD,
    CLOSING_COLOUR,
    DEAD_COLOUR,
    DEAD_TEXT,
    LABEL_SIZE,
    LIGHT_FRAME,
    MAX_INLINE_SPACING,
    MIN_SPACING,
    NODE_RADIUS,
    TITLE_SIZE,
    edge_colour,
    motif_colour,
    motif_title,
    op_name,
    primitive_colour,
)
from motifs.genotype import Genotype

if TYPE_CHECKING:
    from matplotlib.axes import Axes


@dataclass(frozen=True, slots=True)
class ArcEdge:
    src: int
    dst: int
    label: str
    colour: str
    live: bool
    closing: bool = False
    zeros: bool = False  # a motif without input→output path, seen from the flattened cell


@dataclass(frozen=True, slots=True)
class Arcs:
    """An arc diagram: nodes on a line in topological order, edges as arcs above and below it."""

    title: str
    title_colour: str
    nodes: tuple[tuple[str, bool], ...]  # (label, live)
    edges: tuple[ArcEdge, ...]
    used: bool
    note: str = ""
    labelled: bool = True  # False: edges are told apart by colour alone (and a legend)


@dataclass(frozen=True, slots=True)
class Panel:
    """One axes: its size in inches, its data limits, an optional title and how to fill it."""

    width: float
    height: float
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    title: str
    paint: Callable[[Axes], None]


@dataclass(frozen=True, slots=True)
class Key:
    """One legend entry."""

    label: str
    colour: str
    style: str = "-"
    marker: str = ""
    face: str = "white"


@functools.cache
def text_width(text: str, size: float, bold: bool) -> float:
    """The width of ``text`` in inches, from the font's metrics (no renderer needed)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    prop = FontProperties(size=size, weight="bold" if bold else "normal")
    width, _, _ = text_to_path.get_text_width_height_descent(text, prop, ismath=False)
    return width / 72


def node_spacing(labels: Sequence[str]) -> tuple[float, bool]:
    """Inches between consecutive nodes, and whether straight edges carry their label on the line.

    On the line reads best, but the label must then fit between two node circles with room for the
    arrowhead; with the primitives' long names that would make motif panels too wide, so their
    straight edges are labelled just under the line instead, where a label only has to clear its
    neighbours in the same row (one node distance away).
    """
    widest = max((text_width(label, LABEL_SIZE, bold=True) for label in labels), default=0.0)
    inline = widest + 2 * NODE_RADIUS + 0.36
    if inline <= MAX_INLINE_SPACING:
        return max(MIN_SPACING, inline), True
    return max(MIN_SPACING, widest + 0.24), False


def level_labels(genotype: Genotype, level_index: int) -> list[str]:
    """Every label an edge of this level can carry."""
    if level_index == 0:
        return list(genotype.primitives)
    return [op_name(genotype, level_index, k) for k in range(1, genotype.op_count(level_index) + 1)]


def _arc_rad(span: int) -> float:
    """arc3's rad for an edge of ``span``: straight between neighbours, then even spans above the
    line (a negative rad bends a left-to-right arc upwards) and odd spans below, so that two spans
    on one side differ by 2 and their labels by a whole ARC_RAD in height."""
    if span == 1:
        return 0.0
    return -ARC_RAD if span % 2 == 0 else ARC_RAD


def _straight_label_depth(spacing: float) -> float:
    """How far below the node line (in node distances) the labels of straight edges sit: just under
    the circles, so that a label may be as wide as a node distance without covering a node."""
    return (NODE_RADIUS + 0.13) / spacing


def arc_panel(arcs: Arcs, spacing: float, inline: bool, spans: Iterable[int]) -> Panel:
    """``spacing``: inches per node distance (the data unit); ``inline``: straight edges' labels on
    the line rather than under it. ``spans``: the edge spans the panel makes room for: every
    possible one where the panels of a level must share their size, the present ones otherwise."""
    n = len(arcs.nodes)
    spans = set(spans)
    above = max((ARC_RAD * s / 2 for s in spans if s % 2 == 0), default=0.0)
    below = max((ARC_RAD * s / 2 for s in spans if s % 2 == 1), default=0.0)
    radius = NODE_RADIUS / spacing
    label_half = 0.14 / spacing  # half a label's height
    pad = 0.12 / spacing
    if arcs.labelled and not inline:
        below = max(below, _straight_label_depth(spacing))
    xlim = (-radius - 0.12, n - 1 + radius + 0.12)
    ylim = (-max(below + label_half, radius) - pad, max(above + label_half, radius) + pad)
    if arcs.note:
        ylim = (ylim[0] - 0.3 / spacing, ylim[1])
    return Panel(
        width=(xlim[1] - xlim[0]) * spacing,
        height=(ylim[1] - ylim[0]) * spacing,
        xlim=xlim,
        ylim=ylim,
        title=arcs.title,
        paint=lambda ax: paint_arcs(ax, arcs, spacing, inline),
    )


def paint_arcs(ax: Axes, arcs: Arcs, spacing: float, inline: bool) -> None:
    from matplotlib.patches import Circle, FancyArrowPatch

    radius = NODE_RADIUS / spacing
    if arcs.title:
        colour = arcs.title_colour if arcs.used else DEAD_TEXT
        ax.set_title(arcs.title, fontsize=TITLE_SIZE, color=colour, fontweight="bold", pad=5)
    for spine in ax.spines.values():
        spine.set_color(LIGHT_FRAME if arcs.used else DEAD_COLOUR)
        spine.set_linestyle("-" if arcs.used else "--")
    if arcs.note:
        ax.text(
            (len(arcs.nodes) - 1) / 2,
            ax.get_ylim()[0] + 0.08 / spacing,
            arcs.note,
            ha="center",
            va="bottom",
            fontsize=LABEL_SIZE - 0.5,
            color="#444444" if arcs.used else DEAD_TEXT,
            style="italic",
        )

    for x, (label, live) in enumerate(arcs.nodes):
        live = live and arcs.used
        circle = Circle(
            (x, 0.0),
            radius,
            facecolor="#f0f0f0" if live else "white",
            edgecolor="#333333" if live else DEAD_COLOUR,
            linestyle="-" if live else "--",
            linewidth=1.2,
            zorder=3,
        )
        ax.add_artist(circle)
        ax.text(
            x,
            0.0,
            label,
            ha="center",
            va="center",
            fontsize=LABEL_SIZE,
            color="#222222" if live else DEAD_TEXT,
            zorder=4,
        )

    # Dead edges first and long arcs before short ones, so that what is built is drawn on top.
    for edge in sorted(arcs.edges, key=lambda e: (e.live, -(e.dst - e.src))):
        live = edge.live and arcs.used
        colour = edge.colour if live else DEAD_COLOUR
        span = edge.dst - edge.src
        rad = _arc_rad(span)
        ax.add_artist(
            FancyArrowPatch(
                (edge.src, 0.0),
                (edge.dst, 0.0),
                connectionstyle=f"arc3,rad={rad}",
                arrowstyle="-|>,head_length=0.55,head_width=0.28",
                mutation_scale=12,
                # Shrinking by the node radius clips at the circles exactly (a circle around each
                # end), and is far cheaper than clipping against the circle patches.
                shrinkA=NODE_RADIUS * 72 + 0.5,
                shrinkB=NODE_RADIUS * 72 + 0.5,
                color=colour,
                linewidth=(2.4 if edge.closing else 1.8) if live else 1.1,
                linestyle=":" if edge.zeros else "-" if live else (0, (4, 3)),
                zorder=2 if live else 1,
            )
        )
        if not arcs.labelled:
            continue
        # An arc's label sits on its apex: arc3 draws a quadratic Bézier whose apex lies rad·span/2
        # off the chord. A straight edge's label sits on it, a little towards its source to leave
        # the arrowhead clear, or just under it (see node_spacing).
        if span > 1:
            x, y = (edge.src + edge.dst) / 2, -rad * span / 2
        elif inline:
            x, y = (edge.src + edge.dst) / 2 - 0.04 / spacing, 0.0
        else:
            x, y = (edge.src + edge.dst) / 2, -_straight_label_depth(spacing)
        ax.text(
            x,
            y,
            edge.label,
            ha="center",
            va="center",
            fontsize=LABEL_SIZE,
            color=colour if live else DEAD_TEXT,
            fontweight="bold" if live else "normal",
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.92},
            zorder=6 if live else 5,
        )


def motif_arcs(genotype: Genotype, level_index: int, motif_index: int, used: bool) -> Arcs:
    motif = genotype.levels[level_index][motif_index]
    n = motif.nodes
    live = set(motif.live_edges())
    live_nodes = {edge.src for edge in live} | {edge.dst for edge in live} | {0, n - 1}
    top = level_index == len(genotype.levels) - 1
    title = motif_title(genotype, level_index, motif_index) + ("" if used else " (unused)")
    return Arcs(
        title=title,
        title_colour="#222222" if top else motif_colour(motif_index),
        nodes=tuple(("in" if i == 0 else "out" if i == n - 1 else str(i), i in live_nodes) for i in range(n)),
        edges=tuple(
            ArcEdge(
                edge.src,
                edge.dst,
                op_name(genotype, level_index, edge.op),
                edge_colour(genotype, level_index, edge.op),
                edge in live,
            )
            for edge in motif.edges()
        ),
        used=used,
        note="" if live else "no input→output path: outputs zeros",
    )


def flat_arcs(graph: nx.DiGraph, genotype: Genotype) -> Arcs:
    """The flattened cell of a two-level genotype, where nothing is expanded: the cell's live graph
    and its closing convolution, as an arc diagram (a layered layout of a dense 11-node motif is a
    tangle of long edges)."""
    order = list(nx.topological_sort(graph))
    # x0, x1, ... keep their index order; "out" (after the closing convolution) comes last.
    order.sort(key=lambda node: (node == "out", int(node[1:]) if node != "out" else 0))
    place = {node: index for index, node in enumerate(order)}
    edges = []
    for source, target, data in graph.edges(data=True):
        if data["kind"] == "primitive":
            edges.append(
                ArcEdge(
                    place[source], place[target], data["op"], primitive_colour(genotype, data["op"]), True
                )
            )
        elif data["kind"] == "closing":
            edges.append(ArcEdge(place[source], place[target], "1×1 conv", CLOSING_COLOUR, True, True))
        else:
            edges.append(ArcEdge(place[source], place[target], "zeros", DEAD_COLOUR, True, zeros=True))
    labels = tuple((str(graph.nodes[node]["label"]), True) for node in order)
    return Arcs("", "#222222", labels, tuple(edges), True, labelled=False)
