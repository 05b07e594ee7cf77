"""A user's own evaluator (``evaluator: {kind: python, target: ...}``) run through the CLI, and the
objectives and network sizes every run records, whatever its evaluator.

The plug-ins live in ``tests/plugins/my_evaluator.py``; the CLI finds them on PYTHONPATH, as it
would find a user's package in their environment.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from evolution.journal import FILENAME
from tests.engine_helpers import synthetic_nb201_table

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

TINY = """
seed: 2
budget: {budget}
space: {{preset: hierarchical, init_mutations: 30}}
network: {{channels: 4, cells_per_stage: 1, stages: 1}}
evaluator: {evaluator}
search: {{strategy: evolution, population: 4, tournament: 0.5}}
executor: {executor}
"""


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join([str(ROOT), str(TESTS), os.environ.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "hiernas", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": path, "HIERNAS_THREADS": "1"},
        timeout=600,
    )


def _evolve(tmp_path: Path, evaluator: str, executor: str = "{kind: inline}", budget: int = 8) -> Path:
    config = tmp_path / "run.yaml"
    config.write_text(TINY.format(budget=budget, evaluator=evaluator, executor=executor))
    run_dir = tmp_path / "run"
    done = _cli("evolve", str(config), "--run-dir", str(run_dir))
    assert done.returncode == 0, done.stderr
    return run_dir


def _results(run_dir: Path) -> list[tuple[str, float | None, dict, str | None]]:
    with sqlite3.connect(f"file:{run_dir / FILENAME}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT status, fitness, metrics, error FROM evaluations WHERE final = 1 ORDER BY id"
        ).fetchall()
    return [(status, fitness, json.loads(metrics), error) for status, fitness, metrics, error in rows]


def _status(run_dir: Path) -> dict:
    done = _cli("status", str(run_dir), "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _assert_sized(results: list[tuple[str, float | None, dict, str | None]]) -> None:
    done = [metrics for status, _, metrics, _ in results if status == "done"]
    assert done
    for metrics in done:
        assert metrics["params"] > 0 and metrics["flops"] > 0, metrics


@pytest.mark.parametrize("executor", ["{kind: inline}", "{kind: local, workers: 2}"])
def test_plugin_scores_every_proposal(tmp_path: Path, executor: str) -> None:
    evaluator = '{kind: python, target: "plugins.my_evaluator:score", steps: 7, settings: {offset: 3}}'
    run_dir = _evolve(tmp_path, evaluator, executor)
    results = _results(run_dir)
    assert len(results) == 8 and all(status == "done" for status, *_ in results)
    for _, fitness, metrics, _ in results:
        assert fitness == metrics["accuracy"] and 0 <= fitness < 1
        assert metrics["steps"] == 7 and metrics["offset"] == 3  # the context reached the function
    _assert_sized(results)
    summary = _status(run_dir)
    assert summary["objectives"] == [{"name": "accuracy", "direction": "max", "unit": "fraction"}]
    assert summary["done"] == 8


def test_plugin_that_asks_for_the_module_and_minimises(tmp_path: Path) -> None:
    evaluator = (
        '{kind: python, target: "plugins.my_evaluator:size_only", '
        "objectives: [{name: size, direction: min, unit: parameters}], input_shape: [1, 8, 8]}"
    )
    run_dir = _evolve(tmp_path, evaluator)
    results = _results(run_dir)
    assert all(status == "done" for status, *_ in results)
    for _, fitness, metrics, _ in results:
        assert metrics["module_type"] == "Network"
        # Minimised: the fitness is the negated size, and the size is the template network's.
        assert fitness == -metrics["size"] and metrics["size"] == metrics["params"]
    assert _status(run_dir)["objectives"] == [{"name": "size", "direction": "min", "unit": "parameters"}]
    plain = _cli("status", str(run_dir))
    assert "fitness: size (parameters, min)" in plain.stdout


def test_a_raising_plugin_gives_failed_results(tmp_path: Path) -> None:
    run_dir = _evolve(tmp_path, '{kind: python, target: "plugins.my_evaluator:broken"}', budget=10)
    results = _results(run_dir)
    failed = [error for status, _, _, error in results if status == "failed"]
    assert failed and all(e.startswith("RuntimeError: this evaluator cannot score") for e in failed)
    assert any(status == "done" for status, *_ in results)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("plugins.nowhere:score", "evaluator.target: cannot import 'plugins.nowhere'"),
        ("plugins.my_evaluator:nothing", "has no function 'nothing'"),
        ("no_colon", "evaluator.target: expected 'package.module:function'"),
    ],
)
def test_a_bad_target_is_one_line_exit_2(tmp_path: Path, target: str, message: str) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(TINY.format(budget=2, evaluator=f'{{kind: python, target: "{target}"}}', executor="{}"))
    done = _cli("evolve", str(config), "--run-dir", str(tmp_path / "run"))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    assert not (tmp_path / "run").exists()


def test_table_and_training_runs_record_objectives_and_sizes(tmp_path: Path) -> None:
    table = synthetic_nb201_table(tmp_path / "table.csv")
    run_dir = tmp_path / "table-run"
    done = _cli(
        "evolve",
        "nb201",
        "--run-dir",
        str(run_dir),
        "--set",
        f"evaluator.table={table}",
        "--set",
        "budget=12",
    )
    assert done.returncode == 0, done.stderr
    results = _results(run_dir)
    _assert_sized(results)
    assert all(0 < fitness < 1 for status, fitness, _, _ in results if status == "done")
    assert _status(run_dir)["objectives"] == [{"name": "accuracy", "direction": "max", "unit": "fraction"}]

    evaluator = "{kind: train, steps: 3, batch_size: 16, schedule: constant}"
    (tmp_path / "train").mkdir()
    train_dir = _evolve(tmp_path / "train", evaluator, budget=3)
    results = _results(train_dir)
    _assert_sized(results)
    assert all(0 <= fitness <= 1 for status, fitness, _, _ in results if status == "done")
    assert _status(train_dir)["objectives"] == [{"name": "accuracy", "direction": "max", "unit": "fraction"}]
