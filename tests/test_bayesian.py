"""Bayesian optimisation: slot codes, the Gaussian process, space enumeration and the strategy."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import approx_fprime
from scipy.stats import kendalltau, norm

from evolution.bayesian import BayesianOptimisation, normal_scores
from evolution.driver import Driver
from evolution.executors.inline import InlineExecutor
from evolution.gaussian_process import CategoricalGP, _neg_log_likelihood
from evolution.journal import FILENAME, Journal
from evolution.registry import make_strategy
from evolution.run_status import RunStatus
from evolution.seeding import numpy_rng
from evolution.slot_encoding import slot_codes
from hiernas.nb201 import genotype_to_arch
from motifs import PRESETS, Space, sample
from motifs.canonical import canonical_key
from motifs.enumeration import all_genotypes, space_size
from tests.engine_helpers import journal_rows
from tests.evaluators import ToyEvaluator, toy_fitness
from tests.test_predictor import _dead_edge, _isomorphic_copy, _synthetic_fitness


@pytest.mark.parametrize("preset", ["hierarchical", "nb201", "flat"])
def test_isomorphic_genotypes_get_identical_codes_and_predictions(preset: str) -> None:
    space = PRESETS[preset]
    rng = random.Random(3)
    train = [sample(space, rng, 200) for _ in range(40)]
    model = CategoricalGP()
    codes = np.stack([slot_codes(g) for g in train])
    fitness = np.array([toy_fitness(g) for g in train])
    model.optimise(codes, fitness, numpy_rng(0, "test"))
    model.condition(codes, fitness)
    checked = 0
    for _ in range(30):
        genotype = sample(space, rng, 200)
        for variant in (_isomorphic_copy(genotype), _dead_edge(genotype)):
            if variant is None:
                continue
            assert canonical_key(variant) == canonical_key(genotype)  # truly the same network
            assert np.array_equal(slot_codes(variant), slot_codes(genotype))
            a, b = model.predict(slot_codes(variant)[None]), model.predict(slot_codes(genotype)[None])
            assert a[0][0] == b[0][0] and a[1][0] == b[1][0]
            checked += 1
    assert checked >= 30
    # Different networks get different codes.
    by_key = {canonical_key(g): slot_codes(g).tobytes() for g in train}
    assert len(set(by_key.values())) == len(by_key)


def test_an_nb201_cell_keeps_its_edge_positions() -> None:
    """A cell whose node order its edges force keeps its own numbering, positions row by row
    (0→1, 0→2, 0→3, 1→2, 1→3, 2→3): a position means the same edge in every such cell, which is
    what lets the model learn per-edge relevance."""
    cell = PRESETS["nb201"].initial()
    ops = {(0, 1): 3, (0, 2): 3, (1, 2): 3, (0, 3): 1, (1, 3): 2, (2, 3): 3}  # NB201's best cell
    for (i, j), op in ops.items():
        cell = cell.with_edge(0, 0, i, j, op)
    assert genotype_to_arch(cell) == (
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"
    )
    # Primitives renumbered by sorted name: avgpool3x3 1, conv1x1 2, conv3x3 3, identity 4.
    assert slot_codes(cell).tolist() == [3, 3, 4, 3, 2, 3]


def test_the_likelihood_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 5, (30, 6))
    y = codes[:, 0] + 2.0 * (codes[:, 1] == 3) + rng.normal(0, 0.1, 30)
    y = (y - y.mean()) / y.std()
    differ = (codes[:, None, :] != codes[None, :, :]).astype(float)
    point = np.r_[rng.uniform(-2, 1, 6), -3.0]
    analytic = _neg_log_likelihood(point, differ, y)[1]
    numeric = approx_fprime(point, lambda p: _neg_log_likelihood(p, differ, y)[0], 1e-6)
    assert np.allclose(analytic, numeric, rtol=1e-4, atol=1e-5)


def test_the_model_learns_which_positions_matter() -> None:
    """Fitness from positions 0 and 1 only: their relevances come out far above the others'."""
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 5, (60, 6))
    y = codes[:, 0] + 2.0 * (codes[:, 1] == 3) + rng.normal(0, 0.05, 60)
    model = CategoricalGP()
    model.optimise(codes, y, numpy_rng(1, "test"))
    theta = np.exp(model.log_theta)
    assert min(theta[:2]) > 3 * max(theta[2:])


