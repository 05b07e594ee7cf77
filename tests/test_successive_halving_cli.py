"""Successive halving through the CLI (issue 13): ``hiernas evolve`` killed with SIGKILL in the
middle of a promotion and resumed, ``hiernas status`` showing the rungs, and bad ``search.fidelity``
values refused in one line.

The kill is paced, not timed: the evaluator (``tests/plugins/rung_evaluator.py:gated_stepped``)
finishes an evaluation only when the test grants a token, so the test knows that the run has three
results at rung 0 and that the evaluation in flight is the first promotion (the journal says it is
running at rung 1, the evaluator says it is waiting) when it kills the run.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evolution.journal import FILENAME

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

CONFIG = """
seed: 5
budget: 3
space: {{preset: hierarchical, init_mutations: 30}}
network: {{channels: 4, cells_per_stage: 1, stages: 1}}
evaluator:
  kind: python
  target: "tests.plugins.rung_evaluator:gated_stepped"
  steps: 27
  settings: {{gate: "{gate}"}}
search: {{strategy: evolution, population: 5, tournament: 0.4, fidelity: {{min_steps: 3, eta: 3}}}}
executor: {executor}
"""


def _env() -> dict[str, str]:
    path = os.pathsep.join([str(ROOT), str(TESTS), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "HIERNAS_THREADS": "1"}


def _hiernas(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hiernas", *args], capture_output=True, text=True, env=_env(), timeout=600
    )


def _query(run_dir: Path, sql: str) -> list[tuple]:
    if not (run_dir / FILENAME).exists():
        return []
    with sqlite3.connect(f"file:{run_dir / FILENAME}?mode=ro", uri=True) as db:
        return db.execute(sql).fetchall()


def _final_rows(run_dir: Path) -> list[tuple]:
    """(proposal, rung, steps, from_steps, status, fitness) of every final evaluation, in tell order."""
    return _query(
        run_dir,
        "SELECT proposal, rung, steps, from_steps, status, fitness FROM evaluations WHERE final = 1 "
        "ORDER BY told IS NULL, told, id",
    )


def _wait_for(condition, process: subprocess.Popen[str], what: str) -> None:  # type: ignore[no-untyped-def]
    """Poll until ``condition()``; the run ending first fails the test with its error."""
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the run ended while waiting for {what}: {process.stderr.read()}")  # type: ignore[union-attr]
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped by its new parent, does not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def _setup(tmp_path: Path, name: str, executor: str = "{kind: inline}") -> tuple[Path, Path, Path]:
    gate = tmp_path / f"{name}-gate"
    gate.mkdir()
    config = tmp_path / f"{name}.yaml"
    config.write_text(CONFIG.format(gate=gate, executor=executor))
    return config, gate, tmp_path / name


# Inline: the driver trains. Local: a worker process trains the promotion when its driver is killed
# (PR_SET_PDEATHSIG ends it too, so it cannot write a checkpoint into the resumed run).
EXECUTORS = ["{kind: inline}", "{kind: local, workers: 1}"]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("executor", EXECUTORS, ids=["inline", "local"])
def test_sigkill_in_the_middle_of_a_promotion_loses_and_repeats_nothing(
    tmp_path: Path, executor: str
) -> None:
    config, gate, run_dir = _setup(tmp_path, "killed", executor)
    process = subprocess.Popen(
        [sys.executable, "-m", "hiernas", "evolve", str(config), "--run-dir", str(run_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    for token in range(3):  # three results at rung 0: the fourth evaluation is the first promotion
        (gate / f"grant-{process.pid}-{token}").touch()
    _wait_for(
        lambda: (
            _query(run_dir, "SELECT rung FROM evaluations WHERE status = 'running'") == [(1,)]
            and any(gate.glob(f"waiting-{process.pid}-*"))
        ),
        process,
        "a promotion in flight",
    )
    # Local: the worker's own file names it (the evaluator marks its pid and its parent's, which
    # inline is this test's).
    workers = {int(f.name.split("-")[1]) for f in gate.glob("waiting-*")} - {process.pid, os.getpid()}
    assert len(workers) == (executor != EXECUTORS[0])
    process.send_signal(signal.SIGKILL)
    process.wait()
    for worker in workers:  # the orphaned worker dies with its driver, before anything is resumed
        while _alive(worker):
            time.sleep(0.02)
    before = _final_rows(run_dir)
    assert [row[1:5] for row in before] == [(0, 3, 0, "done")] * 3 + [(1, 9, 3, "running")]
    promoted = before[3][0]
    assert (run_dir / "checkpoints" / f"{promoted}-3.pt").is_file()  # kept for the promotion to continue

    (gate / "open").touch()
    resumed = _hiernas("evolve", str(config), "--run-dir", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr
    after = _final_rows(run_dir)
    assert after[:3] == before[:3]  # nothing finished was lost or changed
    # The promotion ran again, once, from the rung-0 checkpoint; the killed attempt is kept as lost.
    assert _query(
        run_dir,
        f"SELECT rung, attempt, final, status FROM evaluations WHERE proposal = {promoted} ORDER BY id",
    )[:3] == [(0, 1, 1, "done"), (1, 1, 0, "failed"), (1, 2, 1, "done")]
    assert after[3][:5] == (promoted, 1, 9, 3, "done")
    spent = sum(steps - start for _, _, steps, start, status, _ in after if status in ("done", "failed"))
    assert spent <= 3 * 27 and not [row for row in after if row[4] in ("pending", "running")]
    assert list((run_dir / "checkpoints").iterdir()) == []

    # The same run, never killed, finishes the same evaluations with the same results.
    config_whole, gate_whole, whole = _setup(tmp_path, "whole", executor)
    (gate_whole / "open").touch()
    done = _hiernas("evolve", str(config_whole), "--run-dir", str(whole))
    assert done.returncode == 0, done.stderr
    assert _final_rows(whole) == after

    status = _hiernas("status", str(run_dir), "--json")
    assert status.returncode == 0, status.stderr
    summary = json.loads(status.stdout)
    fidelity = summary["fidelity"]
    assert fidelity["steps_spent"] == spent and fidelity["full_steps"] == 27
    assert fidelity["rank_by"] == "fitness"  # the default
    assert fidelity["equivalents"] == pytest.approx(spent / 27)
    counted = {
        rung["rung"]: (rung["steps"], rung["done"], rung["failed"], rung["pending"])
        for rung in fidelity["rungs"]
    }
    for rung, steps in enumerate((3, 9, 27)):
        done_here = sum(1 for row in after if row[1] == rung and row[4] == "done")
        if done_here:
            assert counted[rung] == (steps, done_here, 0, 0)
    best = summary["best"]
    assert best["rung"] == max(row[1] for row in after)
    assert [entry["rung"] for entry in best["rungs"]] == list(range(best["rung"] + 1))
    assert best["rungs"][-1]["fitness"] == best["fitness"]
    plain = _hiernas("status", str(run_dir))
    assert plain.returncode == 0, plain.stderr
    assert f"{spent} training steps spent" in plain.stdout and "rung 1 (9 steps)" in plain.stdout


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (["search.fidelity.min_steps=27"], "min_steps 27 must be below the evaluator's full steps 27"),
        (["search.fidelity.min_steps=0"], "search.fidelity.min_steps"),
        (["search.fidelity.eta=1"], "search.fidelity.eta"),
        (["search.fidelity.rank_by=accuracy"], "search.fidelity.rank_by"),
        (["evaluator.target=tests.plugins.rung_evaluator:unaware"], "supports_fidelity"),
        (["evaluator.steps=null"], "has no evaluator.steps"),
    ],
)
def test_bad_fidelity_settings_are_one_line_and_exit_2(
    tmp_path: Path, overrides: list[str], named: str
) -> None:
    config, _, run_dir = _setup(tmp_path, "bad")
    args = [arg for override in overrides for arg in ("--set", override)]
    done = _hiernas("evolve", str(config), "--run-dir", str(run_dir), *args)
    assert done.returncode == 2, done.stderr
    assert named in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (run_dir / FILENAME).exists()


def test_a_table_evaluator_cannot_run_successive_halving(tmp_path: Path) -> None:
    done = _hiernas(
        *("evolve", "nb201", "--run-dir", str(tmp_path / "run"), "--set", "evaluator.table=absent.csv"),
        *("--set", "search.fidelity.min_steps=10"),
    )
    assert done.returncode == 2, done.stderr
    assert "the table evaluator cannot train" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def _dump(run_dir: Path) -> list[str]:
    """The journal's content (its bytes change when a writer merely opens and closes it)."""
    with sqlite3.connect(f"file:{run_dir / FILENAME}?mode=ro", uri=True) as db:
        return list(db.iterdump())


