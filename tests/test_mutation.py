"""Mutation as the paper defines it (section 3.1), and initialisation from identity chains."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from motifs import PRESETS, Genotype, Space, mutate, sample
from tests.strategies import SPACES, genotypes


@given(genotypes(), st.integers(0, 2**32 - 1), st.integers(1, 60))
def test_any_sequence_of_mutations_keeps_the_genotype_valid(
    genotype: Genotype, seed: int, steps: int
) -> None:
    rng = random.Random(seed)
    space = Space.of(genotype)
    for _ in range(steps):
        genotype, _ = mutate(genotype, rng)
    space.check(genotype)
    # Validation of the file format is the strict check of every invariant.
    assert Genotype.from_dict(genotype.to_dict()) == genotype


@given(genotypes(), st.integers(0, 2**32 - 1))
def test_a_mutation_changes_exactly_the_recorded_cell(genotype: Genotype, seed: int) -> None:
    child, record = mutate(genotype, random.Random(seed))
    k = record.level - 2
    assert genotype.levels[k][record.motif].matrix[record.i][record.j] == record.old
    assert child.levels[k][record.motif].matrix[record.i][record.j] == record.new
    assert record.old != record.new and record.i < record.j
    assert 0 <= record.new <= genotype.op_count(k)
    assert child == genotype.with_edge(k, record.motif, record.i, record.j, record.new)
    expected = "add" if record.old == 0 else "remove" if record.new == 0 else "alter"
    assert record.kind == expected


def test_mutation_is_uniform_over_levels_pairs_and_new_ops() -> None:
    rng = random.Random(0)
    genotype = PRESETS["hierarchical"].initial()
    draws = [mutate(genotype, rng)[1] for _ in range(24000)]
    levels = Counter(d.level for d in draws)
    assert abs(levels[2] - levels[3]) < 0.05 * len(draws)
    # Level-2 pairs of a 4-node motif: 6 pairs, each about 1/6 of the level-2 draws.
    pairs = Counter((d.i, d.j) for d in draws if d.level == 2)
    assert len(pairs) == 6 and max(pairs.values()) / min(pairs.values()) < 1.2
    # From the identity op (6) at level 2 the new op is uniform over the 6 others (0..5).
    new_ops = Counter(d.new for d in draws if d.level == 2 and d.old == 6)
    assert sorted(new_ops) == [0, 1, 2, 3, 4, 5]
    assert max(new_ops.values()) / min(new_ops.values()) < 1.3


def test_initial_genotype_is_identity_chains() -> None:
    for space in SPACES.values():
        genotype = space.initial()
        identity = space.primitives.index("identity") + 1
        for k, level in enumerate(genotype.levels):
            for motif in level:
                chain = [motif.matrix[i][i + 1] for i in range(motif.nodes - 1)]
                assert chain == [identity if k == 0 else 1] * (motif.nodes - 1)
                assert sum(1 for _ in motif.edges()) == motif.nodes - 1


def test_sampling_is_seeded_and_diversifies() -> None:
    space = PRESETS["hierarchical"]
    assert sample(space, random.Random(5)) == sample(space, random.Random(5))
    population = {sample(space, random.Random(seed)) for seed in range(20)}
    assert len(population) == 20
    assert sample(space, random.Random(5), 0) == space.initial()


@given(st.sampled_from(sorted(SPACES)), st.integers(0, 2**32 - 1), st.integers(0, 400))
def test_sample_equals_that_many_mutations(name: str, seed: int, count: int) -> None:
    """The fast in-place sampler makes exactly the draws of repeated ``mutate`` calls."""
    space = SPACES[name]
    rng = random.Random(seed)
    genotype = space.initial()
    for _ in range(count):
        genotype, _ = mutate(genotype, rng)
    assert sample(space, random.Random(seed), count) == genotype
