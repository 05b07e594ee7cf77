"""Drawings of a genotype: every motif of every level, and the cell flattened down to primitives.

Liu et al. 2018 (section 2.2 and their appendix figures) show motifs as small DAGs whose edges are
operations of the level below. Here each motif is an arc diagram: nodes in index order (a
topological order) on a line, the edge i → i+1 straight, longer edges as arcs whose height grows with
their span, even spans above the line and odd spans below. Every label then has its own row (one per
span) and stands one node distance from its row neighbours, so the node distance is set from the
widest label and no two labels overlap. Live edges (on an input → output path, the only ones built)
are solid and coloured by their op; dead edges and nodes are grey and dashed; motifs the cell never
uses are greyed out and titled "(unused)". Edges of level 3 and above are coloured like the title
of the motif they name.

The flattened panel expands every live motif edge recursively into its live primitive graph, as
DESIGN.md's assembly builds it: a motif's nodes merge by concatenation and its output node is closed
by a 1×1 convolution back to the input's channels, drawn as its own black edge labelled with the
motif. With motifs to expand it is laid out in layers (``motifs.graph_layout``); a two-level
genotype's flattened cell is the cell itself plus its closing convolution, drawn as an arc diagram.
Either way its edges are coloured by primitive with a legend instead of labelled, since text on a
flattened cell's many edges would overlap.

Outputs: ``draw`` picks the format from the suffix: .svg and .png through matplotlib (an Agg
canvas attached to the figure, never pyplot or ``matplotlib.use``, so the caller's backend and
figure registry are untouched), .dot as Graphviz text with one cluster per motif per level and one
for the flattened cell, which needs no graphviz binary.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import networkx as nx

from motifs.genotype import Genotype, Motif
from motifs.graph_layout import LayeredLayout, layered_layout

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.path import Path as MplPath

SUFFIXES = (".svg", ".png", ".dot")

# Colour-blind-safe colours (Paul Tol's "vibrant" and "muted" sets) for the known primitives; grey is
# kept for what is dead or unused, black for the closing 1×1 convolutions.
PRIMITIVE_COLOURS = {
    "conv1x1": "#CC3311",
    "conv3x3": "#AA4499",
    "dwconv3x3": "#EE7733",
    "sepconv3x3": "#117733",
    "maxpool3x3": "#0077BB",
    "avgpool3x3": "#33BBEE",
    "identity": "#999933",
}
# For primitives outside the table above, and for the motifs of a level (tab10 without its grey).
FALLBACK_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#17becf",
)
CLOSING_COLOUR = "#000000"
DEAD_COLOUR = "#b4b4b4"
DEAD_TEXT = "#8c8c8c"

LIGHT_FRAME = "#d0d0d0"

# Geometry, in inches unless said otherwise. Sized for a page-wide figure (about 12 in) that stays
# legible when scaled to a paper's text width.
MAX_INLINE_SPACING = 1.25  # beyond this, straight edges are labelled under the line
MIN_SPACING = 0.9  # least distance between consecutive nodes of an arc diagram
ARC_RAD = 0.38  # matplotlib arc3 "rad": an arc of span s peaks at ARC_RAD·s/2 node distances
NODE_RADIUS = 0.155
LABEL_SIZE = 9.0  # points
TITLE_SIZE = 11.5  # points
FLAT_ARC_SPACING = 0.8  # node distance of a flattened cell drawn as an unlabelled arc diagram
FLAT_UNIT = 0.95  # inches per layer of the flattened cell
FLAT_SLOT = 0.6  # layer units between two slots of a layer
MAX_WIDTH = 13.5  # the widest the flattened cell may be before it is scaled down
MARGIN = 0.35
GAP = 0.3  # between panels
TITLE_SPACE = 0.38
HEADING_SPACE = 0.45
NOTE_SPACE = 0.45
LEGEND_COLUMNS = 4
PNG_DPI = 150


# --------------------------------------------------------------------------------------------------
# What is live, and the flattened cell


def used_motifs(genotype: Genotype) -> tuple[frozenset[int], ...]:
    """For each level, the indices of the motifs the cell reaches through live edges.

    The cell uses itself; a motif is used when a live edge of a used motif one level up names it.
    """
    used: list[set[int]] = [set() for _ in genotype.levels]
    used[-1].add(0)
    for level_index in range(len(genotype.levels) - 1, 0, -1):
        for motif_index in used[level_index]:
            for edge in genotype.levels[level_index][motif_index].live_edges():
                used[level_index - 1].add(edge.op - 1)
    return tuple(frozenset(level) for level in used)


def op_name(genotype: Genotype, level_index: int, op: int) -> str:
    """The name an edge label uses: the primitive at level 2, "motif k" (1-based) above."""
    return genotype.primitives[op - 1] if level_index == 0 else f"motif {op}"


def motif_title(genotype: Genotype, level_index: int, motif_index: int) -> str:
    if level_index == len(genotype.levels) - 1:
        return f"level {level_index + 2} · cell"
    return f"level {level_index + 2} · motif {motif_index + 1}"


def _motif_tag(genotype: Genotype, level_index: int, motif_index: int) -> str:
    """The short name a closing convolution carries in the flattened panel: "m3", or "L3 m2" when
    there are several levels of motifs below the cell."""
    if level_index == len(genotype.levels) - 1:
        return "cell"
    if len(genotype.levels) == 2:
        return f"m{motif_index + 1}"
    return f"L{level_index + 2} m{motif_index + 1}"


def flatten(genotype: Genotype) -> nx.DiGraph:
    """The cell expanded down to primitives, as the assembly builds it.

    Nodes carry ``kind``: "cell" (the cell's own live nodes, plus "out" after its closing
    convolution), "inner" (a live inner node of an expanded motif) or "concat" (an expanded
    motif's output node, which its closing convolution reads). Edges carry ``kind``:
    "primitive" (``op`` the primitive's name), "closing" (a motif's closing 1×1 convolution;
    ``motif`` its short name) or "zeros" (a motif with no input → output path, which outputs zeros).
    A plain DiGraph suffices: every pair of nodes meets through at most one edge, since a motif has one
    entry per node pair and every expansion creates fresh inner nodes.
    """
    graph = nx.DiGraph()
    top = len(genotype.levels) - 1

    def expand(level_index: int, motif_index: int, source: str, target: str, prefix: str) -> None:
        motif = genotype.levels[level_index][motif_index]
        tag = _motif_tag(genotype, level_index, motif_index)
        live = motif.live_edges()
        if not live:
            graph.add_edge(source, target, kind="zeros", op="zeros", motif=tag)
            return
        names = {0: source}
        for node in sorted({edge.dst for edge in live}):
            if level_index == top:
                names[node] = f"x{node}"
                graph.add_node(names[node], kind="cell", label=f"x{node}")
            else:
                names[node] = f"{prefix}/{node}"
                kind = "concat" if node == motif.nodes - 1 else "inner"
                graph.add_node(names[node], kind=kind, label="")
        for edge in live:
            if level_index == 0:
                graph.add_edge(
                    names[edge.src], names[edge.dst], kind="primitive", op=genotype.primitives[edge.op - 1]
                )
            else:
                child = f"{prefix}/{edge.src}-{edge.dst}"
                expand(level_index - 1, edge.op - 1, names[edge.src], names[edge.dst], child)
        graph.add_edge(names[motif.nodes - 1], target, kind="closing", op="conv1x1", motif=tag)

    graph.add_node("x0", kind="cell", label="in")
    graph.add_node("out", kind="cell", label="out")
    expand(top, 0, "x0", "out", "c")
    return graph


# --------------------------------------------------------------------------------------------------
# DOT


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_attrs(**attrs: str | float) -> str:
    return "[" + ", ".join(f"{key}={_dot_quote(str(value))}" for key, value in attrs.items()) + "]"


def primitive_colour(genotype: Genotype, name: str) -> str:
    if name in PRIMITIVE_COLOURS:
        return PRIMITIVE_COLOURS[name]
    return FALLBACK_COLOURS[genotype.primitives.index(name) % len(FALLBACK_COLOURS)]


def motif_colour(motif_index: int) -> str:
    return FALLBACK_COLOURS[motif_index % len(FALLBACK_COLOURS)]


def _edge_colour(genotype: Genotype, level_index: int, op: int) -> str:
    if level_index == 0:
        return primitive_colour(genotype, genotype.primitives[op - 1])
    return motif_colour(op - 1)


def to_dot(genotype: Genotype) -> str:
    """Graphviz DOT text: one cluster per motif per level, and one for the flattened cell."""
    used = used_motifs(genotype)
    lines = [
        "digraph genotype {",
        '  graph [rankdir=LR, fontname="Helvetica", newrank=true];',
        '  node [shape=circle, fontname="Helvetica", fontsize=10, width=0.4, fixedsize=true];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for level_index, level in enumerate(genotype.levels):
        for motif_index, motif in enumerate(level):
            lines.extend(
                _dot_motif(genotype, level_index, motif_index, motif, motif_index in used[level_index])
            )
    lines.extend(_dot_flattened(genotype))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_motif(genotype: Genotype, level_index: int, motif_index: int, motif: Motif, used: bool) -> list[str]:
    prefix = f"L{level_index + 2}_m{motif_index + 1}"
    live = set(motif.live_edges())
    live_nodes = {edge.src for edge in live} | {edge.dst for edge in live}
    title = motif_title(genotype, level_index, motif_index)
    if not live:
        title += " (no input→output path: outputs zeros)"
    cluster = {"label": title, "color": "#666666"}
    if not used:
        cluster = {
            "label": f"{title} (unused)",
            "style": "dashed",
            "color": DEAD_COLOUR,
            "fontcolor": DEAD_TEXT,
        }
    lines = [f"  subgraph {_dot_quote('cluster_' + prefix)} {{"]
    lines.extend(f"    {key}={_dot_quote(value)};" for key, value in cluster.items())
    for node in range(motif.nodes):
        label = "in" if node == 0 else "out" if node == motif.nodes - 1 else str(node)
        style: dict[str, str] = {"label": label}
        if not used or (node not in live_nodes and node not in (0, motif.nodes - 1)):
            style.update(style="dashed", color=DEAD_COLOUR, fontcolor=DEAD_TEXT)
        lines.append(f"    {_dot_quote(f'{prefix}_n{node}')} {_dot_attrs(**style)};")
    for edge in motif.edges():
        name = op_name(genotype, level_index, edge.op)
        if edge in live and used:
            colour = _edge_colour(genotype, level_index, edge.op)
            attrs = {"label": name, "color": colour, "fontcolor": colour}
        else:
            attrs = {"label": name, "style": "dashed", "color": DEAD_COLOUR, "fontcolor": DEAD_TEXT}
        src, dst = _dot_quote(f"{prefix}_n{edge.src}"), _dot_quote(f"{prefix}_n{edge.dst}")
        lines.append(f"    {src} -> {dst} {_dot_attrs(**attrs)};")
    lines.append("  }")
    return lines


def _dot_flattened(genotype: Genotype) -> list[str]:
    graph = flatten(genotype)
    ids = {node: f"F_{index}" for index, node in enumerate(graph.nodes)}
    lines = [
        f"  subgraph {_dot_quote('cluster_flattened')} {{",
        f"    label={_dot_quote('the cell flattened to primitives')};",
        '    color="#666666";',
    ]
    for node, data in graph.nodes(data=True):
        if data["kind"] == "cell":
            attrs = {"label": data["label"]}
        else:
            filled = "#333333" if data["kind"] == "concat" else "#ffffff"
            attrs = {"label": "", "width": 0.12, "style": "filled", "fillcolor": filled}
        lines.append(f"    {_dot_quote(ids[node])} {_dot_attrs(**attrs)};")
    for source, target, data in graph.edges(data=True):
        if data["kind"] == "primitive":
            colour = primitive_colour(genotype, data["op"])
            attrs = {"label": data["op"], "color": colour, "fontcolor": colour}
        elif data["kind"] == "closing":
            attrs = {"label": f"conv1x1 ({data['motif']})", "color": CLOSING_COLOUR, "penwidth": 1.6}
        else:
            attrs = {"label": f"zeros ({data['motif']})", "style": "dotted", "color": DEAD_COLOUR}
        lines.append(f"    {_dot_quote(ids[source])} -> {_dot_quote(ids[target])} {_dot_attrs(**attrs)};")
    lines.append("  }")
    return lines


# --------------------------------------------------------------------------------------------------
# matplotlib: arc diagrams of motifs, the layered flattened cell, and the figure around them


@dataclass(frozen=True, slots=True)
class _ArcEdge:
    src: int
    dst: int
    label: str
    colour: str
    live: bool
    closing: bool = False
    zeros: bool = False  # a motif without input→output path, seen from the flattened cell


@dataclass(frozen=True, slots=True)
class _Arcs:
    """An arc diagram: nodes on a line in topological order, edges as arcs above and below it."""

    title: str
    title_colour: str
    nodes: tuple[tuple[str, bool], ...]  # (label, live)
    edges: tuple[_ArcEdge, ...]
    used: bool
    note: str = ""
    labelled: bool = True  # False: edges are told apart by colour alone (and a legend)


@dataclass(frozen=True, slots=True)
class _Panel:
    """One axes: its size in inches, its data limits, an optional title and how to fill it."""

    width: float
    height: float
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    title: str
    paint: Callable[[Axes], None]


@dataclass(frozen=True, slots=True)
class _Key:
    """One legend entry."""

    label: str
    colour: str
    style: str = "-"
    marker: str = ""
    face: str = "white"


@functools.cache
def _text_width(text: str, size: float, bold: bool) -> float:
    """The width of ``text`` in inches, from the font's metrics (no renderer needed)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    prop = FontProperties(size=size, weight="bold" if bold else "normal")
    width, _, _ = text_to_path.get_text_width_height_descent(text, prop, ismath=False)
    return width / 72


def _spacing(labels: Sequence[str]) -> tuple[float, bool]:
    """Inches between consecutive nodes, and whether straight edges carry their label on the line.

    On the line reads best, but the label must then fit between two node circles with room for the
    arrowhead; with the primitives' long names that would make motif panels too wide, so their
    straight edges are labelled just under the line instead, where a label only has to clear its
    neighbours in the same row (one node distance away).
    """
    widest = max((_text_width(label, LABEL_SIZE, bold=True) for label in labels), default=0.0)
    inline = widest + 2 * NODE_RADIUS + 0.36
    if inline <= MAX_INLINE_SPACING:
        return max(MIN_SPACING, inline), True
    return max(MIN_SPACING, widest + 0.24), False


def _level_labels(genotype: Genotype, level_index: int) -> list[str]:
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


def _arc_panel(arcs: _Arcs, spacing: float, inline: bool, spans: Iterable[int]) -> _Panel:
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
    return _Panel(
        width=(xlim[1] - xlim[0]) * spacing,
        height=(ylim[1] - ylim[0]) * spacing,
        xlim=xlim,
        ylim=ylim,
        title=arcs.title,
        paint=lambda ax: _paint_arcs(ax, arcs, spacing, inline),
    )


def _paint_arcs(ax: Axes, arcs: _Arcs, spacing: float, inline: bool) -> None:
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
        # the arrowhead clear, or just under it (see _spacing).
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


def _motif_arcs(genotype: Genotype, level_index: int, motif_index: int, used: bool) -> _Arcs:
    motif = genotype.levels[level_index][motif_index]
    n = motif.nodes
    live = set(motif.live_edges())
    live_nodes = {edge.src for edge in live} | {edge.dst for edge in live} | {0, n - 1}
    top = level_index == len(genotype.levels) - 1
    title = motif_title(genotype, level_index, motif_index) + ("" if used else " (unused)")
    return _Arcs(
        title=title,
        title_colour="#222222" if top else motif_colour(motif_index),
        nodes=tuple(("in" if i == 0 else "out" if i == n - 1 else str(i), i in live_nodes) for i in range(n)),
        edges=tuple(
            _ArcEdge(
                edge.src,
                edge.dst,
                op_name(genotype, level_index, edge.op),
                _edge_colour(genotype, level_index, edge.op),
                edge in live,
            )
            for edge in motif.edges()
        ),
        used=used,
        note="" if live else "no input→output path: outputs zeros",
    )


def _flat_arcs(graph: nx.DiGraph, genotype: Genotype) -> _Arcs:
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
                _ArcEdge(
                    place[source], place[target], data["op"], primitive_colour(genotype, data["op"]), True
                )
            )
        elif data["kind"] == "closing":
            edges.append(_ArcEdge(place[source], place[target], "1×1 conv", CLOSING_COLOUR, True, True))
        else:
            edges.append(_ArcEdge(place[source], place[target], "zeros", DEAD_COLOUR, True, zeros=True))
    labels = tuple((str(graph.nodes[node]["label"]), True) for node in order)
    return _Arcs("", "#222222", labels, tuple(edges), True, labelled=False)


