"""Every fault an evaluation can have is recorded with its reason and the search goes on
(real worker processes: the local executor)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evolution.driver import Driver
from evolution.executors.local import LocalExecutor
from evolution.journal import FILENAME, Journal
from evolution.random_search import RandomSearch
from motifs import PRESETS
from tests.evaluators import FaultyEvaluator, SlowStartEvaluator


def test_every_fault_is_recorded_and_the_run_completes(tmp_path: Path) -> None:
    # No timeout here: a healthy evaluation must never race one on a loaded machine. The hang
    # has a test of its own, in which no healthy evaluation runs.
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    plan = {1: "raise", 2: "nan", 3: "oom", 5: "die", 7: "die_once"}
    evaluator = FaultyEvaluator(scratch, plan)
    journal = Journal.create(tmp_path / FILENAME)
    executor = LocalExecutor(evaluator, workers=2)
    status = Driver(
        RandomSearch(PRESETS["hierarchical"], seed=0, init_mutations=50), executor, journal, budget=12, seed=0
    ).run()

    assert status.finished == 12
    rows = journal.connection.execute(
        "SELECT proposal, attempt, status, final, error FROM evaluations ORDER BY id"
    ).fetchall()
    finals = [r for r in rows if r[3] == 1]
    assert len(finals) == 12 and len({r[0] for r in finals}) == 12  # one final result per proposal
    errors = [r[4] for r in finals if r[2] == "failed"]
    expected = [
        "ValueError: injected failure",
        "fitness is not finite",
        "CUDA out of memory",
        "worker process died (killed by SIGKILL)",
    ]
    for text in expected:
        assert sum(text in e for e in errors) == 1, (text, errors)
    assert len(errors) == len(expected)
    # The worker that died twice: two attempts, the first kept as a lost (non-final) attempt.
    lost = [r for r in rows if r[3] == 0]
    assert len(lost) == 2 and all("worker process died" in r[4] for r in lost)
    # die_once: lost on the first attempt, done on the second.
    assert any(r[1] == 2 and r[2] == "done" for r in finals)
    assert status.failed == 4 and status.done == 8 and status.lost == 2


def test_a_hung_evaluation_times_out(tmp_path: Path) -> None:
    """The only evaluation hangs (an hour's sleep): the timeout stops it, and no healthy evaluation
    is there to race the short timeout on a slow machine."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    executor = LocalExecutor(FaultyEvaluator(scratch, {0: "hang"}), workers=1, timeout=0.5)
    journal = Journal.create(tmp_path / FILENAME)
    status = Driver(
        RandomSearch(PRESETS["hierarchical"], seed=0, init_mutations=20), executor, journal, budget=1, seed=0
    ).run()
    assert status.failed == 1 and status.done == 0 and status.lost == 0
    [(error,)] = journal.connection.execute("SELECT error FROM evaluations").fetchall()
    assert error == "timeout: the evaluation ran longer than 0.5 s and its worker was stopped"


def test_a_workers_start_up_is_not_part_of_the_timeout(tmp_path: Path) -> None:
    # Each worker takes 3 s to start; each evaluation is instant. Timed from submission, every
    # first evaluation would pass a 2 s timeout; timed from its start in the worker, none does.
    journal = Journal.create(tmp_path / FILENAME)
    executor = LocalExecutor(SlowStartEvaluator(start=3.0), workers=2, timeout=2.0)
    status = Driver(
        RandomSearch(PRESETS["hierarchical"], seed=0, init_mutations=20), executor, journal, budget=4, seed=0
    ).run()
    assert status.done == 4 and status.failed == 0


def _children(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads a process's children in /proc")
def test_ctrl_c_while_workers_start_is_quiet(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the whole process group) while the local workers are still starting: the
    run exits 130 with its one line, and no half-started worker prints a traceback."""
    command = [sys.executable, "-m", "hiernas", "evolve", "digits", "--run-dir", str(tmp_path / "run")]
    command += ["--set", "executor.workers=2", "--set", "executor.oversubscribe=true"]
    search = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    assert search.stderr is not None
    err = ""
    while "starting" not in err:
        line = search.stderr.readline()
        assert line, f"the run ended before it started: {err}"
        err += line
    while not _children(search.pid):
        assert search.poll() is None, search.stderr.read()
        time.sleep(0.001)
    # Into the workers' start-up (interpreter, imports, start-up data); the outcome asserted below
    # holds however far they got.
    time.sleep(0.2)
    os.killpg(search.pid, signal.SIGINT)
    err += search.stderr.read()
    assert search.wait() == 130, err
    assert "Traceback" not in err and "Error" not in err, err
    assert err.strip().splitlines()[-1] == "hiernas: interrupted"
