"""The RL controller strategy (Zoph & Le 2017): decisions <-> genotypes, learning on a toy reward,
exact resumption, the CLI, and a snapshot small enough to write after every event."""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from evolution.controller import Controller, DecisionLayout, one_thread
from evolution.evaluation import EvalResult
from evolution.reinforce import ReinforceStrategy
from hiernas.cli import main
from motifs import PRESETS, Genotype, Space
from tests.engine_helpers import journal_rows, run_table_search, synthetic_nb201_table
from tests.strategies import SPACES, genotypes

NB201 = PRESETS["nb201"]
CONV1X1 = NB201.primitives.index("conv1x1") + 1  # the decision that applies conv1x1


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_nb201_table(tmp_path_factory.mktemp("table") / "nb201.csv")


# Decisions <-> genotypes ---------------------------------------------------------------------------


@given(genotypes())
def test_every_genotype_is_one_decision_sequence(genotype: Genotype) -> None:
    layout = DecisionLayout(Space.of(genotype))
    decisions = layout.from_genotype(genotype)
    assert len(decisions) == layout.length
    assert layout.to_genotype(decisions) == genotype


@st.composite
def decision_sequences(draw: st.DrawFn) -> tuple[DecisionLayout, list[int]]:
    layout = DecisionLayout(SPACES[draw(st.sampled_from(sorted(SPACES)))])
    decisions = [
        draw(st.integers(0, choices - 1))
        for choices, steps in zip(layout.choices, layout.steps, strict=True)
        for _ in range(steps)
    ]
    return layout, decisions


@given(decision_sequences())
def test_every_decision_sequence_is_a_valid_genotype(drawn: tuple[DecisionLayout, list[int]]) -> None:
    layout, decisions = drawn
    genotype = layout.to_genotype(decisions)
    assert Genotype.from_dict(genotype.to_dict()) == genotype  # passes the format's validation
    assert list(layout.from_genotype(genotype)) == decisions


def test_decision_layout_of_the_presets() -> None:
    # Level 2: 6 motifs × 6 pairs over 6 primitives + none; level 3: 10 pairs over 6 motifs + none.
    assert (
        DecisionLayout(PRESETS["hierarchical"]).choices,
        DecisionLayout(PRESETS["hierarchical"]).steps,
    ) == (
        (7, 7),
        (36, 10),
    )
    assert DecisionLayout(PRESETS["flat"]).steps == (55,)
    assert (DecisionLayout(NB201).choices, DecisionLayout(NB201).steps) == ((5,), (6,))  # 5**6 = 15,625
    with pytest.raises(ValueError, match="decision 3"):
        DecisionLayout(NB201).to_genotype([0, 0, 0, 5, 0, 0])
    with pytest.raises(ValueError, match="expected 6 decisions"):
        DecisionLayout(NB201).to_genotype([0])


# The controller --------------------------------------------------------------------------------------


def test_controller_weights_are_uniform_in_the_init_range_and_seeded() -> None:
    layout = DecisionLayout(PRESETS["hierarchical"])
    global_state = torch.random.get_rng_state()
    a = Controller(layout.choices, layout.steps, seed=3)
    b = Controller(layout.choices, layout.steps, seed=3)
    assert torch.equal(torch.random.get_rng_state(), global_state)  # the global generator is untouched
    for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb), name
        assert pa.abs().max() <= 0.08, name
    assert sum(p.numel() for p in a.parameters()) > 20_000  # two layers of 35 LSTM units dominate


def test_sampled_log_prob_matches_teacher_forcing() -> None:
    layout = DecisionLayout(PRESETS["hierarchical"])
    controller = Controller(layout.choices, layout.steps, seed=0)
    generator = torch.Generator().manual_seed(0)
    drawn = [controller.sample(generator) for _ in range(3)]
    log_prob, entropy = controller.log_prob_and_entropy(torch.tensor([d.decisions for d in drawn]))
    for k, d in enumerate(drawn):
        assert log_prob[k].item() == pytest.approx(d.log_prob, abs=1e-4)
        assert entropy[k].item() == pytest.approx(d.entropy, abs=1e-4)
    layout.to_genotype(drawn[0].decisions)  # a valid genotype


def test_one_thread_restores_the_thread_count() -> None:
    threads = torch.get_num_threads()
    with one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == threads


# Learning --------------------------------------------------------------------------------------------


def _prob_of_all_conv1x1(strategy: ReinforceStrategy) -> float:
    """The controller's geometric-mean probability per decision of the all-conv1x1 cell."""
    length = strategy.layout.length
    with torch.no_grad():
        log_prob, _ = strategy.controller.log_prob_and_entropy(torch.full((1, length), CONV1X1))
    return math.exp(log_prob.item() / length)


def test_controller_learns_a_toy_reward_with_the_paper_settings() -> None:
    """Reward = number of conv1x1 edges. With the defaults (Adam at 6e-4, update every 5) the
    probability of conv1x1 per edge rises from chance (1/5) within 300 asks."""
    strategy = ReinforceStrategy(NB201, seed=0)
    before = _prob_of_all_conv1x1(strategy)
    rewards = []
    for n in range(300):
        proposal = strategy.ask()
        reward = sum(d == CONV1X1 for d in proposal.extra["decisions"])
        rewards.append(reward)
        strategy.tell(n, proposal, EvalResult.done(float(reward)), cached=n % 7 == 0)
    assert strategy.updates == 60
    assert before == pytest.approx(0.2, abs=0.02)
    assert _prob_of_all_conv1x1(strategy) > 0.25
    assert sum(rewards[-100:]) > sum(rewards[:100])


