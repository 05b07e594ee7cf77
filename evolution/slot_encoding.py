"""Slot encoding: one categorical variable per edge position of the hierarchy, written so that every
way of writing one network gives the same codes.

The Gaussian-process predictor (evolution/gaussian_process.py) measures how far two networks are
apart edge position by edge position and learns how much each position matters. That needs the
positions to mean the same thing across networks, which the path encoding's path counts do not
give, and it needs isomorphic genotypes to get equal codes (equal predictions). So each genotype is
first written in a normal form:

- dead edges (off every input → output path) and motifs the cell never uses are set to none;
- a level's ops name primitives by their sorted name and motifs by their rank in that level's sorted
  list of distinct normal-form motifs (so the order of the primitive list and of a level's motifs,
  and a motif listed twice, do not matter);
- each motif's live nodes are renumbered in a topological order that depends only on the motif's
  canonical form (motifs.canonical: ties between nodes whose inputs are all placed go to the least
  canonical number), so isomorphic motifs get one matrix, and a motif whose node order is forced
  by its edges keeps its own numbering; nodes off every path come after the live ones.

The codes are the op numbers of every (level, motif, i < j) position, level by level, with a
level's used motifs in sorted order and the unused positions zero; memoised per motif.
"""

from __future__ import annotations

import heapq
from functools import lru_cache

import numpy as np

from motifs import Genotype, Motif
from motifs.canonical import canonical_dag

Matrix = tuple[tuple[int, ...], ...]


def slot_codes(genotype: Genotype) -> np.ndarray:
    """The genotype's codes: a vector of op numbers (0 = none), one per edge position."""
    return np.asarray(_codes(genotype), dtype=np.int16)


@lru_cache(maxsize=65536)
def _codes(genotype: Genotype) -> tuple[int, ...]:
    used = genotype.used_motifs()
    # Level 2's ops name primitives: renumber them by sorted name.
    names = sorted(genotype.primitives)
    relabel = [0, *(names.index(name) + 1 for name in genotype.primitives)]
    codes: list[int] = []
    for level_index, level in enumerate(genotype.levels):
        normal = {m: _normal_matrix(level[m], tuple(relabel)) for m in used[level_index]}
        table = sorted(set(normal.values()))
        for matrix in table:
            codes.extend(matrix[i][j] for i in range(len(matrix)) for j in range(i + 1, len(matrix)))
        for m in range(len(level) - len(table)):  # unused (or repeated) motifs: all none
            nodes = level[m].nodes
            codes.extend([0] * (nodes * (nodes - 1) // 2))
        # The next level's ops name this level's motifs: by their rank in the sorted table.
        rank = {matrix: k + 1 for k, matrix in enumerate(table)}
        relabel = [0, *(rank.get(normal.get(m), 0) for m in range(len(level)))]
    return tuple(codes)


@lru_cache(maxsize=65536)
def _normal_matrix(motif: Motif, relabel: tuple[int, ...]) -> Matrix:
    """The motif's live edges with relabelled ops, its nodes in the canonical topological order."""
    n = motif.nodes
    live = motif.live_edges()
    if not live:
        return tuple((0,) * n for _ in range(n))
    nodes = sorted({e.src for e in live} | {e.dst for e in live})
    number = {node: k for k, node in enumerate(nodes)}
    # Labels as fixed-width text: canonical_dag ranks labels by their sorted order.
    edges = canonical_dag(len(nodes), [(number[e.src], number[e.dst], f"{relabel[e.op]:06d}") for e in live])
    # Kahn's algorithm, taking the least canonical number among the nodes whose inputs are placed:
    # a numbering that keeps the matrix upper triangular and depends on the canonical form only.
    waiting = [0] * len(nodes)
    for _, dst, _ in edges:
        waiting[dst] += 1
    ready, order = [0], []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for src, dst, _ in edges:
            if src == node:
                waiting[dst] -= 1
                if not waiting[dst]:
                    heapq.heappush(ready, dst)
    # Live inner nodes first, the output last, nodes off every path in between (all none).
    position = {node: k for k, node in enumerate(order)}
    position[order[-1]] = n - 1
    rows = [[0] * n for _ in range(n)]
    for src, dst, label in edges:
        rows[position[src]][position[dst]] = int(label)
    return tuple(tuple(row) for row in rows)
