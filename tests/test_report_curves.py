"""The report's learning curves (issue 13) from real training runs: a search of the digits through
the real CLI (one evaluation per proposal: its training-loss curve), then the same journal with one
proposal's evaluations at two rungs, continued from a real checkpoint, as successive halving records
them (one done row per rung, each with its ``steps``)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest

from evolution.evaluation import EvalContext
from evolution.journal import FILENAME
from evolution.journal_rows import metrics_text
from hiernas import training
from hiernas.config import config_from_dict
from hiernas.evaluators.train import TrainEvaluator
from hiernas.report.runs import read_run
from hiernas.run_dir import read_config
from motifs import Genotype
from tests.cli_helpers import run_cli

STEPS, LOW = 12, 4
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(training.THREADS_ENV, "1")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three proposals of the digits search, each trained for 12 steps of 32 images."""
    path = tmp_path_factory.mktemp("runs") / "digits"
    settings = {
        "space.init_mutations": 10,
        "evaluator.steps": STEPS,
        "evaluator.batch_size": 32,
        "evaluator.warmup_steps": 0,
        "executor.kind": "inline",
        "executor.workers": 1,
        "executor.timeout": "null",
    }
    overrides = [item for key, value in settings.items() for item in ("--set", f"{key}={value}")]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(training.THREADS_ENV, "1")
        code, _, err = run_cli("evolve", "digits", "--run-dir", str(path), "--budget", "3", *overrides)
    assert code == 0, err
    return path


def _report(run_dir: Path, output: Path) -> str:
    code, _, err = run_cli("report", str(run_dir), "-o", str(output))
    assert code == 0, err
    return output.read_text()


def _section(text: str, name: str) -> str:
    start = text.index(f'<section id="{name}">')
    return text[start : text.index("</section>", start)]


def test_one_evaluation_per_proposal_shows_its_training_loss(run_dir: Path, tmp_path: Path) -> None:
    run = read_run(run_dir)
    assert run.done == 3 and len(run.curves) == 3
    with contextlib.closing(sqlite3.connect(run_dir / FILENAME)) as db:
        best = db.execute(
            "SELECT proposal, fitness, metrics FROM evaluations WHERE status = 'done' "
            "ORDER BY fitness DESC, id LIMIT 1"
        ).fetchone()
    first = run.curves[0]
    assert (first.proposal_id, first.fitness, first.steps) == (best[0], best[1], STEPS)
    # The curve drawn is the one the journal holds: every step of the 12 (the full run is short).
    assert [step for step, _ in first.loss_curve] == list(range(1, STEPS + 1))
    assert first.rungs == ((STEPS, best[1]),)
    text = _report(run_dir, tmp_path / "report.html")
    curves = _section(text, "curves")
    assert "data:image/png;base64," in curves and "Left: the training loss" in curves
    assert (tmp_path / "report-curves.png").read_bytes().startswith(PNG_MAGIC)


def test_several_rungs_of_one_proposal_are_one_candidate(run_dir: Path, tmp_path: Path) -> None:
    """One proposal re-evaluated as two rungs: 4 steps saved, then continued to 12."""
    saved = read_config(run_dir)
    evaluator = TrainEvaluator.from_config(
        config_from_dict({**saved, "evaluator": {**saved["evaluator"], "low_rung_validation": 100}})
    )
    copy = tmp_path / "digits"
    copy.mkdir()
    for name in ("config.yaml", FILENAME):
        (copy / name).write_bytes((run_dir / name).read_bytes())
    with contextlib.closing(sqlite3.connect(copy / FILENAME)) as db, db:
        proposal, genotype, evaluation = db.execute(
            "SELECT p.id, p.genotype, e.id FROM proposals p JOIN evaluations e ON e.proposal = p.id "
            "ORDER BY e.fitness ASC LIMIT 1"
        ).fetchone()
        network = Genotype.from_dict(json.loads(genotype))
        checkpoint = str(tmp_path / "rung.pt")
        low = evaluator(network, EvalContext(seed=1, steps=LOW, save_to=checkpoint))
        top = evaluator(network, EvalContext(seed=1, resume_from=checkpoint))
        assert low.ok and top.ok, (low.error, top.error)
        db.execute(
            "UPDATE evaluations SET fitness = ?, metrics = ? WHERE id = ?",
            (low.fitness, metrics_text(low.metrics), evaluation),
        )
        db.execute(
            "INSERT INTO evaluations (proposal, attempt, status, final, fitness, metrics) "
            "VALUES (?, 2, 'done', 1, ?, ?)",
            (proposal, top.fitness, metrics_text(top.metrics)),
        )
    run = read_run(copy)
    (candidate,) = [c for c in run.curves if c.proposal_id == proposal]
    assert candidate.steps == STEPS and candidate.fitness == top.fitness
    assert candidate.rungs == ((LOW, low.fitness), (STEPS, top.fitness))
    # The top rung's curve runs from step 1, across the continuation.
    assert [step for step, _ in candidate.loss_curve] == list(range(1, STEPS + 1))
    assert top.metrics["accuracy_curve"] == [[LOW, low.fitness, 100], [STEPS, top.fitness, 288]]
    text = _report(copy, tmp_path / "report.html")
    assert "data:image/png;base64," in _section(text, "curves")
