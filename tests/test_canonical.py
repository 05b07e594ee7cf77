"""The canonical key: same network ⇔ same key (DESIGN.md, "Identity of an architecture")."""

from __future__ import annotations

import itertools
import random

import networkx as nx
from hypothesis import given
from hypothesis import strategies as st
from networkx.algorithms.isomorphism import DiGraphMatcher

from motifs import PRESETS, Genotype, Motif, Space, mutate, sample
from motifs.canonical import canonical_form, canonical_key
from tests.strategies import SPACES, genotypes, relabel


def _relabel_all(genotype: Genotype, rng: random.Random) -> Genotype:
    return Genotype(
        genotype.primitives, tuple(tuple(relabel(m, rng) for m in level) for level in genotype.levels)
    )


@given(genotypes(), st.integers(0, 2**32 - 1))
def test_key_is_invariant_under_topological_relabelling(genotype: Genotype, seed: int) -> None:
    assert canonical_key(_relabel_all(genotype, random.Random(seed))) == canonical_key(genotype)


@given(genotypes(SPACES["hierarchical"]), st.integers(0, 2**32 - 1))
def test_key_ignores_unused_motifs(genotype: Genotype, seed: int) -> None:
    rng = random.Random(seed)
    used = {e.op - 1 for e in genotype.cell.live_edges()}
    unused = [m for m in range(len(genotype.levels[0])) if m not in used]
    changed = genotype
    for m in unused:
        other = sample(Space.of(genotype), rng, 50).levels[0][0]
        level = list(changed.levels[0])
        level[m] = other
        changed = Genotype(changed.primitives, (tuple(level), *changed.levels[1:]))
    assert canonical_key(changed) == canonical_key(genotype)


@given(genotypes(SPACES["hierarchical"]), st.integers(0, 2**32 - 1))
def test_key_ignores_the_order_of_motifs_and_primitives(genotype: Genotype, seed: int) -> None:
    rng = random.Random(seed)
    order = list(range(len(genotype.levels[0])))
    rng.shuffle(order)  # new position p holds old motif order[p]
    new_index = {old: new for new, old in enumerate(order)}
    level2 = tuple(genotype.levels[0][old] for old in order)
    cell = genotype.cell
    for e in cell.edges():
        cell = cell.with_edge(e.src, e.dst, new_index[e.op - 1] + 1)
    prims = list(genotype.primitives)
    rng.shuffle(prims)
    remap = {k + 1: prims.index(name) + 1 for k, name in enumerate(genotype.primitives)}
    level2 = tuple(Motif(tuple(tuple(remap.get(op, 0) for op in row) for row in m.matrix)) for m in level2)
    shuffled = Genotype(tuple(prims), (level2, (cell,)))
    assert canonical_key(shuffled) == canonical_key(genotype)


@given(genotypes(), st.integers(0, 2**32 - 1))
def test_key_ignores_dead_edges(genotype: Genotype, seed: int) -> None:
    """Any edit of an edge that stays off every input→output path leaves the key alone."""
    rng = random.Random(seed)
    for k, level in enumerate(genotype.levels):
        for m, motif in enumerate(level):
            live = {(e.src, e.dst) for e in motif.live_edges()}
            for e in motif.edges():
                if (e.src, e.dst) in live:
                    continue
                edited = genotype.with_edge(k, m, e.src, e.dst, 0)
                # Removing a dead edge can never create a live path.
                assert canonical_key(edited) == canonical_key(genotype)
                if genotype.op_count(k) > 1:
                    op = rng.choice([o for o in range(1, genotype.op_count(k) + 1) if o != e.op])
                    assert canonical_key(genotype.with_edge(k, m, e.src, e.dst, op)) == canonical_key(
                        genotype
                    )
            return