def _finished_run(tmp_path: Path) -> tuple[Path, Path]:
    """A config (the ungated evaluator) and its finished halving run, in about a second."""
    config, _, run_dir = _setup(tmp_path, "finished")
    config.write_text(config.read_text().replace("gated_stepped", "stepped"))
    done = _hiernas("evolve", str(config), "--run-dir", str(run_dir))
    assert done.returncode == 0, done.stderr
    return config, run_dir


def test_a_rung_beyond_the_ladder_is_a_damaged_journal(tmp_path: Path) -> None:
    # A run directory may be someone else's: a rung above search.fidelity's top was an IndexError
    # on resume, and hiernas status listed it as the best candidate.
    config, run_dir = _finished_run(tmp_path)
    with sqlite3.connect(run_dir / FILENAME) as db:
        db.execute("UPDATE evaluations SET rung = 99 WHERE id = 1")
    db.close()
    journal = _dump(run_dir)
    for command in (
        ("status", str(run_dir)),
        ("evolve", str(config), "--run-dir", str(run_dir), "--budget", "5"),
    ):
        done = _hiernas(*command)
        assert done.returncode == 2, done.stderr
        (error,) = done.stderr.splitlines()  # the refusal alone: evolve said "resuming ..." first
        assert error.startswith(f"hiernas: error: {run_dir / FILENAME}: the journal is damaged"), error
        assert "rung 99, beyond the top rung 2 of search.fidelity" in error, error
        assert "Traceback" not in done.stderr
    assert _dump(run_dir) == journal


