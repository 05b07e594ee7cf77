"""The fitness predictor and the evolution it guides: invariance, resumption, and that it learns."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import kendalltau

from evolution.driver import Driver
from evolution.evaluation import EvalContext
from evolution.executors.inline import InlineExecutor
from evolution.guided import GuidedEvolution, fit_size
from evolution.journal import FILENAME, Journal
from evolution.path_encoding import PathEncoder, paths
from evolution.predictor import FitnessPredictor
from evolution.registry import make_strategy
from evolution.run_status import RunStatus
from evolution.seeding import numpy_rng
from motifs import PRESETS, Genotype, Motif, sample
from motifs.canonical import canonical_key
from tests.engine_helpers import journal_rows
from tests.evaluators import ToyEvaluator, toy_fitness


def _swap_nodes(motif: Motif, a: int, b: int) -> Motif:
    """The motif with intermediate nodes ``a`` < ``b`` renumbered into each other (valid when no
    edge joins them, so the matrix stays upper triangular)."""
    order = list(range(motif.nodes))
    order[a], order[b] = b, a
    return Motif(
        tuple(tuple(motif.matrix[order[i]][order[j]] for j in range(motif.nodes)) for i in range(motif.nodes))
    )


def _isomorphic_copy(genotype: Genotype) -> Genotype:
    """The same network written differently: primitives and level-2 motifs listed in reverse order,
    two nodes of the cell renumbered, and a dead edge (into a node with no path to the output)."""
    primitives = genotype.primitives[::-1]
    n_prims = len(primitives)
    low = tuple(
        Motif(tuple(tuple(n_prims + 1 - op if op else 0 for op in row) for row in m.matrix))
        for m in genotype.levels[0][::-1]
    )
    levels: list[tuple[Motif, ...]] = [low]
    for level in genotype.levels[1:]:
        below = len(levels[-1])
        levels.append(
            tuple(
                Motif(tuple(tuple(below + 1 - op if op else 0 for op in row) for row in m.matrix))
                for m in level
            )
        )
    copy = Genotype(primitives, tuple(levels))
    cell = copy.cell
    if cell.matrix[1][2] == 0:
        cell = _swap_nodes(cell, 1, 2)
    copy = Genotype(copy.primitives, (*copy.levels[:-1], (cell,)))
    return copy


def _dead_edge(genotype: Genotype) -> Genotype | None:
    """``genotype`` plus an edge off every input → output path, or None if it has no room for one."""
    cell = genotype.cell
    live = {(e.src, e.dst) for e in cell.live_edges()}
    for i in range(cell.nodes):
        for j in range(i + 1, cell.nodes):
            if cell.matrix[i][j]:
                continue
            candidate = genotype.with_edge(len(genotype.levels) - 1, 0, i, j, 1)
            if {(e.src, e.dst) for e in candidate.cell.live_edges()} == live:
                return candidate
    return None


@pytest.mark.parametrize("preset", ["hierarchical", "nb201", "flat"])
def test_isomorphic_genotypes_get_identical_encodings_and_predictions(preset: str) -> None:
    space = PRESETS[preset]
    rng = random.Random(3)
    train = [sample(space, rng, 200) for _ in range(40)]
    predictor = FitnessPredictor(space.primitives)
    predictor.fit(train, [toy_fitness(g) for g in train], numpy_rng(0, "test"))
    encoder = PathEncoder(space.primitives)
    checked = 0
    for _ in range(30):
        genotype = sample(space, rng, 200)
        variants = [_isomorphic_copy(genotype)]
        dead = _dead_edge(genotype)
        if dead is not None:
            variants.append(dead)
        for variant in variants:
            assert canonical_key(variant) == canonical_key(genotype)  # truly the same network
            assert np.array_equal(encoder.encode(variant), encoder.encode(genotype))
            a, b = predictor.predict([genotype]), predictor.predict([variant])
            assert a.mean[0] == b.mean[0] and a.std[0] == b.std[0]
            checked += 1
    assert checked >= 30
    # And the encoding does tell different networks apart.
    keys = {canonical_key(g): encoder.encode(g).tobytes() for g in train}
    assert len(set(keys.values())) > len(keys) // 2


def _synthetic_fitness(genotype: Genotype) -> float:
    """A function of the built network: the mean number of convolutions along its input → output
    paths, with a bonus for wider (more paths) networks."""
    counted = paths(genotype)
    total = sum(counted.values())
    if not total:
        return 0.0
    convs = sum(
        times * sum(name.startswith(("conv", "sepconv")) for name in path) for path, times in counted.items()
    )
    return convs / total + 0.3 * np.log1p(total)


def test_the_predictor_ranks_a_synthetic_fitness_far_better_than_a_constant() -> None:
    """Seeded: a function of the live structure plus noise, 60 training networks, 300 unseen."""
    space = PRESETS["hierarchical"]
    rng = random.Random(11)
    noise = np.random.default_rng(11)
    genotypes = [sample(space, rng, 300) for _ in range(360)]
    fitness = np.array([_synthetic_fitness(g) for g in genotypes]) + noise.normal(0, 0.1, len(genotypes))
    predictor = FitnessPredictor(space.primitives)
    predictor.fit(genotypes[:60], fitness[:60], numpy_rng(1, "test"))
    predicted = predictor.predict(genotypes[60:]).mean
    truth = fitness[60:]
    constant_error = np.mean((truth - fitness[:60].mean()) ** 2)
    assert np.mean((truth - predicted) ** 2) < 0.7 * constant_error
    assert kendalltau(predicted, truth)[0] > 0.3


PLAIN = {"candidates": 12, "acquisition": "thompson", "start_after": 10}
BEST_FEW = {
    "candidates": 12,
    "acquisition": "ucb",
    "start_after": 10,
    "parents": 3,
    "mutations": 2,
    "target": "rank",
}


def _guided_run(run_dir: Path, budget: int, aging: bool, predictor: dict = PLAIN) -> RunStatus:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / FILENAME
    journal = Journal.open(path) if path.exists() else Journal.create(path)
    settings = {
        "population": 8,
        "tournament": 0.25,
        "aging": aging,
        "init_mutations": 100,
        "predictor": predictor,
    }
    try:
        search = make_strategy("evolution", PRESETS["hierarchical"], 5, settings)
        assert isinstance(search, GuidedEvolution)
        return Driver(search, InlineExecutor(ToyEvaluator()), journal, budget=budget, seed=5).run()
    finally:
        journal.close()


@pytest.mark.parametrize(("aging", "predictor"), [(False, PLAIN), (True, PLAIN), (False, BEST_FEW)])
def test_resuming_a_guided_run_proposes_what_the_uninterrupted_run_proposed(
    tmp_path: Path, aging: bool, predictor: dict
) -> None:
    """The predictor is rebuilt from the journal's history on resume, never saved: stopping and
    resuming in steps (before, at and after the predictor takes over) writes the same journal."""
    whole = _guided_run(tmp_path / "whole", 30, aging, predictor)
    assert whole.finished == 30
    for budget in (5, 11, 30):
        _guided_run(tmp_path / "steps", budget, aging, predictor)
    assert journal_rows(tmp_path / "steps") == journal_rows(tmp_path / "whole")


def test_without_the_setting_evolution_is_unchanged_and_guided_proposals_are_new_networks(
    tmp_path: Path,
) -> None:
    settings = {"population": 8, "tournament": 0.25, "aging": False, "init_mutations": 100}
    assert type(make_strategy("evolution", PRESETS["nb201"], 0, settings)).__name__ == "TournamentEvolution"
    _guided_run(tmp_path / "run", 30, aging=False)
    rows = journal_rows(tmp_path / "run")["proposals"]
    guided = rows[10:]  # after start_after results, every proposal is a network not evaluated before
    assert all(row[8] is None for row in guided)  # cached_from: never answered from the cache


def test_refits_follow_a_schedule_of_the_result_count_alone() -> None:
    sizes = [fit_size(n) for n in range(200)]
    assert sizes[:32] == list(range(32))  # every result refits while there are few
    assert all(a <= b <= n for n, (a, b) in enumerate(itertools.pairwise(sizes), start=1))
    assert len(set(sizes[20:151])) < 50  # a 150-evaluation table run refits about 40 times


def test_with_parents_every_guided_child_comes_from_the_fittest_few() -> None:
    """parents=3: each guided proposal mutates one of the three fittest members so far (BANANAS),
    by one or two mutations, and is a network not evaluated before."""
    settings = {"population": 8, "tournament": 0.25, "aging": False, "init_mutations": 100}
    search = make_strategy("evolution", PRESETS["nb201"], 2, {**settings, "predictor": BEST_FEW})
    told: dict[int, float] = {}
    seen: set[str] = set()
    guided = 0
    for proposal_id in range(40):
        proposal = search.ask()
        assert proposal is not None
        if proposal.origin == "mutation" and len(told) >= 10:
            fittest = sorted(told, key=lambda k: (-told[k], k))[:3]
            assert proposal.parent in fittest
            assert canonical_key(proposal.genotype) not in seen
            guided += 1
        key = canonical_key(proposal.genotype)
        result = ToyEvaluator()(proposal.genotype, EvalContext(seed=0))
        cached = key in seen
        seen.add(key)
        search.tell(proposal_id, proposal, result, cached)
        if result.ok and not cached:
            told[proposal_id] = float(result.fitness)
    assert guided >= 20


def test_rank_targets_keep_the_order_and_isomorphism_invariance() -> None:
    space = PRESETS["nb201"]
    rng = random.Random(5)
    genotypes = [sample(space, rng, 200) for _ in range(80)]
    fitness = [toy_fitness(g) for g in genotypes]
    ranked = FitnessPredictor(space.primitives, target="rank")
    ranked.fit(genotypes[:50], fitness[:50], numpy_rng(2, "test"))
    predicted = ranked.predict(genotypes[50:]).mean
    assert np.all((predicted > 0) & (predicted <= 1))  # ranks over the training set, in (0, 1]
    assert kendalltau(predicted, fitness[50:])[0] > 0.3
    with pytest.raises(ValueError, match="target"):
        FitnessPredictor(space.primitives, target="log")


def test_the_config_keys_reach_the_strategy_and_bad_values_are_refused(tmp_path: Path) -> None:
    from hiernas.config import ConfigError, load_config
    from hiernas.search import strategy_for

    table = f"evaluator.table={tmp_path / 'nb201.csv'}"
    keys = ["search.predictor.parents=3", "search.predictor.mutations=2", "search.predictor.target=rank"]
    search = strategy_for(load_config("nb201", [table, *keys]))
    assert isinstance(search, GuidedEvolution)
    assert (search.parents, search.mutations, search.predictor.target) == (3, 2, "rank")
    for bad in ("parents=-1", "mutations=0", "target=log"):
        with pytest.raises(ConfigError, match=f"search.predictor.{bad.partition('=')[0]}"):
            load_config("nb201", [table, f"search.predictor.{bad}"])
