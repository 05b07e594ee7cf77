"""``hiernas report`` on a real successive-halving run: a proposal is told once per rung, and only
its full-budget results are points of the run's best-so-far curve; the learning-curves section
groups the rung results of one proposal."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from evolution.journal import FILENAME
from hiernas.report.runs import read_run
from hiernas.run_dir import open_journal_read_only

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


def _non_dominated(points: dict[int, tuple[float, float]]) -> set[int]:
    """Proposals whose (accuracy, params) no other point beats on both (accuracy up, params down)."""
    return {
        p
        for p, (acc, size) in points.items()
        if not any(a >= acc and s <= size and (a, s) != (acc, size) for a, s in points.values())
    }


def test_front_holds_full_budget_results_only(tmp_path: Path) -> None:
    """A rung result is less trained, not a smaller network: status, the report and ``export
    --front`` put only full-budget results on the front (here one a mixed front would have missed
    shows that the check has teeth)."""
    config, run_dir = tmp_path / "sh.yaml", tmp_path / "run"
    config.write_text(CONFIG.replace("budget: 4", "budget: 6"))
    assert _hiernas("evolve", str(config), "--run-dir", str(run_dir)).returncode == 0
    journal = open_journal_read_only(run_dir)
    try:
        highest = journal.top(journal.finished_count())  # each proposal at its highest rung
    finally:
        journal.close()
    full = {r.proposal_id: (r.fitness, r.metrics["params"]) for r in highest if r.rung == 2}
    mixed = {r.proposal_id: (r.fitness, r.metrics["params"]) for r in highest}
    expected = _non_dominated(full)
    assert expected and _non_dominated(mixed) != expected

    status = _hiernas("status", str(run_dir), "--json")
    assert status.returncode == 0, status.stderr
    assert {member["proposal"] for member in json.loads(status.stdout)["front"]} == expected
    run = read_run(run_dir)
    assert len(run.genotypes) == len(full)  # every feasible point the report draws is full-budget
    exported = _hiernas("export", str(run_dir), "--front", "--format", "json", "-o", str(tmp_path / "front"))
    assert exported.returncode == 0, exported.stderr
    assert len(list((tmp_path / "front").glob("front*.json"))) == len(expected)
