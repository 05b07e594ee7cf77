"""Every genotype of a small space, for strategies that can score a whole space at once.

A space's genotypes are all assignments of an op (or none) to every edge position of every motif:
Π over levels of (ops + 1) ^ (motifs · nodes·(nodes−1)/2). NAS-Bench-201's cell has 5^6 = 15,625;
the paper's hierarchical space has about 10^40, so only small spaces are ever listed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from motifs.genotype import Genotype, Motif
from motifs.space import Space


def space_size(space: Space) -> int:
    """How many genotypes (matrices, not distinct networks) the space holds."""
    size = 1
    for ops, motifs, nodes in _levels(space):
        size *= (ops + 1) ** (motifs * nodes * (nodes - 1) // 2)  # + 1: no edge
    return size


def all_genotypes(space: Space) -> Iterator[Genotype]:
    """Every genotype of ``space``, in a fixed order (the last position varying fastest)."""
    per_level: list[list[tuple[Motif, ...]]] = []
    for ops, motifs, nodes in _levels(space):
        edges = [(i, j) for i in range(nodes) for j in range(i + 1, nodes)]
        single = [
            _motif(nodes, edges, choice) for choice in itertools.product(range(ops + 1), repeat=len(edges))
        ]
        per_level.append(list(itertools.product(single, repeat=motifs)))
    for levels in itertools.product(*per_level):
        yield Genotype(space.primitives, tuple(levels))


def _levels(space: Space) -> list[tuple[int, int, int]]:
    """Per level: the ops an edge can apply (primitives at level 2, the motifs below above it), the
    level's motifs and their nodes."""
    ops = (len(space.primitives), *space.motifs[:-1])
    return list(zip(ops, space.motifs, space.nodes, strict=True))


def _motif(nodes: int, edges: list[tuple[int, int]], ops: tuple[int, ...]) -> Motif:
    matrix = [[0] * nodes for _ in range(nodes)]
    for (i, j), op in zip(edges, ops, strict=True):
        matrix[i][j] = op
    return Motif(tuple(tuple(row) for row in matrix))