def test_a_checkpoints_file_in_the_run_directory_is_refused_on_resume(tmp_path: Path) -> None:
    # The driver sweeps run_dir/checkpoints on resume: a file there was a FileExistsError traceback.
    config, run_dir = _finished_run(tmp_path)
    (run_dir / "checkpoints").rmdir()
    (run_dir / "checkpoints").write_text("not a folder\n")
    journal = (run_dir / FILENAME).read_bytes()
    done = _hiernas("evolve", str(config), "--run-dir", str(run_dir), "--budget", "5")
    assert done.returncode == 2, done.stderr
    assert (
        done.stderr == f"hiernas: error: {run_dir / 'checkpoints'}: exists and is not a directory "
        "(the run's rung checkpoints go there)\n"
    )
    assert (run_dir / FILENAME).read_bytes() == journal
    assert (run_dir / "checkpoints").read_text() == "not a folder\n"


def test_unreadable_fidelity_settings_in_a_run_directory_are_read_as_none(tmp_path: Path) -> None:
    # config.yaml is data: min_steps .inf made int() raise OverflowError in status and report,
    # where unreadable settings already mean "no ladder".
    _, run_dir = _finished_run(tmp_path)
    config = (run_dir / "config.yaml").read_text()
    (run_dir / "config.yaml").write_text(config.replace("min_steps: 3", "min_steps: .inf", 1))
    for command in (("status", str(run_dir)), ("report", str(run_dir), "-o", str(tmp_path / "r.html"))):
        done = _hiernas(*command)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
