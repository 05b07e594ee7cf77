"""Hypothesis strategies for genotypes, shared by the property tests."""

from __future__ import annotations

import random

from hypothesis import strategies as st

from motifs import PRESETS, Genotype, Motif, Space, sample

SPACES = {name: PRESETS[name] for name in ("hierarchical", "flat", "nb201")}


@st.composite
def genotypes(draw: st.DrawFn, space: Space | None = None, max_mutations: int = 300) -> Genotype:
    """A genotype made as the search makes them: identity chains plus seeded random mutations."""
    if space is None:
        space = SPACES[draw(st.sampled_from(sorted(SPACES)))]
    seed = draw(st.integers(0, 2**32 - 1))
    mutations = draw(st.integers(0, max_mutations))
    return sample(space, random.Random(seed), mutations)


def relabel(motif: Motif, rng: random.Random) -> Motif:
    """The same motif with its inner nodes renumbered in a random topological order (Kahn's
    algorithm with random picks), input and output kept first and last."""
    n = motif.nodes
    inner = range(1, n - 1)
    waiting = {v: sum(1 for e in motif.edges() if e.dst == v and e.src != 0) for v in inner}
    ready = [v for v in inner if waiting[v] == 0]
    order = [0]
    while ready:
        v = ready.pop(rng.randrange(len(ready)))
        order.append(v)
        for e in motif.edges():
            if e.src == v and 0 < e.dst < n - 1:
                waiting[e.dst] -= 1
                if waiting[e.dst] == 0:
                    ready.append(e.dst)
    order.append(n - 1)
    position = {old: new for new, old in enumerate(order)}
    matrix = [[0] * n for _ in range(n)]
    for e in motif.edges():
        matrix[position[e.src]][position[e.dst]] = e.op
    return Motif(tuple(tuple(row) for row in matrix))
