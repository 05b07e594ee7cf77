"""``hiernas evolve`` killed with SIGKILL ten times in one run, resumed after each.

Everything is real: the CLI in its own process, the local executor's spawned worker processes, the
SQLite journal on disk, and a user's evaluator (``tests/plugins/my_evaluator.py:gated``). The test
paces the run, not the clock: an evaluation finishes only when the test grants its driver a token,
so each session finishes exactly the evaluations the test allows, and every kill lands while
evaluations are provably in flight (the journal says 'running' and the evaluator says it is waiting,
and no token is left for it to finish with). After the last resume the run must hold exactly its
budget of finished evaluations, no proposal finished twice, and every result that any kill left in
the journal still there, unchanged.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from evolution.journal import FILENAME

KILLS = 10
BUDGET = 32
TESTS = Path(__file__).resolve().parent

# A real search with two workers; the gate folder is where the test and the evaluator meet.
CONFIG = """
seed: 3
budget: {budget}
space: {{preset: hierarchical, init_mutations: 30}}
network: {{channels: 4, cells_per_stage: 1, stages: 1}}
evaluator: {{kind: python, target: "plugins.my_evaluator:gated", settings: {{gate: "{gate}"}}}}
search: {{strategy: evolution, population: 6, tournament: 0.34}}
executor: {{kind: local, workers: 2}}
"""


def _query(run_dir: Path, sql: str) -> list[tuple]:
    """Rows read as a reader would, while the run may be written: read-only, nothing recovered."""
    with sqlite3.connect(f"file:{run_dir / FILENAME}?mode=ro", uri=True) as db:
        return db.execute(sql).fetchall()


def _finished(run_dir: Path) -> dict[int, tuple[str, float | None, str]]:
    """proposal -> (status, fitness, metrics) of its final finished evaluation, read as a reader
    would while the run may be written."""
    if not (run_dir / FILENAME).exists():
        return {}
    rows = _query(
        run_dir,
        "SELECT proposal, status, fitness, metrics FROM evaluations "
        "WHERE final = 1 AND status IN ('done', 'failed')",
    )
    results: dict[int, tuple[str, float | None, str]] = {}
    for proposal, status, fitness, metrics in rows:
        assert proposal not in results, f"proposal {proposal} finished twice"
        results[proposal] = (status, fitness, metrics)
    return results


def _evolve(config: Path, run_dir: Path) -> subprocess.Popen[bytes]:
    path = os.pathsep.join([str(TESTS.parent), str(TESTS), os.environ.get("PYTHONPATH", "")])
    return subprocess.Popen(
        [sys.executable, "-m", "hiernas", "evolve", str(config), "--run-dir", str(run_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "HIERNAS_THREADS": "1", "PYTHONPATH": path},
    )


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes], what: str) -> None:
    """Poll until ``condition()``; the process dying first fails the test with its error. No time
    limit of its own: pytest's or CI's timeout ends a run that hangs."""
    while not condition():
        if process.poll() is not None:
            error = process.stderr.read().decode() if process.stderr else ""
            raise AssertionError(f"the run ended while waiting for {what}: {error}")
        time.sleep(0.02)


def _done(results: dict[int, tuple[str, float | None, str]]) -> int:
    return sum(status == "done" for status, _, _ in results.values())


def _lost_twice(run_dir: Path, proposal: int) -> bool:
    """Failed because the run died while it ran, on every attempt (the driver's max_attempts)."""
    errors = _query(run_dir, f"SELECT error FROM evaluations WHERE proposal = {int(proposal)} ORDER BY id")
    return len(errors) >= 2 and all(
        "the run stopped while this evaluation was running" in e for (e,) in errors
    )


def _running(run_dir: Path) -> int:
    if not (run_dir / FILENAME).exists():
        return 0
    [(running,)] = _query(run_dir, "SELECT COUNT(*) FROM evaluations WHERE status = 'running'")
    return int(running)


@pytest.mark.slow
@pytest.mark.timeout(1200)  # eleven CLI start-ups with spawned workers: minutes on a loaded machine
def test_ten_sigkills_lose_and_repeat_nothing(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    config = tmp_path / "tiny.yaml"
    config.write_text(CONFIG.format(budget=BUDGET, gate=gate))
    run_dir = tmp_path / "run"
    rng = random.Random(0)
    kept: dict[int, tuple[str, float | None, str]] = {}
    for kill in range(KILLS):
        process = _evolve(config, run_dir)
        # Let this session finish 0 to 2 evaluations (the first must finish one, so that the
        # journal holds results for the kills to threaten).
        allowed = rng.randint(1 if kill == 0 else 0, 2)
        for token in range(allowed):
            (gate / f"grant-{process.pid}-{token}").touch()
        # Tokens pace the done results only: an evaluation that two sessions in a row were killed
        # while running ends as failed on resume (max_attempts), without a token.
        target = _done(kept) + allowed
        _wait_for(
            lambda target=target: _done(_finished(run_dir)) >= target, process, f"{target} done evaluations"
        )
        # In flight: marked running in the journal, and waiting in the evaluator of this driver.
        _wait_for(
            lambda pid=process.pid: _running(run_dir) > 0 and any(gate.glob(f"waiting-{pid}-*")),
            process,
            "an evaluation in flight",
        )
        assert not list(gate.glob(f"grant-{process.pid}-*")), "every token was taken"
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert _running(run_dir) > 0, f"kill {kill}: no evaluation was in flight"
        now = _finished(run_dir)
        assert _done(now) == target, f"kill {kill}: {_done(now)} done, {target} allowed"
        for proposal in now.keys() - kept.keys():
            assert now[proposal][0] == "done" or _lost_twice(run_dir, proposal), (
                f"kill {kill}: {now[proposal]}"
            )
        # Nothing a previous session recorded may change or disappear.
        assert {p: now[p] for p in kept} == kept, f"kill {kill}: a recorded result changed or was lost"
        kept = now
    assert len(kept) < BUDGET

    (gate / "open").touch()
    final = _evolve(config, run_dir)
    _, stderr = final.communicate(timeout=600)
    assert final.returncode == 0, stderr.decode()

    results = _finished(run_dir)
    assert len(results) == BUDGET
    assert {p: results[p] for p in kept} == kept
    [(unfinished,)] = _query(
        run_dir, "SELECT COUNT(*) FROM evaluations WHERE status IN ('pending', 'running')"
    )
    assert unfinished == 0
    status = subprocess.run(
        [sys.executable, "-m", "hiernas", "status", str(run_dir), "--json"],
        capture_output=True,
        check=True,
    )
    summary = json.loads(status.stdout)
    assert summary["done"] + summary["failed"] == BUDGET
    assert summary["pending"] == 0
