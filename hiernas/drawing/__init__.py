"""Drawings of a genotype (``hiernas show``, the report): every motif of every level, and the cell flattened down to primitives.

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
motif. With motifs to expand it is laid out in layers (``hiernas.drawing.layout``); a two-level
genotype's flattened cell is the cell itself plus its closing convolution, drawn as an arc diagram.
Either way its edges are coloured by primitive with a legend instead of labelled, since text on a
flattened cell's many edges would overlap.

Outputs: ``draw`` picks the format from the suffix: .svg and .png through matplotlib (an Agg
canvas attached to the figure, never pyplot or ``matplotlib.use``, so the caller's backend and
figure registry are untouched), .dot as Graphviz text with one cluster per motif per level and one
for the flattened cell, which needs no graphviz binary.

Split by concern: ``flattening`` (the cell expanded to primitives), ``layout`` (layered layout),
``arcs`` (motif panels), ``figure`` (the whole figure and ``draw``), ``dot`` (Graphviz text) and
``style`` (colours and sizes).
"""

from hiernas.drawing.dot import to_dot
from hiernas.drawing.figure import SUFFIXES, draw, draw_figure
from hiernas.drawing.flattening import flatten

__all__ = ["SUFFIXES", "draw", "draw_figure", "flatten", "to_dot"]
