"""Failed and lost evaluations: when they run again, when their result is reused, and that every
attempt is counted, submitted and kept within the budget, across stops and resumes."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evolution.driver import Driver
from evolution.evaluation import EvalContext, EvalResult
from evolution.executors.inline import InlineExecutor
from evolution.journal import FILENAME, Journal
from evolution.random_search import RandomSearch
from evolution.strategy import Proposal
from motifs import PRESETS, Genotype, sample
from motifs.canonical import canonical_key
from tests.evaluators import ToyEvaluator, toy_fitness
from tests.plugins.fail_first import MARKERS, fail_first_call

SPACE = PRESETS["hierarchical"]
ROOT = Path(__file__).resolve().parents[1]


def _genotype(seed: int) -> Genotype:
    return sample(SPACE, random.Random(seed), 50)


class Repeating(RandomSearch):
    """Proposes the given genotypes in order, then the last one forever."""

    def __init__(self, genotypes: list[Genotype]) -> None:
        super().__init__(SPACE, seed=0, init_mutations=50)
        self.genotypes = genotypes

    def ask(self) -> Proposal:
        genotype = self.genotypes[min(self.asked, len(self.genotypes) - 1)]
        self.asked += 1
        return Proposal(genotype, "init")


class FailFirst:
    """The fail_first plug-in as an engine evaluator (the CLI's python kind wraps it the same way)."""

    def __call__(self, genotype: Genotype, context: EvalContext) -> EvalResult:
        try:
            return EvalResult.done(fail_first_call(genotype, context)["accuracy"])
        except RuntimeError as error:
            return EvalResult.failed(str(error))


class AlwaysFails:
    def __call__(self, genotype: Genotype, context: EvalContext) -> EvalResult:
        return EvalResult.failed("injected: always fails")


def _evaluations(journal: Journal, key: str) -> list[tuple[str, int]]:
    rows = journal.connection.execute(
        "SELECT e.status, e.final FROM evaluations e JOIN proposals p ON p.id = e.proposal "
        "WHERE p.key = ? ORDER BY e.id",
        (key,),
    )
    return [tuple(row) for row in rows]


def test_a_failed_network_is_evaluated_again_when_proposed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "markers").mkdir()
    monkeypatch.setenv(MARKERS, str(tmp_path / "markers"))
    genotype = _genotype(1)
    journal = Journal.create(tmp_path / FILENAME)
    status = Driver(
        Repeating([genotype]), InlineExecutor(FailFirst()), journal, budget=10, seed=0, max_duplicate_streak=5
    ).run()
    assert _evaluations(journal, canonical_key(genotype)) == [("failed", 1), ("done", 1)]
    assert status.failed == 1 and status.done == 1 and status.cached == 5 and status.stopped
    history = journal.history()
    assert [t.result.ok for t in history] == [False] + [True] * 6
    assert all(t.result.fitness == 1 - 1 / (2 + toy_fitness(genotype)) for t in history[1:])


@pytest.mark.parametrize("retry_failed", [0, 1, 2])
def test_a_network_that_keeps_failing_has_its_failure_reused_after_the_retries(
    tmp_path: Path, retry_failed: int
) -> None:
    genotype = _genotype(2)
    journal = Journal.create(tmp_path / FILENAME)
    status = Driver(
        Repeating([genotype]),
        InlineExecutor(AlwaysFails()),
        journal,
        budget=10,
        seed=0,
        retry_failed=retry_failed,
        max_duplicate_streak=4,
    ).run()
    assert _evaluations(journal, canonical_key(genotype)) == [("failed", 1)] * (retry_failed + 1)
    assert status.failed == retry_failed + 1 and status.cached == 4
    assert all(not t.result.ok for t in journal.history())


# Stranded retries --------------------------------------------------------------------------------


