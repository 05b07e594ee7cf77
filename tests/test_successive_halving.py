"""Asynchronous successive halving (issue 13): the rungs and ASHA's promotion order on hand-built
scenarios, then whole inline searches with a user's evaluator that honours the steps
(``tests/plugins/rung_evaluator.py``): rung counts, the budget in full-budget equivalents, the
checkpoints handed over and deleted, and a run interrupted mid-promotion resuming into exactly the
run that was not interrupted."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import pytest

from evolution.evaluation import EvalContext, EvalResult
from evolution.journal import FILENAME
from evolution.successive_halving import Fidelity, Halving
from hiernas.config import config_from_dict
from hiernas.evaluators.factory import build_evaluator
from hiernas.search import CHECKPOINTS, run_inline, strategy_for
from motifs import Genotype

# Rungs 3, 9, 27 (eta 3); a budget of 3 full-budget equivalents is 81 training steps.
FULL, MIN, ETA, BUDGET = 27, 3, 3, 3


def _config(
    strategy: str = "evolution", budget: int = BUDGET, target: str = "stepped", rank_by: str = "fitness"
) -> dict:
    return {
        "seed": 4,
        "budget": budget,
        "space": {"preset": "hierarchical", "init_mutations": 30},
        "network": {"channels": 4, "cells_per_stage": 1, "stages": 1},
        "evaluator": {"kind": "python", "target": f"tests.plugins.rung_evaluator:{target}", "steps": FULL},
        "search": {
            "strategy": strategy,
            "population": 6,
            "tournament": 0.34,
            "fidelity": {"min_steps": MIN, "eta": ETA, "rank_by": rank_by},
            "rl": {"update_every": 2},
            "bayesian": {"pool": 40},
        },
        "executor": {"kind": "inline"},
    }


# The rungs ------------------------------------------------------------------------------------


def test_the_rungs_multiply_by_eta_up_to_the_full_steps() -> None:
    assert Fidelity.ladder(3, 3, 27).rungs == (3, 9, 27)
    assert Fidelity.ladder(100, 3, 1000).rungs == (100, 300, 900, 1000)
    assert Fidelity.ladder(1, 2, 5).rungs == (1, 2, 4, 5)
    fidelity = Fidelity.ladder(100, 3, 1000)
    assert [fidelity.cost(r) for r in range(4)] == [100, 200, 600, 100]
    assert fidelity.cost(2, continued=False) == 900
    for bad in ((0, 3, 10), (10, 3, 10), (11, 3, 10), (1, 1, 10)):
        with pytest.raises(ValueError):
            Fidelity.ladder(*bad)


# Promotion order (ASHA, Li et al. 2020, Algorithm 2) ---------------------------------------------


def _halving(rungs: tuple[int, ...] = (1, 3, 9, 27), eta: int = 3) -> Halving:
    return Halving(Fidelity(rungs, eta))


def test_nothing_is_promoted_before_a_rung_has_eta_results() -> None:
    halving = _halving()
    halving.record(1, 0, 0.9)
    halving.record(2, 0, 0.5)
    assert halving.promotion() is None  # never waits: a new candidate starts instead
    halving.record(3, 0, 0.7)
    assert halving.promotion() == (1, 1)


def test_promotions_are_asynchronous_the_next_best_goes_once_the_top_grows() -> None:
    halving = _halving()
    for proposal, fitness in ((1, 0.9), (2, 0.5), (3, 0.7)):
        halving.record(proposal, 0, fitness)
    halving.start(1, 1)  # proposal 1 promoted, still training: it is not promoted twice
    assert halving.promotion() is None
    for proposal, fitness in ((4, 0.1), (5, 0.2)):
        halving.record(proposal, 0, fitness)
    assert halving.promotion() is None  # 5 results: top ⌊5/3⌋ = 1, already promoted
    halving.record(6, 0, 0.8)
    assert halving.promotion() == (6, 1)  # 6 results: top 2 = {1, 6}
    halving.start(6, 1)
    halving.record(7, 0, 0.95)  # a late result better than everything is promoted as it arrives
    assert halving.promotable(0) == [7]


def test_the_highest_rung_with_a_candidate_goes_first_and_the_top_rung_never_promotes() -> None:
    halving = _halving()
    for proposal in range(1, 10):
        halving.record(proposal, 0, proposal / 10)
    for proposal, fitness in ((9, 0.3), (8, 0.6), (7, 0.2)):
        halving.start(proposal, 1)
        halving.record(proposal, 1, fitness)
    for proposal in (10, 11, 12):
        halving.record(proposal, 0, 0.05)  # rung 0: 12 results, top 4 = 9, 8, 7 and 6
    assert halving.promotion() == (8, 2)  # rung 1's best before rung 0's candidate 6
    halving.start(8, 2)
    assert halving.promotion() == (6, 1)
    halving.record(8, 2, 0.99)
    for proposal in (20, 21, 22):
        halving.record(proposal, 3, 1.0)
    assert halving.promotable(3) == []
    assert halving.reached(8) == 2 and halving.reached(6) == 0 and halving.reached(99) is None


def test_failed_results_never_promote_and_do_not_widen_the_top() -> None:
    halving = _halving()
    halving.record(1, 0, None)
    halving.record(2, 0, None)
    halving.record(3, 0, 0.1)
    assert halving.promotion() is None  # one done result: top ⌊1/3⌋ = 0
    halving.record(4, 0, 0.2)
    halving.record(5, 0, 0.3)
    assert halving.promotion() == (5, 1)
    halving.start(5, 1)
    halving.record(5, 1, None)  # a failed promotion stays failed: it is not promoted again
    assert halving.promotion() is None


def test_ties_go_to_the_result_recorded_first() -> None:
    halving = _halving()
    for proposal in (5, 2, 9, 1, 7, 3):
        halving.record(proposal, 0, 0.5)
    assert halving.promotable(0) == [5, 2]


def _curve(*losses: float) -> dict:
    """Metrics with a loss curve of windows of 2 steps."""
    return {"loss_curve": [[2 * (i + 1), loss] for i, loss in enumerate(losses)]}


def test_ranked_by_loss_the_lowest_training_loss_promotes_not_the_fittest() -> None:
    halving = Halving(Fidelity((1, 3, 9, 27), 3, "loss"))
    # Only the last third of the curve counts: proposal 1's early losses are the highest.
    halving.record(1, 0, 0.9, _curve(9.0, 9.0, 0.5))
    halving.record(2, 0, 0.95, _curve(0.1, 0.1, 0.8))
    halving.record(3, 0, 0.99, {})  # no loss curve: ranks after every scored result
    assert halving.promotion() == (1, 1)
    halving.start(1, 1)
    for proposal, loss in ((4, 0.7), (5, 0.6), (6, 0.9)):
        halving.record(proposal, 0, 0.1, _curve(loss))
    assert halving.promotable(0) == [5]  # 6 results, top 2 = {1, 5}
    # Ranked by fitness, the same results promote the fittest.
    by_fitness = _halving()
    for proposal, fitness in ((1, 0.9), (2, 0.95), (3, 0.99)):
        by_fitness.record(proposal, 0, fitness, _curve(0.5))
    assert by_fitness.promotion() == (3, 1)
    with pytest.raises(ValueError, match="rank_by"):
        Fidelity.ladder(3, 3, 27, "accuracy")  # type: ignore[arg-type]


def test_the_loss_score_is_the_step_weighted_mean_over_the_last_third() -> None:
    from evolution.loss_score import final_loss

    # Windows ending at 4, 8, 12 (4 steps each), 14 (the open window of 2): the last third of 14
    # steps starts after step 9.33, so the windows ending at 12 and 14 count, weighted 4 and 2.
    metrics = {"loss_curve": [[4, 2.0], [8, 1.0], [12, 0.6], [14, 0.3]]}
    assert final_loss(metrics) == pytest.approx((4 * 0.6 + 2 * 0.3) / 6)
    assert final_loss({"loss_curve": [[5, 0.7]]}) == pytest.approx(0.7)
    for bad in (
        {},
        {"loss_curve": []},
        {"loss_curve": "x"},
        {"loss_curve": [[1, "nan?"]]},
        {"loss_curve": [[math.inf, 0.5]]},  # OverflowError crashed hiernas fidelity's summary
        {"loss_curve": [["a", "b"]]},
        {"loss_curve": [[1, math.nan]]},
        [["not", "a mapping"]],
    ):
        assert final_loss(bad) is None


# Whole runs --------------------------------------------------------------------------------------


def _rows(run_dir: Path) -> list[tuple]:
    """Final evaluation rows in tell order: (proposal, rung, steps, from_steps, status, fitness, metrics)."""
    with sqlite3.connect(run_dir / FILENAME) as db:
        return db.execute(
            "SELECT proposal, rung, steps, from_steps, status, fitness, metrics FROM evaluations "
            "WHERE final = 1 ORDER BY told"
        ).fetchall()


def _proposals(run_dir: Path) -> list[tuple]:
    with sqlite3.connect(run_dir / FILENAME) as db:
        return db.execute(
            "SELECT id, origin, genotype, parent, mutation, cached_from, waiting FROM proposals ORDER BY id"
        ).fetchall()


@pytest.mark.parametrize("strategy", ["evolution", "random", "pareto", "pareto+predictor", "rl", "bayesian"])
def test_a_run_promotes_continues_checkpoints_and_spends_its_budget_in_equivalents(
    tmp_path: Path, strategy: str
) -> None:
    name, _, guided = strategy.partition("+")
    settings = _config(name)
    if guided:  # the models learn rung-0 results and rank children on the predicted front
        settings["search"]["predictor"] = {"start_after": 3, "candidates": 10}
    config = config_from_dict(settings)
    assert (type(strategy_for(config)).__name__ == "GuidedPareto") == bool(guided)
    status, history = run_inline(config, build_evaluator(config), tmp_path)
    rows = _rows(tmp_path)
    cost = {0: 3, 1: 6, 2: 18}
    spent = sum(steps - start for _, _, steps, start, status_, _, _ in rows if status_ in ("done", "failed"))
    assert spent == status.steps_spent <= BUDGET * FULL
    # Nothing more would have fit: neither a new candidate nor any promotion still open.
    assert BUDGET * FULL - spent < cost[0]
    assert status.used == spent / FULL
    by_rung = {rung: [r for r in rows if r[1] == rung] for rung in (0, 1, 2)}
    assert len(by_rung[1]) >= 1 and len(by_rung[0]) >= 3 * len(by_rung[1])
    reached: dict[int, set[int]] = {0: set(), 1: set(), 2: set()}
    for proposal, rung, steps, start, status_, _, metrics_text in rows:
        metrics = json.loads(metrics_text)
        assert status_ == "done" and steps == (3, 9, 27)[rung] and metrics["steps"] == steps
        if rung == 0:
            assert metrics["resume_from"] is None and start == 0
        else:
            assert proposal in reached[rung - 1], "promoted before its rung below was done"
            assert metrics["resume_from"] == str(tmp_path / CHECKPOINTS / f"{proposal}-{(3, 9)[rung - 1]}.pt")
            assert start == metrics["resumed_from_steps"] == (3, 9)[rung - 1]
        expected_save = None if rung == 2 else str(tmp_path / CHECKPOINTS / f"{proposal}-{steps}.pt")
        assert metrics["save_to"] == expected_save
        reached[rung].add(proposal)
    # Every result was told to the strategy as it arrived, with its rung.
    fresh = [(t.proposal_id, t.rung) for t in history if not t.cached]
    assert fresh == [(r[0], r[1]) for r in rows]
    assert list((tmp_path / CHECKPOINTS).iterdir()) == []  # all deleted at the end of the run


class _Interrupting:
    """The run's evaluator, which stops the run (Ctrl-C) at its ``stop_at``-th call: what a
    kill in the middle of that evaluation leaves, in this process."""

    def __init__(self, evaluator: object, stop_at: int) -> None:
        self.evaluator, self.stop_at, self.calls = evaluator, stop_at, 0
        self.objectives = evaluator.objectives  # type: ignore[attr-defined]
        self.supports_fidelity = True

    def __call__(self, genotype: Genotype, context: EvalContext) -> EvalResult:
        self.calls += 1
        if self.calls == self.stop_at:
            if context.resume_from is not None:  # mid-promotion: its checkpoint must survive
                assert Path(context.resume_from).is_file()
            raise KeyboardInterrupt
        return self.evaluator(genotype, context)  # type: ignore[operator]


@pytest.mark.parametrize(
    "strategy, rank_by", [("evolution", "fitness"), ("rl", "fitness"), ("evolution", "loss")]
)
def test_a_run_stopped_mid_promotion_resumes_into_the_uninterrupted_run(
    tmp_path: Path, strategy: str, rank_by: str
) -> None:
    from evolution.driver import Driver
    from evolution.executors.inline import InlineExecutor
    from evolution.journal import Journal
    from hiernas.search import fidelity_for

    target = "lossy_stepped" if rank_by == "loss" else "stepped"
    config = config_from_dict(_config(strategy, budget=4, target=target, rank_by=rank_by))
    evaluator = build_evaluator(config)
    whole = tmp_path / "whole"
    whole.mkdir()
    run_inline(config, evaluator, whole)
    promotions = [i for i, row in enumerate(_rows(whole)) if row[1] > 0]
    stop_at = promotions[1] + 1  # the call that runs the second promotion
    if rank_by == "loss":
        # The first promotion follows the third rung-0 result: the lowest loss of those three,
        # which this evaluator gives the least fit of them (ranked by fitness, the fittest goes).
        first = _rows(whole)[: promotions[0] + 1]
        assert promotions[0] == 3 and [row[1] for row in first] == [0, 0, 0, 1]
        assert first[3][0] == min(first[:3], key=lambda row: row[5])[0]

    halves = tmp_path / "halves"
    halves.mkdir()
    for session, stop in ((1, stop_at), (2, 0)):
        journal = Journal.open(halves / FILENAME) if session == 2 else Journal.create(halves / FILENAME)
        driver = Driver(
            strategy_for(config),
            InlineExecutor(_Interrupting(evaluator, stop)),  # type: ignore[arg-type]
            journal,
            budget=config.budget,
            seed=config.seed,
            fidelity=fidelity_for(config, evaluator),
            checkpoints=halves / CHECKPOINTS,
        )
        try:
            if session == 1:
                with pytest.raises(KeyboardInterrupt):
                    driver.run()
                assert next(r for r in _rows(halves) if r[4] == "pending")[1] > 0  # a promotion
            else:
                driver.run()
        finally:
            journal.close()
    assert _proposals(halves) == _proposals(whole)

    def anywhere(run_dir: Path) -> list[tuple]:
        return [(*row[:-1], row[-1].replace(str(run_dir), "RUN")) for row in _rows(run_dir)]

    assert anywhere(halves) == anywhere(whole)
    assert list((halves / CHECKPOINTS).iterdir()) == []
