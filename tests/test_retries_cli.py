"""``search.retry_failed`` through the CLI (issue 11, "Failures are reused forever"): a network whose
evaluation failed is evaluated again when it is proposed again, up to ``retry_failed`` times, and
only then is its failure reused. The plug-in evaluator ``tests/plugins/fail_first.py`` fails the
first call for every network, as a timeout or a shared GPU's out-of-memory would."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from evolution.journal import FILENAME
from tests.plugins.fail_first import MARKERS

TESTS = Path(__file__).resolve().parent

# NB201's cell, random search one mutation away from the identity chain: few distinct networks, so
# the same ones are proposed again and again.
CONFIG = """
seed: 0
budget: 30
space: {preset: nb201, init_mutations: 1}
evaluator: {kind: python, target: "plugins.fail_first:fail_first_call"}
search: {strategy: random, dedup: reuse}
executor: {kind: inline, workers: 1}
"""


def _evolve(tmp_path: Path, name: str, *overrides: str) -> Path:
    config, run_dir, markers = tmp_path / "search.yaml", tmp_path / name, tmp_path / f"{name}-markers"
    config.write_text(CONFIG)
    markers.mkdir()
    command = [sys.executable, "-m", "hiernas", "evolve", str(config), "--run-dir", str(run_dir)]
    for override in overrides:
        command += ["--set", override]
    path = os.pathsep.join([str(TESTS.parent), str(TESTS), os.environ.get("PYTHONPATH", "")])
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": path, MARKERS: str(markers), "HIERNAS_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return run_dir


def _by_network(run_dir: Path) -> dict[str, list[tuple[str, str]]]:
    """Network key -> in proposal order, ('evaluated', status) for a proposal that was evaluated,
    ('reused', status of the result it reused) for one answered from an earlier result."""
    with sqlite3.connect(run_dir / FILENAME) as db:
        rows = db.execute(
            "SELECT p.key, e.status, c.status FROM proposals p "
            "LEFT JOIN evaluations e ON e.proposal = p.id AND e.final = 1 "
            "LEFT JOIN evaluations c ON c.id = p.cached_from ORDER BY p.id"
        ).fetchall()
    networks: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for key, evaluated, reused in rows:
        networks[key].append(("reused", reused) if reused is not None else ("evaluated", evaluated))
    return networks


def test_a_failed_network_is_evaluated_again_once_by_default(tmp_path: Path) -> None:
    networks = _by_network(_evolve(tmp_path, "retry"))
    proposed_again = {key: history for key, history in networks.items() if len(history) > 1}
    assert proposed_again, "the search proposed no network twice"
    for history in networks.values():
        # The first evaluation fails; the second proposal evaluates again, and then is done;
        # every later proposal reuses that result.
        assert history[0] == ("evaluated", "failed")
        assert history[1:2] in ([], [("evaluated", "done")])
        assert all(entry == ("reused", "done") for entry in history[2:]), history
    assert any(len(history) > 2 for history in proposed_again.values()), "no done result was reused"


def test_with_retry_failed_0_a_failure_is_reused(tmp_path: Path) -> None:
    networks = _by_network(_evolve(tmp_path, "reuse", "search.retry_failed=0"))
    assert any(len(history) > 1 for history in networks.values()), "the search proposed no network twice"
    for history in networks.values():
        assert history[0] == ("evaluated", "failed")
        assert all(entry == ("reused", "failed") for entry in history[1:]), history
