"""The Ray executor against a real local Ray instance: results, a killed actor, a timeout."""

from __future__ import annotations

from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is the optional extra hiernas[ray]")

from evolution.driver import Driver  # noqa: E402
from evolution.executors.ray import RayExecutor  # noqa: E402
from evolution.journal import FILENAME, Journal  # noqa: E402
from evolution.random_search import RandomSearch  # noqa: E402
from motifs import PRESETS  # noqa: E402
from tests.evaluators import FaultyEvaluator, ToyEvaluator  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def _search(seed: int = 0) -> RandomSearch:
    return RandomSearch(PRESETS["hierarchical"], seed=seed, init_mutations=50)


def test_ray_actors_evaluate_a_search(local_ray, tmp_path: Path) -> None:
    journal = Journal.create(tmp_path / FILENAME)
    status = Driver(
        _search(), RayExecutor(ToyEvaluator(delay=0.05), workers=2), journal, budget=8, seed=0
    ).run()
    assert status.done == 8
    workers = {row[0] for row in journal.connection.execute("SELECT worker FROM evaluations")}
    assert {w.split()[0] for w in workers} == {"ray-actor-0@cpu", "ray-actor-1@cpu"}
    node = ray.get_runtime_context().get_node_id()[:12]
    assert all(f" node={node} " in w and " pid=" in w for w in workers)
    assert ray.is_initialized()  # an instance the executor did not start is left running


def test_a_killed_actor_is_retried(local_ray, tmp_path: Path) -> None:
    # No timeout here: a healthy evaluation must never race one on a loaded machine (the hang
    # below has a test of its own).
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    evaluator = FaultyEvaluator(scratch, {1: "die_once", 4: "raise"})
    journal = Journal.create(tmp_path / FILENAME)
    executor = RayExecutor(evaluator, workers=2)
    status = Driver(_search(1), executor, journal, budget=7, seed=1).run()
    assert status.finished == 7 and status.lost == 1
    rows = journal.connection.execute(
        "SELECT attempt, status, final, error FROM evaluations ORDER BY id"
    ).fetchall()
    lost = [r for r in rows if r[2] == 0]
    assert len(lost) == 1 and "Ray actor lost" in lost[0][3]
    errors = [r[3] for r in rows if r[2] == 1 and r[1] == "failed"]
    assert [e.split(":")[0] for e in errors] == ["ValueError"]
    assert any(r[0] == 2 and r[1] == "done" for r in rows)  # the retried evaluation succeeded


def test_a_hung_actor_times_out(local_ray, tmp_path: Path) -> None:
    """The only evaluation hangs: the timeout stops it, with no healthy evaluation to race it."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    executor = RayExecutor(FaultyEvaluator(scratch, {0: "hang"}), workers=1, timeout=1.0)
    journal = Journal.create(tmp_path / FILENAME)
    status = Driver(_search(1), executor, journal, budget=1, seed=1).run()
    assert status.failed == 1 and status.done == 0
    [(error,)] = journal.connection.execute("SELECT error FROM evaluations WHERE final = 1").fetchall()
    assert error.startswith("timeout: the evaluation ran longer than 1 s"), error
