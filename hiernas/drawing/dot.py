"""Graphviz DOT text of a genotype: one cluster per motif per level and one for the flattened cell.
Plain text, so no graphviz binary is needed to write it."""

from __future__ import annotations

from hiernas.drawing.flattening import flatten
from hiernas.drawing.style import (
    CLOSING_COLOUR,
    DEAD_COLOUR,
    DEAD_TEXT,
    edge_colour,
    motif_title,
    op_name,
    primitive_colour,
)
from motifs.genotype import Genotype, Motif
from motifs.size import check_size

# DOT


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_attrs(**attrs: str | float) -> str:
    return "[" + ", ".join(f"{key}={_dot_quote(str(value))}" for key, value in attrs.items()) + "]"


def to_dot(genotype: Genotype) -> str:
    """Graphviz DOT text: one cluster per motif per level, and one for the flattened cell.
    Raises ``GenotypeTooLarge`` first for a genotype too large to draw (``motifs.size``)."""
    check_size(genotype, drawing=True)
    used = genotype.used_motifs()
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
            colour = edge_colour(genotype, level_index, edge.op)
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