@pytest.mark.parametrize(
    ("preset", "train", "error", "tau"), [("nb201", 60, 0.3, 0.6), ("hierarchical", 150, 0.7, 0.3)]
)
def test_the_model_ranks_a_synthetic_fitness_far_better_than_a_constant(
    preset: str, train: int, error: float, tau: float
) -> None:
    """Seeded: a function of the live structure plus noise, ``train`` networks, 300 unseen. On
    NB201 (measured: error 0.15 of a constant's, τ 0.75, against the trees' 0.63 and 0.56); on the
    hierarchical space, where a position means less across networks, it needs more results
    (measured at 150: 0.55 and τ 0.47, the trees 0.65 and 0.46; at 60 only τ 0.10)."""
    space = PRESETS[preset]
    rng = random.Random(11)
    noise = np.random.default_rng(11)
    genotypes = [sample(space, rng, 300) for _ in range(train + 300)]
    fitness = np.array([_synthetic_fitness(g) for g in genotypes]) + noise.normal(0, 0.1, len(genotypes))
    codes = np.stack([slot_codes(g) for g in genotypes])
    model = CategoricalGP()
    model.optimise(codes[:train], fitness[:train], numpy_rng(1, "test"))
    model.condition(codes[:train], fitness[:train])
    predicted, std = model.predict(codes[train:])
    truth = fitness[train:]
    constant_error = np.mean((truth - fitness[:train].mean()) ** 2)
    assert np.mean((truth - predicted) ** 2) < error * constant_error
    assert kendalltau(predicted, truth)[0] > tau
    assert np.all(std > 0)


def test_the_nb201_space_is_listed_whole_and_the_hierarchical_one_is_not() -> None:
    space = PRESETS["nb201"]
    assert space_size(space) == 15625
    arches = {genotype_to_arch(g) for g in all_genotypes(space)}
    assert len(arches) == 15625  # every NB201 row once
    assert space_size(PRESETS["hierarchical"]) > 10**30
    tiny = Space(("identity", "conv1x1"), (2, 1), (3, 3))
    assert space_size(tiny) == len(set(all_genotypes(tiny))) == (3**3) ** 2 * 3**3


def _bayesian_run(run_dir: Path, budget: int, space: Space, **settings: int | str) -> RunStatus:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / FILENAME
    journal = Journal.open(path) if path.exists() else Journal.create(path)
    base = {"population": 8, "init_mutations": 100, "bayesian": {"pool": 40, "parents": 2, **settings}}
    try:
        search = make_strategy("bayesian", space, 5, base)
        assert isinstance(search, BayesianOptimisation)
        return Driver(search, InlineExecutor(ToyEvaluator()), journal, budget=budget, seed=5).run()
    finally:
        journal.close()


@pytest.mark.parametrize(
    ("preset", "target"), [("hierarchical", "rank"), ("nb201", "rank"), ("nb201", "raw")]
)
def test_resuming_a_bayesian_run_proposes_what_the_uninterrupted_run_proposed(
    tmp_path: Path, preset: str, target: str
) -> None:
    """Sampled pool (hierarchical) and the whole space (NB201, pool above its size): stopping and
    resuming before, at and after the model takes over writes the same journal. With rank warping
    the hyperparameters are learned on the normal scores of the first results among themselves,
    which a resume must recompute exactly."""
    pool: dict[str, int | str] = {"pool": 20000} if preset == "nb201" else {}
    pool["target"] = target
    whole = _bayesian_run(tmp_path / "whole", 30, PRESETS[preset], **pool)
    assert whole.finished == 30
    for budget in (5, 8, 13, 30):
        _bayesian_run(tmp_path / "steps", budget, PRESETS[preset], **pool)
    assert journal_rows(tmp_path / "steps") == journal_rows(tmp_path / "whole")
    rows = journal_rows(tmp_path / "whole")["proposals"]
    assert all(row[8] is None for row in rows[8:])  # a model's proposal is always a new network


