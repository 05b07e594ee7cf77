"""The search engine with the inline executor: determinism, resumption, dedup, selection."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from evolution.driver import Driver
from evolution.evaluation import EvalResult
from evolution.executors.inline import InlineExecutor
from evolution.journal import FILENAME, Journal
from evolution.random_search import RandomSearch
from evolution.strategy import Proposal
from evolution.tournament import Population, TournamentEvolution
from motifs import PRESETS, sample
from tests.engine_helpers import journal_rows, run_table_search, synthetic_nb201_table
from tests.evaluators import ToyEvaluator


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_nb201_table(tmp_path_factory.mktemp("table") / "nb201.csv")


@pytest.mark.parametrize("strategy", ["evolution", "random"])
def test_seeded_inline_run_is_reproducible_bit_for_bit(tmp_path: Path, table: Path, strategy: str) -> None:
    first = run_table_search(tmp_path / "a", table, strategy=strategy)
    second = run_table_search(tmp_path / "b", table, strategy=strategy)
    assert first.finished == second.finished == 60
    assert journal_rows(tmp_path / "a") == journal_rows(tmp_path / "b")
    other_seed = run_table_search(tmp_path / "c", table, strategy=strategy, seed=1)
    assert other_seed.finished == 60
    assert journal_rows(tmp_path / "c") != journal_rows(tmp_path / "a")


@pytest.mark.parametrize("aging", [False, True])
def test_resuming_in_steps_equals_one_uninterrupted_run(tmp_path: Path, table: Path, aging: bool) -> None:
    """Stopping after each budget and resuming with a larger one writes the same journal as one
    run: the strategy's state is exactly restored from the snapshot and the told history."""
    run_table_search(tmp_path / "whole", table, budget=90, aging=aging)
    for budget in (7, 25, 26, 60, 90):
        run_table_search(tmp_path / "steps", table, budget=budget, aging=aging)
    assert journal_rows(tmp_path / "steps") == journal_rows(tmp_path / "whole")


def test_evolution_finds_good_cells_and_random_search_is_worse_on_average(
    tmp_path: Path, table: Path
) -> None:
    evolved = [run_table_search(tmp_path / f"e{s}", table, budget=80, seed=s).best_fitness for s in range(4)]
    randomly = [
        run_table_search(tmp_path / f"r{s}", table, strategy="random", budget=80, seed=s).best_fitness
        for s in range(4)
    ]
    assert sum(evolved) / 4 > sum(randomly) / 4


def test_dedup_modes(tmp_path: Path, table: Path) -> None:
    reuse = run_table_search(tmp_path / "reuse", table, dedup="reuse")
    assert reuse.cached > 0
    rows = journal_rows(tmp_path / "reuse")
    evaluated_keys = [p[4] for p in rows["proposals"] if p[8] is None]
    assert len(evaluated_keys) == len(set(evaluated_keys)) == 60  # never paid twice for a network
    resample = run_table_search(tmp_path / "resample", table, dedup="resample")
    assert resample.cached == 0
    keys = [p[4] for p in journal_rows(tmp_path / "resample")["proposals"]]
    assert len(keys) == len(set(keys)) == 60
    off = run_table_search(tmp_path / "off", table, dedup="off")
    keys = [p[4] for p in journal_rows(tmp_path / "off")["proposals"]]
    assert off.cached == 0 and len(keys) == 60 and len(set(keys)) < 60


def _journal(tmp_path: Path) -> Journal:
    return Journal.create(tmp_path / FILENAME)


def test_failed_evaluations_never_win_a_tournament(tmp_path: Path) -> None:
    class FailConvs:
        def __call__(self, genotype, context):
            fitness = ToyEvaluator()(genotype, context).fitness
            return EvalResult.failed("injected") if fitness >= 2 else EvalResult.done(fitness)

    strategy = TournamentEvolution(
        PRESETS["hierarchical"], seed=3, population=8, tournament=0.5, init_mutations=50
    )
    journal = _journal(tmp_path)
    Driver(strategy, InlineExecutor(FailConvs()), journal, budget=60, seed=3).run()
    history = {t.proposal_id: t.result for t in journal.history()}
    parents = {t.proposal.parent for t in journal.history() if t.proposal.parent is not None}
    assert any(not r.ok for r in history.values())
    assert all(history[parent].ok for parent in parents)


def test_tournament_size_is_five_percent_of_the_population_and_at_least_two() -> None:
    strategy = TournamentEvolution(PRESETS["hierarchical"], seed=0, population=5, tournament=0.05)
    genotype = PRESETS["hierarchical"].initial()
    for n, expected in ((1, 1), (2, 2), (39, 2), (60, 3), (200, 10), (1000, 50)):
        strategy.population = Population()
        for i in range(n):
            strategy.population.add(i, genotype, float(i))
        assert strategy.tournament_size() == expected


def test_tournament_picks_the_fittest_aspirant() -> None:
    population = Population()
    genotype = PRESETS["hierarchical"].initial()
    for i in range(100):
        population.add(i, genotype, float(i))
    import numpy as np

    assert population.tournament(np.random.default_rng(0), 100) == 99
    winners = {population.tournament(np.random.default_rng(s), 2) for s in range(200)}
    assert min(winners) >= 1 and len(winners) > 30  # the weakest can never win against anyone


def test_aging_keeps_the_population_at_p(tmp_path: Path) -> None:
    strategy = TournamentEvolution(
        PRESETS["hierarchical"], seed=1, population=10, tournament=0.2, aging=True, init_mutations=30
    )
    Driver(strategy, InlineExecutor(ToyEvaluator()), _journal(tmp_path), budget=50, seed=1).run()
    assert len(strategy.population) == 10
    # The oldest went first: the members are the last ten that joined.
    assert strategy.population.ids[strategy.population.start :] == strategy.population.ids[-10:]


