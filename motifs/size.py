"""How big a genotype is once expanded, counted through the hierarchy without expanding it.

A motif edge of level ℓ ≥ 3 stands for a whole instance of a motif of level ℓ−1 (Liu et al. 2018,
section 2.2), so a file of a few hundred bytes with many levels can stand for billions of
primitives; and with concatenation merges (section 2.3) a dense motif's nodes double in width from
one to the next. Both are counted here per motif, once, bottom-up: the flattened cell's primitive
edges and nodes (as ``hiernas.drawing.flatten`` and the assembly build them), how many times
wider than its input or the stage width C a tensor can become, and how wide all the primitives'
inputs are together (their weights and work grow with it). Commands check these against limits
before they build or draw anything, since what exceeds them would exhaust memory.

The width bound: with w = C = 1, a node's width is an integer n ≥ 1 (a primitive gives 1 or its
source's width, a motif its input's, a node the sum of its in-edges). A lower motif instance fed
from a node n wide has inner widths α·n + β ≤ n·(α + β), so ``n × the child's own bound`` bounds
them. This is exact for the cell and an upper bound below it; "sum" merges are never wider.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from motifs.genotype import Genotype, Motif
from motifs.primitives import PRIMITIVES
from motifs.space import Space
from motifs.validation import GenotypeError


class GenotypeTooLarge(GenotypeError):
    """A genotype whose expanded network is beyond the configured limits."""


@dataclass(frozen=True, slots=True)
class Expansion:
    """The flattened cell's size: primitive edges, nodes (the cell's, its output, and every live
    node of every expanded motif instance), the width factor bound (module docstring), and the
    width read: the sum of every primitive edge's input width factor. A primitive's weights and
    work grow with its input's width, so this bounds the network's size per unit of C."""

    primitive_edges: int
    nodes: int
    width_factor: int
    width_read: int


@dataclass(frozen=True, slots=True)
class Limits:
    """The largest expansion commands accept. Override with the environment variables named in
    ``ENVIRONMENT`` (e.g. ``HIERNAS_MAX_PRIMITIVE_EDGES=200000``)."""

    primitive_edges: int = 20_000
    nodes: int = 20_000
    width_factor: int = 4096
    width_read: int = 100_000
    # A drawing labels every edge of every motif and draws every flattened one; about 1,000
    # take a minute to lay out and render.
    drawn_edges: int = 1000

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Limits:
        environ = os.environ if environ is None else environ
        values = {}
        for field, variable in ENVIRONMENT.items():
            text = environ.get(variable)
            if text is None:
                continue
            try:
                value = int(text)
            except ValueError:
                value = 0
            if value < 1:
                raise GenotypeError(f"{variable}: expected a positive integer, got {text!r}")
            values[field] = value
        return cls(**values)


ENVIRONMENT = {
    "primitive_edges": "HIERNAS_MAX_PRIMITIVE_EDGES",
    "nodes": "HIERNAS_MAX_NODES",
    "width_factor": "HIERNAS_MAX_WIDTH_FACTOR",
    "width_read": "HIERNAS_MAX_WIDTH_READ",
    "drawn_edges": "HIERNAS_MAX_DRAWN_EDGES",
}


def expansion(genotype: Genotype) -> Expansion:
    """Count the flattened cell in O(live edges of the genotype), never building it."""

    @cache
    def count(level_index: int, motif_index: int) -> tuple[int, int, int, int]:
        """(primitive edges, nodes created, width factor, width read) of one instance of a motif;
        the nodes created exclude the instance's source and target, which belong to the level
        above."""
        motif = genotype.levels[level_index][motif_index]
        live = motif.live_edges()
        if not live:
            return 0, 0, 1, 0
        widths = [0] * motif.nodes
        widths[0] = 1
        edges, nodes, factor, read = 0, 0, 1, 0
        for edge in sorted(live, key=lambda e: (e.dst, e.src)):
            source = widths[edge.src]
            if level_index == 0:
                edges, read = edges + 1, read + source
                primitive = PRIMITIVES.get(genotype.primitives[edge.op - 1])
                widths[edge.dst] += 1 if primitive is not None and primitive.to_stage_width else source
            else:
                child_edges, child_nodes, child_factor, child_read = count(level_index - 1, edge.op - 1)
                edges, nodes, read = edges + child_edges, nodes + child_nodes, read + source * child_read
                factor = max(factor, source * child_factor)
                widths[edge.dst] += source
        nodes += len({edge.dst for edge in live})
        return edges, nodes, max(factor, *widths), read

    edges, nodes, factor, read = count(len(genotype.levels) - 1, 0)
    # The cell's input node and the output after its closing convolution.
    return Expansion(edges, nodes + 2, factor, read)


def check_size(genotype: Genotype, limits: Limits | None = None, *, drawing: bool = False) -> Expansion:
    """Raise ``GenotypeTooLarge`` (one line, naming the limit and how to raise it) when the
    expansion exceeds ``limits`` (default: ``Limits.from_environment()``); with ``drawing``, also
    when a drawing would show more than ``limits.drawn_edges`` edges."""
    limits = Limits.from_environment() if limits is None else limits
    size = expansion(genotype)
    checks = [
        ("primitive_edges", size.primitive_edges, "its cell expands to {} primitive edges"),
        ("nodes", size.nodes, "its cell expands to {} nodes"),
        ("width_factor", size.width_factor, "a tensor can be {} times its input or stage width"),
        ("width_read", size.width_read, "its primitives read {} times the stage width in all"),
    ]
    if drawing:
        panels = sum(len(tuple(motif.edges())) for level in genotype.levels for motif in level)
        checks.append(("drawn_edges", panels + size.primitive_edges, "a drawing would show {} edges"))
    for field, value, what in checks:
        limit = getattr(limits, field)
        if value > limit:
            shown = f"{value:,}" if value < 10**15 else f"about 10^{len(str(value)) - 1}"
            raise GenotypeTooLarge(
                f"genotype too large: {what.format(shown)}, more than the limit "
                f"{limit:,} (set {ENVIRONMENT[field]} to allow more)"
            )
    return size


def densest(space: Space) -> Genotype:
    """The space's largest genotype: every motif fully connected by identities (level 2) and
    motif 1 (above). No genotype of the space expands to more edges, nodes or width."""
    identity = space.primitives.index("identity") + 1
    levels = []
    for k, (count, nodes) in enumerate(zip(space.motifs, space.nodes, strict=True)):
        op = identity if k == 0 else 1
        matrix = tuple(tuple(op if j > i else 0 for j in range(nodes)) for i in range(nodes))
        levels.append(tuple(Motif(matrix) for _ in range(count)))
    return Genotype(space.primitives, tuple(levels))