class DiesFirstWhenReleased:
    """Network ``slow`` waits for the file ``go``, then kills its worker on its first attempt and
    succeeds on the second; every other network succeeds at once."""

    def __init__(self, scratch: Path, slow: str) -> None:
        self.scratch, self.slow = scratch, slow

    def __call__(self, genotype: Genotype, context: EvalContext) -> EvalResult:
        if canonical_key(genotype) == self.slow:
            while not (self.scratch / "go").exists():
                time.sleep(0.01)
            try:
                os.close(os.open(self.scratch / "died", os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return EvalResult.done(toy_fitness(genotype))
            os.kill(os.getpid(), signal.SIGKILL)
        return EvalResult.done(toy_fitness(genotype))


class ReleasesOnDuplicates(Repeating):
    """Proposes A, then B forever; once B's result is in, it lets A's evaluation go on."""

    def __init__(self, genotypes: list[Genotype], go: Path) -> None:
        super().__init__(genotypes)
        self.go = go

    def tell(self, proposal_id: int, proposal: Proposal, result: EvalResult, cached: bool = False) -> None:
        if proposal.genotype == self.genotypes[-1]:
            self.go.touch()


def test_a_lost_evaluation_is_run_again_after_the_run_stopped_asking(tmp_path: Path) -> None:
    """The duplicate streak stops the run while A runs; A's worker is then lost. Its retry must
    still run (it was queued, never submitted, and the run ended with it pending)."""
    from evolution.executors.local import LocalExecutor

    a, b = _genotype(3), _genotype(4)
    journal = Journal.create(tmp_path / FILENAME)
    executor = LocalExecutor(DiesFirstWhenReleased(tmp_path, canonical_key(a)), workers=2)
    status = Driver(
        ReleasesOnDuplicates([a, b], tmp_path / "go"),
        executor,
        journal,
        budget=10,
        seed=0,
        max_duplicate_streak=3,
    ).run()
    assert status.stopped and (tmp_path / "died").exists()
    assert _evaluations(journal, canonical_key(a)) == [("failed", 0), ("done", 1)]
    assert status.done == 2 and status.lost == 1 and journal.counts()["pending"] == 0


# Attempts across resumes -------------------------------------------------------------------------

_KILLS_ITS_RUN = """
import sys
from pathlib import Path
from evolution.driver import Driver
from evolution.executors.inline import InlineExecutor
from evolution.journal import FILENAME, Journal
from evolution.random_search import RandomSearch
from motifs import PRESETS
from tests.evaluators import FaultyEvaluator

run = Path(sys.argv[1])
path = run / FILENAME
journal = Journal.open(path) if path.exists() else Journal.create(path)
evaluator = FaultyEvaluator(run / "scratch", {0: "die"}, delay=0)
Driver(RandomSearch(PRESETS["hierarchical"], seed=0, init_mutations=50), InlineExecutor(evaluator),
       journal, budget=3, seed=0, max_attempts=2).run()
"""


def test_a_network_that_kills_the_run_every_time_fails_after_max_attempts(tmp_path: Path) -> None:
    """The inline executor runs the evaluation in the driver's process, so a network that kills
    its worker kills the whole run. Each resume counts that attempt; after two it is failed."""
    (tmp_path / "scratch").mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    codes = []
    for _ in range(5):
        codes.append(
            subprocess.run([sys.executable, "-c", _KILLS_ITS_RUN, str(tmp_path)], env=env).returncode
        )
        if codes[-1] == 0:
            break
    assert codes == [-signal.SIGKILL, -signal.SIGKILL, 0]
    with sqlite3.connect(tmp_path / FILENAME) as db:
        rows = db.execute("SELECT proposal, attempt, status, final FROM evaluations ORDER BY id").fetchall()
    assert rows[:2] == [(1, 1, "failed", 0), (1, 2, "failed", 1)]
    assert [row[2:] for row in rows[2:]] == [("done", 1), ("done", 1)]


def test_an_interrupted_evaluation_does_not_count_as_an_attempt(tmp_path: Path) -> None:
    """Ctrl-C is not the network's fault: what was running goes back to pending, same attempt."""

    class InterruptingExecutor(InlineExecutor):
        def wait(self, timeout: float | None = None) -> list:
            raise KeyboardInterrupt

    journal = Journal.create(tmp_path / FILENAME)
    strategy = RandomSearch(SPACE, seed=0, init_mutations=50)
    with pytest.raises(KeyboardInterrupt):
        Driver(strategy, InterruptingExecutor(ToyEvaluator()), journal, budget=3, seed=0).run()
    rows = journal.connection.execute("SELECT attempt, status FROM evaluations")
    assert [tuple(row) for row in rows] == [(1, "pending")]
    status = Driver(
        RandomSearch(SPACE, seed=0, init_mutations=50),
        InlineExecutor(ToyEvaluator()),
        journal,
        budget=3,
        seed=0,
    ).run()
    assert status.done == 3 and status.lost == 0


# The budget on resume ----------------------------------------------------------------------------


class ThreeAtOnce(InlineExecutor):
    """Takes three evaluations at a time (and runs them in turn), as three workers would."""

    capacity = 3


def test_resuming_with_a_smaller_budget_never_finishes_more_than_it(tmp_path: Path) -> None:
    """3 done and 3 left running by a killed run; resumed with budget 4, exactly 4 finish and the
    other 2 stay pending in the journal for a later resume with a larger budget."""
    journal = Journal.create(tmp_path / FILENAME)
    Driver(
        RandomSearch(SPACE, seed=0, init_mutations=50),
        InlineExecutor(ToyEvaluator()),
        journal,
        budget=3,
        seed=0,
    ).run()
    with journal.transaction():
        for seed in (10, 11, 12):
            genotype = _genotype(seed)
            proposal_id = journal.insert_proposal(
                Proposal(genotype, "init"), canonical_key(genotype), "random"
            )
            journal.mark_running(journal.pending_attempt(proposal_id), "killed", time.time())
    strategy = RandomSearch(SPACE, seed=0, init_mutations=50)
    strategy.asked = 3
    status = Driver(strategy, ThreeAtOnce(ToyEvaluator()), journal, budget=4, seed=0).run()
    assert status.finished == 4 and journal.finished_count() == 4
    assert journal.counts()["pending"] == 2
    status = Driver(strategy, ThreeAtOnce(ToyEvaluator()), journal, budget=6, seed=0).run()
    assert status.finished == 6 and journal.counts()["pending"] == 0