def _edge_keys(genotype: Genotype, graph: nx.DiGraph) -> list[_Key]:
    """Legend entries for the kinds of edge the flattened cell shows, primitives in their order."""
    kinds = {data["kind"] for _, _, data in graph.edges(data=True)}
    ops = {data["op"] for _, _, data in graph.edges(data=True) if data["kind"] == "primitive"}
    keys = [_Key(name, primitive_colour(genotype, name)) for name in genotype.primitives if name in ops]
    if "closing" in kinds:
        closing = {1: "the cell", 2: "motif k (mk)"}.get(len(genotype.levels), "level-ℓ motif k (Lℓ mk)")
        keys.append(_Key(f"closing 1×1 conv of {closing}", CLOSING_COLOUR))
    if "zeros" in kinds:
        keys.append(_Key("zeros: motif without input→output path", DEAD_COLOUR, ":"))
    return keys


def _flat_panel(genotype: Genotype) -> tuple[_Panel, list[_Key]]:
    """The flattened cell, and the legend entries it needs."""
    graph = flatten(genotype)
    if all(data["kind"] == "cell" for _, data in graph.nodes(data=True)):
        arcs = _flat_arcs(graph, genotype)
        spans = {edge.dst - edge.src for edge in arcs.edges}
        return _arc_panel(arcs, FLAT_ARC_SPACING, True, spans), _edge_keys(genotype, graph)

    layout = layered_layout(graph)
    ys = [y for route in layout.routes.values() for _, y in route]
    # One layer per unit across and slots FLAT_SLOT units apart, in inches FLAT_UNIT per unit,
    # scaled down only when a deep hierarchy would make the panel wider than a page allows.
    xlim = (-0.45, layout.layers - 1 + 0.45)
    ylim = (-max(ys) * FLAT_SLOT - 0.45, -min(ys) * FLAT_SLOT + 0.45)
    unit = min(FLAT_UNIT, (MAX_WIDTH - 2 * MARGIN) / (xlim[1] - xlim[0]))
    keys = _edge_keys(genotype, graph)
    keys.append(_Key("inner node of a motif", "#222222", "", "o", "white"))
    keys.append(_Key("motif output (concatenation)", "#222222", "", "o", "#222222"))
    panel = _Panel(
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
    """Every motif of every level (one panel each), then the cell flattened to primitives."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    used = used_motifs(genotype)
    top = len(genotype.levels) - 1

    rows: list[tuple[str, list[_Panel]]] = []
    for level_index, level in enumerate(genotype.levels):
        # Every panel of a level gets the same node spacing and room for the same arcs.
        spacing, inline = _spacing(_level_labels(genotype, level_index))
        panels = []
        for m, motif in enumerate(level):
            arcs = _motif_arcs(genotype, level_index, m, m in used[level_index])
            # Panels of one level share their size; the cell, alone on its level, fits its edges.
            spans = {e.dst - e.src for e in motif.edges()} if len(level) == 1 else range(1, motif.nodes)
            panels.append(_arc_panel(arcs, spacing, inline, spans))
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
        *row_widths, *(_text_width(heading, TITLE_SIZE + 1, bold=True) for heading in headings)
    )
    # The note runs on one line where the figure is wide enough, one sentence a line otherwise.
    note = "   ".join(sentences)
    if _text_width(note, LABEL_SIZE, bold=False) > fig_width - 2 * MARGIN:
        note = "\n".join(sentences)
    note_space = NOTE_SPACE + 0.18 * note.count("\n")
    legend_space = 0.24 * math.ceil(len(keys) / LEGEND_COLUMNS) + 0.1 if keys else 0.0

    def row_height(heading: str, panels: list[_Panel]) -> float:
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
