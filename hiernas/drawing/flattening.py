"""The cell expanded down to primitives, as the assembly builds it (a networkx graph)."""

from __future__ import annotations

import networkx as nx

from hiernas.drawing.style import motif_tag
from motifs.genotype import Genotype


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
        tag = motif_tag(genotype, level_index, motif_index)
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