def test_the_model_finds_a_synthetic_optimum_before_random_search(tmp_path: Path) -> None:
    """On the NB201 space with the toy fitness (live convolutions), seeded: within 40 evaluations
    the model's best is at least random search's best on every seed, and above it on average."""
    gaps = []
    for seed in range(3):
        found = {}
        for name in ("bayesian", "random"):
            settings = {"population": 10, "init_mutations": 100, "bayesian": {"pool": 20000}}
            search = make_strategy(name, PRESETS["nb201"], seed, settings)
            journal = Journal.create(tmp_path / f"{name}{seed}.db")
            try:
                Driver(search, InlineExecutor(ToyEvaluator()), journal, budget=40, seed=seed).run()
                found[name] = max(t.result.fitness for t in journal.history() if t.result.ok)
            finally:
                journal.close()
        assert found["bayesian"] >= found["random"]
        gaps.append(found["bayesian"] - found["random"])
    assert np.mean(gaps) > 0


@given(st.lists(st.integers(0, 20), min_size=1, max_size=60))
def test_normal_scores_keep_the_order_and_ties_and_stay_bounded(values: list[int]) -> None:
    """Whatever the sample's shape (a long tail of broken networks included), the warped targets
    order as the fitnesses do, ties stay ties, and they lie within the n-sample normal quantiles."""
    fitness = np.asarray(values, dtype=float) / 20
    scores = normal_scores(fitness)
    for a in range(len(fitness)):
        for b in range(len(fitness)):
            assert np.sign(scores[a] - scores[b]) == np.sign(fitness[a] - fitness[b])
    bound = norm.ppf(1 - 0.5 / len(fitness))
    assert np.all(np.abs(scores) <= bound + 1e-12)
    if len(set(values)) == len(values):
        assert abs(scores.sum()) < 1e-9  # distinct ranks are symmetric about their middle


def test_rank_warping_keeps_the_best_apart_from_a_tail_of_broken_networks() -> None:
    """Ten good networks and one broken one: standardised raw fitnesses squeeze the good ones
    into a fraction of the scale; their normal scores spread them as if the outlier were merely last."""
    good = 0.84 + 0.001 * np.arange(10)
    fitness = np.r_[good, 0.10]
    raw = (fitness - fitness.mean()) / fitness.std()
    scores = normal_scores(fitness)
    assert raw[9] - raw[0] < 0.05
    assert scores[9] - scores[0] > 2.5
    assert np.allclose(scores[:10], normal_scores(np.r_[good, 0.839])[:10])


def test_a_small_space_known_whole_falls_back_to_random_draws(tmp_path: Path) -> None:
    """A 27-genotype space: once every network is known the asks draw at random, the cache answers
    them, and the driver ends the run as exhausted, every network evaluated exactly once."""
    tiny = Space(("identity", "conv1x1"), (1,), (3,))
    status = _bayesian_run(tmp_path / "run", 40, tiny, pool=100)
    keys = {canonical_key(g) for g in all_genotypes(tiny)}
    assert status.finished == len(keys) < 27
    assert status.stopped is not None and "exhausted" in status.stopped


def test_the_config_reaches_the_strategy_and_bad_values_are_refused(tmp_path: Path) -> None:
    from hiernas.config import ConfigError, load_config
    from hiernas.search import strategy_for

    table = f"evaluator.table={tmp_path / 'nb201.csv'}"
    keys = ["search.strategy=bayesian", "search.bayesian.pool=500", "search.bayesian.parents=2"]
    search = strategy_for(load_config("nb201", [table, *keys]))
    assert isinstance(search, BayesianOptimisation)
    assert (search.pool_size, search.parents, search.model.starts) == (500, 2, 3)
    assert search.to_target is normal_scores
    search = strategy_for(load_config("nb201", [table, *keys, "search.bayesian.target=raw"]))
    assert isinstance(search, BayesianOptimisation) and search.to_target is np.asarray
    for bad in ("pool=0", "parents=-1", "starts=0", "target=log"):
        with pytest.raises(ConfigError, match=f"search.bayesian.{bad.partition('=')[0]}"):
            load_config("nb201", [table, "search.strategy=bayesian", f"search.bayesian.{bad}"])
