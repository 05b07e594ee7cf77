"""Path encoding of the network a genotype builds (BANANAS, White et al. 2021, section 4.1).

A network is described by the multiset of its input → output paths, each written as the sequence
of primitive names along it. The hierarchical space is flattened first: a live edge that applies a
lower-level motif stands for every input → output path of that motif, so a path of the cell expands
into the concatenations of its edges' paths. Only live edges and used motifs can lie on such a path,
so dead edges, unused motifs, the numbering of nodes and the order of motifs and primitives never
change the encoding: isomorphic networks (motifs.canonical) always get the same vector.

Why paths rather than the flattened adjacency matrix: a matrix depends on the node numbering (an
isomorphism-invariant matrix would need the canonical ordering and still mixes dead structure into
fixed slots), and BANANAS found the path encoding the best of the encodings it compared for
predictor-guided search on NAS-Bench-101/201 with few training points.

The vector has a fixed width. Its first half indexes short paths exactly (every sequence of length
up to the longest that still fits, over the sorted primitive names); longer paths are hashed
(SHA-256, stable across processes) into the second half. NB201 (4 primitives, paths of at most 3
edges: 84 sequences) is encoded without any collision. Entries are path counts.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from motifs import Genotype, Motif

WIDTH = 512
# A path longer than this (the hierarchical preset's longest is 3 × 4 = 12 primitives) is recorded
# by its first MAX_LENGTH primitives, which bounds the enumeration on deep custom spaces.
MAX_LENGTH = 16

Paths = tuple[tuple[tuple[str, ...], int], ...]  # (sequence, count), sorted: hashable for caching


def paths(genotype: Genotype) -> Counter[tuple[str, ...]]:
    """The input → output paths of the flattened live network, as primitive-name sequences."""
    used = genotype.used_motifs()
    below: list[Paths] = [(((name,), 1),) for name in genotype.primitives]
    for level_index, level in enumerate(genotype.levels):
        empty: Paths = ()
        below = [
            _motif_paths(level[m], tuple(below)) if m in used[level_index] else empty
            for m in range(len(level))
        ]
    return Counter(dict(below[0]))


@lru_cache(maxsize=65536)
def _motif_paths(motif: Motif, below: tuple[Paths, ...]) -> Paths:
    """Paths of one motif whose edge op k stands for the paths ``below[k-1]``. Memoised: a mutation
    changes one motif, so a child shares every other motif's paths with its parent."""
    reaching: list[Counter[tuple[str, ...]]] = [Counter() for _ in range(motif.nodes)]
    reaching[0][()] = 1
    for edge in motif.live_edges():  # row-major: every edge into a node comes after its source's
        source, target = reaching[edge.src], reaching[edge.dst]
        for prefix, count in source.items():
            for suffix, times in below[edge.op - 1]:
                target[(prefix + suffix)[:MAX_LENGTH]] += count * times
    return tuple(sorted(reaching[-1].items()))


class PathEncoder:
    """Fixed-width path-count vectors for the genotypes of one space (``primitives``: its names)."""

    def __init__(self, primitives: Sequence[str], width: int = WIDTH) -> None:
        self.names = sorted(set(primitives))
        self.width, half = width, width // 2
        self.exact_length, total = 0, 0
        while total + len(self.names) ** (self.exact_length + 1) <= half:
            self.exact_length += 1
            total += len(self.names) ** self.exact_length
        self._digit = {name: k for k, name in enumerate(self.names)}
        self._slots: dict[tuple[str, ...], int] = {}

    def index(self, sequence: tuple[str, ...]) -> int:
        """The slot of one path: exact for short paths of known primitives, hashed otherwise."""
        slot = self._slots.get(sequence)
        if slot is None:
            slot = self._slots[sequence] = self._index(sequence)
        return slot

    def _index(self, sequence: tuple[str, ...]) -> int:
        if len(sequence) <= self.exact_length and all(name in self._digit for name in sequence):
            base = len(self.names)
            number = 0
            for name in sequence:
                number = number * base + self._digit[name]
            return sum(base**length for length in range(1, len(sequence))) + number
        digest = hashlib.sha256("\x1f".join(sequence).encode()).digest()
        half = self.width // 2
        return half + int.from_bytes(digest[:8], "big") % (self.width - half)

    def encode(self, genotype: Genotype) -> np.ndarray:
        vector = np.zeros(self.width)
        for sequence, count in paths(genotype).items():
            vector[self.index(sequence)] += count
        return vector

    def encode_all(self, genotypes: Sequence[Genotype]) -> np.ndarray:
        if not genotypes:
            return np.zeros((0, self.width))
        return np.stack([self.encode(genotype) for genotype in genotypes])
