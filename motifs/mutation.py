"""Mutation and the paper's random initialisation.

Liu et al. 2018, section 3.1: pick a level ℓ ≥ 2, a motif of that level, a node pair i < j, and a new
op for G[i][j] drawn uniformly from the ops of level ℓ−1 and none, other than the current one. From
none this adds an edge, to none it removes one, otherwise it alters one. Initialisation is an
identity chain diversified by a large number of such mutations (1000 in the paper).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any, Literal

from motifs.genotype import Genotype
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


def mutate(genotype: Genotype, rng: random.Random) -> tuple[Genotype, Mutation]:
    """One uniform random mutation; returns the new genotype and what changed."""
    level_index = rng.randrange(len(genotype.levels))
    level = genotype.levels[level_index]
    motif_index = rng.randrange(len(level))
    n = level[motif_index].nodes
    # Uniform over the n(n-1)/2 pairs i < j: draw an index into the upper triangle.
    pair = rng.randrange(n * (n - 1) // 2)
    i = 0
    while pair >= n - 1 - i:
        pair -= n - 1 - i
        i += 1
    j = i + 1 + pair
    old = level[motif_index].matrix[i][j]
    # Uniform over {0..K} \ {old}: draw from K values and skip over the current one.
    new = rng.randrange(genotype.op_count(level_index))
    if new >= old:
        new += 1
    record = Mutation(level_index + 2, motif_index, i, j, old, new)
    return genotype.with_edge(level_index, motif_index, i, j, new), record


def sample(space: Space, rng: random.Random, mutations: int = 1000) -> Genotype:
    """An initial individual: the identity-chain genotype after ``mutations`` random mutations."""
    genotype = space.initial()
    for _ in range(mutations):
        genotype, _ = mutate(genotype, rng)
    return genotype
