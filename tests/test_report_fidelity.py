"""``hiernas report`` on a real successive-halving run: a proposal is told once per rung, and only
its full-budget results are points of the run's best-so-far curve; the learning-curves section
groups the rung results of one proposal."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from evolution.journal import FILENAME
from hiernas.report.runs import read_run

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

CONFIG = """
seed: 3
budget: 4
space: {preset: hierarchical, init_mutations: 30}
network: {channels: 4, cells_per_stage: 1, stages: 1}
evaluator: {kind: python, target: "tests.plugins.rung_evaluator:stepped", steps: 27}
search: {strategy: evolution, population: 5, tournament: 0.4, fidelity: {min_steps: 3, eta: 3}}
executor: {kind: inline}
"""


def _hiernas(*args: str) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join([str(ROOT), str(TESTS), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path, "HIERNAS_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "hiernas", *args], capture_output=True, text=True, env=env, timeout=600
    )


def test_report_counts_full_budget_results_and_draws_rung_curves(tmp_path: Path) -> None:
    config, run_dir = tmp_path / "sh.yaml", tmp_path / "run"
    config.write_text(CONFIG)
    finished = _hiernas("evolve", str(config), "--run-dir", str(run_dir))
    assert finished.returncode == 0, finished.stderr
    with sqlite3.connect(f"file:{run_dir / FILENAME}?mode=ro", uri=True) as db:
        rungs = dict(
            db.execute(
                "SELECT rung, COUNT(*) FROM evaluations WHERE final = 1 AND status = 'done' GROUP BY rung"
            ).fetchall()
        )
        promoted = db.execute(
            "SELECT COUNT(DISTINCT proposal) FROM evaluations WHERE final = 1 AND rung > 0"
        ).fetchone()[0]
    assert rungs[0] > rungs.get(2, 0) >= 1 and promoted >= 1  # the run promoted to the full budget

    run = read_run(run_dir)
    assert len(run.fitness) == rungs[2]
    assert run.best is not None and all(
        value is not None and value <= run.best.fitness for value in run.fitness
    )
    assert any(len(candidate.rungs) > 1 for candidate in run.curves)

    status = _hiernas("status", str(run_dir))
    assert status.returncode == 0 and "rung 2 (27 steps)" in status.stdout, status.stderr
    assert "loss_curve" not in status.stdout  # a curve is for --json and the report, not a line

    output = tmp_path / "report.html"
    report = _hiernas("report", str(run_dir), "-o", str(output))
    assert report.returncode == 0, report.stderr
    assert "Learning curves" in output.read_text()
