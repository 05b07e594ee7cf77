"""Mutation and the paper's random initialisation.

Liu et al. 2018, section 3.1: pick a level ℓ ≥ 2, a motif of that level, a node pair i < j, and a new
op for G[i][j] drawn uniformly from the ops of level ℓ−1 and none, other than the current one. From
none this adds an edge, to none it removes one, otherwise it alters one. Initialisation is an
identity chain diversified by a large number of such mutations (1000 in the paper).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from motifs.genotype import Genotype, Motif
from motifs.space import Space

MutationKind = Literal["add", "alter", "remove"]


@dataclass(frozen=True, slots=True)
class Mutation:
    """What one mutation changed. ``level`` is the paper's level number (≥ 2), ``motif`` a 0-based
    index into that level; G[i][j] went from ``old`` to ``new``."""

    level: int
    motif: int
    i: int
    j: int
    old: int
    new: int

    @property
    def kind(self) -> MutationKind:
        if self.old == 0:
            return "add"
        if self.new == 0:
            return "remove"
        return "alter"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "kind": self.kind}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Mutation:
        return cls(*(int(data[k]) for k in ("level", "motif", "i", "j", "old", "new")))


Draw = tuple[int, int, int, int, int, int]  # level index, motif, i, j, old op, new op


def _draw(
    rng: random.Random,
    shape: tuple[list[int], list[int], list[int]],
    matrices: Sequence[Sequence[Sequence[Sequence[int]]]],
) -> Draw:
    """One mutation's random choices, in a fixed order (the order is part of the seeded contract).

    ``int(random() * n)`` is uniform over 0..n-1 up to a bias of n / 2**53, and four times cheaper
    than ``randrange``; sampling an initial individual makes thousands of these draws.
    """
    level_sizes, node_counts, op_counts = shape
    uniform = rng.random
    k = int(uniform() * len(level_sizes))
    m = int(uniform() * level_sizes[k])
    n = node_counts[k]
    # Uniform over the n(n-1)/2 pairs i < j: draw an index into the upper triangle.
    pair = int(uniform() * (n * (n - 1) // 2))
    i = 0
    while pair >= n - 1 - i:
        pair -= n - 1 - i
        i += 1
    j = i + 1 + pair
    old = matrices[k][m][i][j]
    # Uniform over {0..K} \ {old}: draw from K values and skip over the current one.
    new = int(uniform() * op_counts[k])
    if new >= old:
        new += 1
    return k, m, i, j, old, new


def _shape(genotype: Genotype) -> tuple[list[int], list[int], list[int]]:
    levels = range(len(genotype.levels))
    return (
        [len(genotype.levels[k]) for k in levels],
        [genotype.levels[k][0].nodes for k in levels],
        [genotype.op_count(k) for k in levels],
    )


def mutate(genotype: Genotype, rng: random.Random) -> tuple[Genotype, Mutation]:
    """One uniform random mutation; returns the new genotype and what changed."""
    matrices = [[motif.matrix for motif in level] for level in genotype.levels]
    k, m, i, j, old, new = _draw(rng, _shape(genotype), matrices)
    return genotype.with_edge(k, m, i, j, new), Mutation(k + 2, m, i, j, old, new)


def sample(space: Space, rng: random.Random, mutations: int = 1000) -> Genotype:
    """An initial individual: the identity-chain genotype after ``mutations`` random mutations.

    The same draws as ``mutations`` calls of ``mutate``, applied to plain lists in place rather than
    building a frozen genotype per step: random search pays for this on every proposal.
    """
    start = space.initial()
    matrices = [[[list(row) for row in motif.matrix] for motif in level] for level in start.levels]
    shape = _shape(start)
    for _ in range(mutations):
        k, m, i, j, _old, new = _draw(rng, shape, matrices)
        matrices[k][m][i][j] = new
    return Genotype(
        start.primitives,
        tuple(tuple(Motif(tuple(tuple(row) for row in matrix)) for matrix in level) for level in matrices),
    )
