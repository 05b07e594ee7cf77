"""The hierarchical genotype: plain, immutable, hashable data.

Liu et al. 2018 (arXiv 1711.00436), section 2.2: an architecture is a hierarchy of motifs; a motif
of level ℓ is a strictly upper-triangular adjacency matrix whose entry G[i][j] = k ≥ 1 applies the
k-th operation of level ℓ−1 on the edge i → j, and 0 means no edge. Node 0 is the input, node n−1 the
output, and index order is a topological order.

Nothing here validates input from outside: ``motifs.validation`` turns untrusted dicts into these
types. Code that builds genotypes itself (initialisation, mutation) keeps the invariants by
construction, which the property tests check.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

FORMAT = "hiernas-genotype/1"

Matrix = tuple[tuple[int, ...], ...]


class Edge(NamedTuple):
    """One edge of a motif: ``op`` (≥ 1) applied from node ``src`` to node ``dst``."""

    src: int
    dst: int
    op: int


@dataclass(frozen=True, slots=True)
class Motif:
    """An n × n strictly upper-triangular matrix of operation indices (0 = no edge)."""

    matrix: Matrix

    @property
    def nodes(self) -> int:
        return len(self.matrix)

    @classmethod
    def chain(cls, nodes: int, op: int) -> Motif:
        """The paper's initial motif: node i → i+1 through ``op`` for every i."""
        return cls(tuple(tuple(op if j == i + 1 else 0 for j in range(nodes)) for i in range(nodes)))

    def edges(self) -> Iterator[Edge]:
        """Every edge, live or dead, in row-major order."""
        for i, row in enumerate(self.matrix):
            for j in range(i + 1, len(row)):
                if row[j]:
                    yield Edge(i, j, row[j])

    def live_edges(self) -> tuple[Edge, ...]:
        """The edges on some path from the input node to the output node.

        Only these are built (DESIGN.md, "Assembly"); an empty result means the motif has no
        input-to-output path and outputs zeros.
        """
        n = self.nodes
        from_input = [False] * n
        from_input[0] = True
        for i in range(n):
            if from_input[i]:
                for j in range(i + 1, n):
                    if self.matrix[i][j]:
                        from_input[j] = True
        to_output = [False] * n
        to_output[n - 1] = True
        for j in range(n - 1, -1, -1):
            if to_output[j]:
                for i in range(j):
                    if self.matrix[i][j]:
                        to_output[i] = True
        if not from_input[n - 1]:
            return ()
        return tuple(e for e in self.edges() if from_input[e.src] and to_output[e.dst])

    def with_edge(self, src: int, dst: int, op: int) -> Motif:
        """A copy with G[src][dst] set to ``op``."""
        row = self.matrix[src]
        new_row = (*row[:dst], op, *row[dst + 1 :])
        return Motif((*self.matrix[:src], new_row, *self.matrix[src + 1 :]))

    def to_list(self) -> list[list[int]]:
        return [list(row) for row in self.matrix]


@dataclass(frozen=True, slots=True)
class Genotype:
    """A whole hierarchy: the primitive names and the motifs of levels 2..L.

    ``levels[k]`` holds the motifs of level k+2, exactly as in the file format; the last level holds
    one motif, the cell. At level 2 an op k ≥ 1 names ``primitives[k-1]``; above, it names motif k−1 of
    the level below.
    """

    primitives: tuple[str, ...]
    levels: tuple[tuple[Motif, ...], ...]

    @property
    def height(self) -> int:
        """L: the number of levels, counting the primitives as level 1."""
        return len(self.levels) + 1

    @property
    def cell(self) -> Motif:
        return self.levels[-1][0]

    def used_motifs(self) -> tuple[frozenset[int], ...]:
        """For each level, the indices of the motifs the cell reaches through live edges.

        The cell uses itself; a motif is used when a live edge of a used motif one level up names
        it. Only these are built (DESIGN.md, "Assembly"), drawn as used, and enter the identity.
        """
        used: list[set[int]] = [set() for _ in self.levels]
        used[-1].add(0)
        for k in range(len(self.levels) - 1, 0, -1):
            for m in used[k]:
                used[k - 1].update(edge.op - 1 for edge in self.levels[k][m].live_edges())
        return tuple(frozenset(level) for level in used)

    def op_count(self, level_index: int) -> int:
        """How many non-none operations an edge of ``levels[level_index]`` can apply."""
        if level_index == 0:
            return len(self.primitives)
        return len(self.levels[level_index - 1])

    def with_edge(self, level_index: int, motif: int, src: int, dst: int, op: int) -> Genotype:
        """A copy with G[src][dst] of motif ``motif`` in ``levels[level_index]`` set to ``op``."""
        level = self.levels[level_index]
        new_level = (*level[:motif], level[motif].with_edge(src, dst, op), *level[motif + 1 :])
        return Genotype(
            self.primitives,
            (*self.levels[:level_index], new_level, *self.levels[level_index + 1 :]),
        )

    def to_dict(self) -> dict[str, Any]:
        """The DESIGN.md interchange format (``hiernas-genotype/1``)."""
        return {
            "format": FORMAT,
            "primitives": list(self.primitives),
            "levels": [{"motifs": [m.to_list() for m in level]} for level in self.levels],
        }

    @classmethod
    def from_dict(cls, data: Any, *, registered_only: bool = True) -> Genotype:
        """Parse and validate the interchange format; raises ``GenotypeError`` naming the fault.

        ``registered_only=False`` accepts primitive names nobody registered in this process, for
        readers that never build a network (a report of a run that used a plug-in's primitives).
        """
        from motifs.validation import parse_genotype

        return parse_genotype(data, registered_only=registered_only)