def test_reward_scale_does_not_matter() -> None:
    """Percent (table) or fraction (training): advantages are in units of the rewards' running
    spread, so the same settings make the same proposals."""
    runs = []
    for scale in (1.0, 0.01):
        strategy = ReinforceStrategy(NB201, seed=1, lr=0.01)
        asked = []
        for n in range(60):
            proposal = strategy.ask()
            asked.append(proposal.extra["decisions"])
            reward = 60 + 5 * sum(d == CONV1X1 for d in proposal.extra["decisions"])
            strategy.tell(n, proposal, EvalResult.done(reward * scale))
        runs.append((asked, strategy.controller.heads[0].bias.detach().clone()))
    assert runs[0][0] == runs[1][0]
    assert torch.allclose(runs[0][1], runs[1][1], atol=1e-4)


def test_failures_get_the_worst_reward_seen_and_are_skipped_before_any_success() -> None:
    strategy = ReinforceStrategy(NB201, seed=0, update_every=100)
    strategy.tell(0, strategy.ask(), EvalResult.failed("diverged"))
    assert strategy.buffer == []  # no scale yet
    strategy.tell(1, strategy.ask(), EvalResult.done(0.7))
    strategy.tell(2, strategy.ask(), EvalResult.done(0.5))
    strategy.tell(3, strategy.ask(), EvalResult.failed("diverged"))
    assert strategy.worst == 0.5 and len(strategy.buffer) == 3
    # Told 0.5 with baseline 0.7 → −1 in units of its own deviation; the failure counts as 0.5 again.
    assert strategy.buffer[1][1] == pytest.approx(-1.0)
    assert strategy.buffer[2][1] < 0


def test_advantages_are_bounded_by_the_decay() -> None:
    strategy = ReinforceStrategy(NB201, seed=0, update_every=1000)
    for n, reward in enumerate([0.5] * 20 + [100.0]):
        strategy.tell(n, strategy.ask(), EvalResult.done(reward))
    assert strategy.buffer[-1][1] == pytest.approx(1 / math.sqrt(1 - 0.95))


# The engine: determinism, resumption, snapshot ---------------------------------------------------------


def test_rl_run_is_reproducible_and_resuming_in_steps_equals_one_run(tmp_path: Path, table: Path) -> None:
    whole = run_table_search(tmp_path / "whole", table, strategy="rl", budget=90)
    again = run_table_search(tmp_path / "again", table, strategy="rl", budget=90)
    assert whole.finished == again.finished == 90
    assert journal_rows(tmp_path / "whole") == journal_rows(tmp_path / "again")
    for budget in (7, 25, 26, 60, 90):
        run_table_search(tmp_path / "steps", table, strategy="rl", budget=budget)
    assert journal_rows(tmp_path / "steps") == journal_rows(tmp_path / "whole")
    origins = {row[2] for row in journal_rows(tmp_path / "whole")["proposals"]}
    assert origins == {"controller"}


def test_snapshot_restores_exactly_and_stays_small() -> None:
    """Weights and Adam's two moments are three float32 copies of the ~20,500 parameters (~246 kB):
    no exact snapshot of the paper's 2 × 35-unit controller is smaller, and torch.save adds little."""
    strategy = ReinforceStrategy(NB201, seed=0)
    for n in range(23):
        proposal = strategy.ask()
        strategy.tell(n, proposal, EvalResult.done(float(n % 4)))
    state = strategy.state_dict()
    size = len(pickle.dumps(state))
    floor = 3 * 4 * sum(p.numel() for p in strategy.controller.parameters())
    assert size < floor + 20_000 and size < 300_000
    resumed = ReinforceStrategy(NB201, seed=0)
    resumed.restore(pickle.loads(pickle.dumps(state)), [])
    assert resumed.state_dict() == state
    for n in range(23, 40):
        a, b = strategy.ask(), resumed.ask()
        assert a == b
        strategy.tell(n, a, EvalResult.done(float(n % 3)))
        resumed.tell(n, b, EvalResult.done(float(n % 3)))
    for pa, pb in zip(strategy.controller.parameters(), resumed.controller.parameters(), strict=True):
        assert torch.equal(pa, pb)


# The CLI ---------------------------------------------------------------------------------------------


def test_evolve_with_the_rl_strategy_through_the_cli(
    tmp_path: Path, table: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    args = [
        "evolve",
        "nb201",
        "--strategy",
        "rl",
        "--run-dir",
        str(run_dir),
        "--set",
        f"evaluator.table={table}",
    ]
    assert main([*args, "--budget", "15", "--set", "search.rl.update_every=3"]) == 0
    assert main([*args, "--budget", "25", "--set", "search.rl.update_every=3"]) == 0  # resumes
    capsys.readouterr()
    assert main(["status", str(run_dir), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["strategy"] == "rl"
    assert summary["done"] == 25 and summary["budget"] == 25
    assert summary["best"]["metrics"]["arch"].startswith("|")