@given(genotypes(), st.integers(0, 2**32 - 1))
def test_key_changes_when_a_live_edge_changes(genotype: Genotype, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(200):
        child, record = mutate(genotype, rng)
        k = record.level - 2
        used = _used(genotype)
        motif = genotype.levels[k][record.motif]
        live = {(e.src, e.dst) for e in motif.live_edges()}
        # An alteration of a live edge to an op that builds something different. At level >= 3
        # the new motif might be isomorphic to the old one, so compare their forms first.
        if record.motif in used[k] and (record.i, record.j) in live and record.new != 0:
            if k > 0 and _motif_form(genotype, k - 1, record.old - 1) == _motif_form(
                genotype, k - 1, record.new - 1
            ):
                continue
            assert canonical_key(child) != canonical_key(genotype)
            return


def _used(genotype: Genotype) -> tuple[frozenset[int], ...]:
    return genotype.used_motifs()


def _motif_form(genotype: Genotype, k: int, m: int) -> str:
    """The canonical form of motif m of levels[k] on its own, as a one-motif cell."""
    sub = Genotype(genotype.primitives, (*genotype.levels[:k], (genotype.levels[k][m],)))
    return canonical_form(sub)


def _graph(motif: Motif, primitives: tuple[str, ...]) -> nx.DiGraph:
    graph = nx.DiGraph()
    live = motif.live_edges()
    for e in live:
        graph.add_edge(e.src, e.dst, op=primitives[e.op - 1])
    if live:
        graph.nodes[0]["role"] = "input"
        graph.nodes[motif.nodes - 1]["role"] = "output"
    return graph


def test_keys_agree_with_exact_isomorphism_on_many_pairs() -> None:
    """Soundness and completeness against networkx's exact (VF2) isomorphism test: 180 random
    one-motif genotypes of 5 nodes over 2 ops, small enough that isomorphic pairs are common."""
    rng = random.Random(2)
    space = Space(("identity", "conv1x1"), (1,), (5,))
    population = [sample(space, rng, rng.randint(1, 30)) for _ in range(180)]
    keys = [canonical_key(g) for g in population]
    graphs = [_graph(g.cell, g.primitives) for g in population]
    isomorphic_pairs = 0
    for a, b in itertools.combinations(range(len(population)), 2):
        same = DiGraphMatcher(
            graphs[a],
            graphs[b],
            node_match=lambda x, y: x.get("role") == y.get("role"),
            edge_match=lambda x, y: x["op"] == y["op"],
        ).is_isomorphic()
        isomorphic_pairs += same
        assert same == (keys[a] == keys[b]), (population[a], population[b])
    assert isomorphic_pairs > 50  # the check must actually exercise equal keys


def test_symmetric_motifs_with_parallel_chains() -> None:
    """Parallel identical chains are the hard case for canonical labelling: many equivalent
    orderings, none of them twins. All relabellings must agree."""
    n = 11
    matrix = [[0] * n for _ in range(n)]
    for a, b in ((1, 2), (3, 4), (5, 6), (7, 8)):
        matrix[0][a], matrix[a][b], matrix[b][n - 1] = 1, 2, 1
    matrix[0][9], matrix[9][n - 1] = 3, 3
    genotype = Genotype(PRESETS["flat"].primitives, ((Motif(tuple(map(tuple, matrix))),),))
    rng = random.Random(0)
    keys = {
        canonical_key(Genotype(genotype.primitives, ((relabel(genotype.cell, rng),),))) for _ in range(30)
    }
    assert keys == {canonical_key(genotype)}


def test_zero_motifs_are_one_label_and_dead_cells_share_a_key() -> None:
    space = PRESETS["flat"]
    dead = space.initial().with_edge(0, 0, 0, 1, 0)  # break the chain: no input→output path
    other = space.initial().with_edge(0, 0, 4, 5, 0)
    assert canonical_key(dead) == canonical_key(other)
    assert canonical_key(dead) != canonical_key(space.initial())


def test_flat_and_hierarchical_keys_never_collide() -> None:
    flat = PRESETS["flat"].initial()
    hierarchical = PRESETS["hierarchical"].initial()
    assert canonical_key(flat) != canonical_key(hierarchical)
    assert len(canonical_key(flat)) == 32


def test_identity_chains_are_not_seen_through_though_they_build_the_same_network() -> None:
    """The key identifies live graphs, not functions (motifs/canonical.py): a chain of two identity
    edges and one identity edge assemble into the same modules and outputs but keep different keys."""
    import torch

    from motifs.assembly import build_cell
    from tests.torch_helpers import seeded_weights

    primitives = ("identity", "conv1x1")
    chain = Motif(((0, 1, 2, 0), (0, 0, 0, 1), (0, 0, 0, 2), (0, 0, 0, 0)))  # 0→1→3 id, 0→2→3 conv
    direct = Motif(((0, 0, 2, 1), (0, 0, 0, 0), (0, 0, 0, 2), (0, 0, 0, 0)))  # 0→3 id, 0→2→3 conv
    a, b = Genotype(primitives, ((chain,),)), Genotype(primitives, ((direct,),))
    assert canonical_key(a) != canonical_key(b)
    cells = []
    for genotype in (a, b):
        with seeded_weights(0):
            cells.append(build_cell(genotype, 4, 4).eval())
    x = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    assert [t.shape for t in cells[0].state_dict().values()] == [
        t.shape for t in cells[1].state_dict().values()
    ]
    assert torch.equal(cells[0](x), cells[1](x))
