"""``hiernas evolve`` killed with SIGKILL at ten random moments of one run, resumed after each.

Everything is real: the CLI in its own process, the local executor's spawned worker processes, a
(tiny) digits training per evaluation and the SQLite journal on disk. After the last resume the run
must hold exactly its budget of finished evaluations, no proposal finished twice, and every result
that any kill left in the journal still there, unchanged.
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
from pathlib import Path

import pytest

from evolution.journal import FILENAME

KILLS = 10
BUDGET = 48

# A real search, shrunk so that an evaluation takes a fraction of a second: 12 training steps of a
# 4-channel, one-stage network sampled with 30 mutations. Two workers, so a kill usually finds
# evaluations in flight, which must run again after the resume.
CONFIG = """
seed: 3
budget: {budget}
space: {{preset: hierarchical, init_mutations: 30}}
network: {{channels: 4, cells_per_stage: 1, stages: 1}}
data: {{dataset: digits, validation: 0.2}}
evaluator: {{kind: train, steps: 12, batch_size: 32, lr: 0.05, schedule: constant}}
search: {{strategy: evolution, population: 6, tournament: 0.34}}
executor: {{kind: local, workers: 2, timeout: 120}}
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
    return subprocess.Popen(
        [sys.executable, "-m", "hiernas", "evolve", str(config), "--run-dir", str(run_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "HIERNAS_THREADS": "1"},
    )


@pytest.mark.slow
def test_ten_sigkills_lose_and_repeat_nothing(tmp_path: Path) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(CONFIG.format(budget=BUDGET))
    run_dir = tmp_path / "run"
    rng = random.Random(0)
    kept: dict[int, tuple[str, float | None, str]] = {}
    kills_in_flight = 0
    for kill in range(KILLS):
        process = _evolve(config, run_dir)
        # Let this session make some progress (its start-up alone takes a few seconds: python,
        # torch and two spawned workers), then kill it at a random moment of its work.
        before = len(kept)
        deadline = time.monotonic() + 120
        while len(_finished(run_dir)) < min(before + 1, BUDGET - 1) and time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.8))
        assert process.poll() is None, f"kill {kill}: the run ended before it was killed"
        process.send_signal(signal.SIGKILL)
        process.wait()
        [(running,)] = _query(run_dir, "SELECT COUNT(*) FROM evaluations WHERE status = 'running'")
        kills_in_flight += running > 0
        now = _finished(run_dir)
        # Nothing a previous session recorded may change or disappear.
        assert {p: now[p] for p in kept} == kept, f"kill {kill}: a recorded result changed or was lost"
        kept = now
    assert len(kept) < BUDGET, "the kills should all land before the run is complete"

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
    assert kills_in_flight >= KILLS // 2, "most kills should land while evaluations are running"
    status = subprocess.run(
        [sys.executable, "-m", "hiernas", "status", str(run_dir), "--json"],
        capture_output=True,
        check=True,
    )
    summary = json.loads(status.stdout)
    assert summary["done"] + summary["failed"] == BUDGET
    assert summary["pending"] == 0