def test_population_grows_without_aging(tmp_path: Path) -> None:
    strategy = TournamentEvolution(
        PRESETS["hierarchical"], seed=1, population=10, tournament=0.2, init_mutations=30
    )
    status = Driver(strategy, InlineExecutor(ToyEvaluator()), _journal(tmp_path), budget=50, seed=1).run()
    assert len(strategy.population) == status.done == 50


@pytest.mark.parametrize("neutral", ["join", "drop"])
def test_neutral_children_join_the_population_only_when_asked_to(tmp_path: Path, neutral: str) -> None:
    """A child answered from the cache (a neutral mutation) is a member of its own under "join"
    (the paper adds every child) and left out under "drop"."""
    strategy = TournamentEvolution(
        PRESETS["hierarchical"], seed=1, population=10, tournament=0.2, init_mutations=30, neutral=neutral
    )
    status = Driver(strategy, InlineExecutor(ToyEvaluator()), _journal(tmp_path), budget=50, seed=1).run()
    assert status.cached > 0
    assert len(strategy.population) == status.done + (status.cached if neutral == "join" else 0)


def test_initial_population_comes_first_and_mutations_name_their_parent(tmp_path: Path) -> None:
    strategy = TournamentEvolution(
        PRESETS["hierarchical"], seed=2, population=12, tournament=0.25, init_mutations=40
    )
    journal = _journal(tmp_path)
    Driver(strategy, InlineExecutor(ToyEvaluator()), journal, budget=40, seed=2).run()
    history = journal.history()
    assert [t.proposal.origin for t in history[:12]] == ["init"] * 12
    by_id = {t.proposal_id: t.proposal for t in history}
    for told in history[12:]:
        assert told.proposal.origin == "mutation"
        parent = by_id[told.proposal.parent]
        m = told.proposal.mutation
        assert parent.genotype.levels[m.level - 2][m.motif].matrix[m.i][m.j] == m.old
        assert parent.genotype.with_edge(m.level - 2, m.motif, m.i, m.j, m.new) == told.proposal.genotype


def test_a_duplicate_in_flight_waits_for_the_running_evaluation(tmp_path: Path) -> None:
    """Two workers, the same network proposed twice at once: evaluated once, the second told the
    first's result as a cache hit."""
    from evolution.executors.local import LocalExecutor

    genotype = sample(PRESETS["hierarchical"], random.Random(0), 100)

    class Twice(RandomSearch):
        def ask(self) -> Proposal:
            self.asked += 1
            if self.asked <= 2:
                return Proposal(genotype, "init")
            return super().ask()

    journal = _journal(tmp_path)
    executor = LocalExecutor(ToyEvaluator(delay=0.3), workers=2)
    status = Driver(
        Twice(PRESETS["hierarchical"], seed=0, init_mutations=50), executor, journal, budget=4, seed=0
    ).run()
    assert status.cached == 1 and status.done == 4
    history = journal.history()
    first, second = (t for t in history if t.proposal.genotype == genotype)
    assert second.cached and second.result == first.result


def test_a_refused_resume_still_stops_the_workers(tmp_path: Path) -> None:
    """A journal whose strategy snapshot does not fit is refused on resume, after the executor's
    worker processes were started: the refusal must not leave them running."""
    import sqlite3
    from contextlib import closing

    from evolution.executors.local import LocalExecutor
    from evolution.journal import JournalError

    path = tmp_path / FILENAME
    journal = Journal.create(path)
    strategy = RandomSearch(PRESETS["nb201"], seed=0, init_mutations=50)
    Driver(strategy, InlineExecutor(ToyEvaluator()), journal, budget=3, seed=0).run()
    journal.close()
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE strategy_snapshot SET state = '{}'")
    journal = Journal.open(path)
    executor = LocalExecutor(ToyEvaluator(), workers=2)
    processes = [worker.process for worker in executor._workers]
    assert all(process.is_alive() for process in processes)
    try:
        strategy = RandomSearch(PRESETS["nb201"], seed=0, init_mutations=50)
        with pytest.raises(JournalError, match="does not fit"):
            Driver(strategy, executor, journal, budget=6, seed=0).run()
    finally:
        journal.close()
    assert not any(process.is_alive() for process in processes)


def test_the_space_being_exhausted_stops_the_run_cleanly(tmp_path: Path) -> None:
    """A space of 3 architectures and a budget of 10: the run ends with what exists."""
    from motifs import Space

    space = Space(("identity", "conv1x1"), (1,), (2,))
    journal = _journal(tmp_path)
    status = Driver(
        RandomSearch(space, seed=0, init_mutations=3),
        InlineExecutor(ToyEvaluator()),
        journal,
        budget=10,
        seed=0,
        max_duplicate_streak=200,
    ).run()
    assert status.done == 3 and status.stopped and "exhausted" in status.stopped


def test_the_papers_rl_reward_is_accuracy_cubed_with_an_unscaled_advantage() -> None:
    """Zoph & Le 2017, section 4.1: R = accuracy³; the advantage is R − b (b the moving average)."""
    pytest.importorskip("torch")
    from evolution.reinforce import ReinforceStrategy

    strategy = ReinforceStrategy(PRESETS["nb201"], seed=0, reward="paper", update_every=10)
    first, second = strategy.ask(), strategy.ask()
    strategy.tell(1, first, EvalResult.done(0.5))
    strategy.tell(2, second, EvalResult.done(0.8))
    assert [a for _, a in strategy.buffer] == [0.0, pytest.approx(0.8**3 - 0.5**3)]
    assert strategy.baseline == pytest.approx(0.95 * 0.125 + 0.05 * 0.512)
