"""Run directories in trouble: not a run, a journal from the future, a full disk, a reader while the
run writes. Each gets a clear one-line error and nothing is corrupted."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from evolution.driver import Driver
from evolution.executors.inline import InlineExecutor
from evolution.journal import FILENAME, Journal, JournalError
from evolution.random_search import RandomSearch
from hiernas.run_dir import IDENTITY_KEY, run_identity
from motifs import PRESETS
from tests.cli_helpers import run_cli
from tests.engine_helpers import journal_rows, synthetic_nb201_table
from tests.evaluators import ToyEvaluator


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_nb201_table(tmp_path_factory.mktemp("table") / "nb201.csv")


TESTS = Path(__file__).resolve().parent


def _evolve(run_dir: Path, table: Path, budget: int, *extra: str) -> tuple[int, str, str]:
    return run_cli(
        "evolve",
        "nb201",
        "--run-dir",
        str(run_dir),
        "--budget",
        str(budget),
        "--strategy",
        "random",
        "--set",
        f"evaluator.table={table}",
        *extra,
    )


def _one_line_error(code: int, err: str, pattern: str, *, alone: bool = True) -> None:
    """``alone``: a refusal, the only line (no "resuming ..." before it); otherwise the run started,
    and said so, before the error."""
    assert code == 2, err
    lines = err.strip().splitlines()
    assert lines and lines[-1].startswith("hiernas: error: ") and pattern in lines[-1], err
    assert len(lines) == 1 or not alone, err
    assert "Traceback" not in err


def test_a_directory_that_is_not_a_run(tmp_path: Path, table: Path) -> None:
    stranger = tmp_path / "photos"
    stranger.mkdir()
    (stranger / "cat.jpg").write_bytes(b"\xff\xd8 not a run")
    _one_line_error(*run_cli("status", str(stranger))[::2], "not a hiernas run")
    _one_line_error(*_evolve(stranger, table, 5)[::2], "holds no hiernas run")
    assert [p.name for p in stranger.iterdir()] == ["cat.jpg"]
    _one_line_error(*run_cli("status", str(tmp_path / "absent"))[::2], "no such run directory")
    (stranger / "journal.sqlite").write_bytes(b"this is not sqlite at all, just some text " * 20)
    (stranger / "config.yaml").write_text("seed: 0\n")
    _one_line_error(*run_cli("status", str(stranger))[::2], "journal")


def test_a_journal_from_a_newer_format(tmp_path: Path, table: Path) -> None:
    run_dir = tmp_path / "run"
    assert _evolve(run_dir, table, 10)[0] == 0
    with sqlite3.connect(run_dir / FILENAME) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'format_version'")
    before = journal_rows(run_dir)
    _one_line_error(*run_cli("status", str(run_dir))[::2], "journal format 99 is newer")
    _one_line_error(*_evolve(run_dir, table, 20)[::2], "journal format 99 is newer")
    assert journal_rows(run_dir) == before


def test_resuming_with_a_different_configuration_names_the_keys(tmp_path: Path, table: Path) -> None:
    run_dir = tmp_path / "run"
    assert _evolve(run_dir, table, 10)[0] == 0
    before = journal_rows(run_dir)
    code, _, err = _evolve(run_dir, table, 20, "--seed", "5", "--set", "search.population=7")
    _one_line_error(code, err, "search.population, seed differ")
    assert journal_rows(run_dir) == before
    assert _evolve(run_dir, table, 20, "--workers", "1")[0] == 0  # budget and executor may change
    assert json.loads(run_cli("status", str(run_dir), "--json")[1])["done"] == 20


def test_a_run_started_before_a_setting_existed_resumes(tmp_path: Path, table: Path) -> None:
    """config.yaml lists every setting there was when the run started; one added since (here
    search.retry_failed, taken out as if the run were older) takes its default on resume."""
    run_dir = tmp_path / "run"
    assert _evolve(run_dir, table, 10)[0] == 0
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    del saved["search"]["retry_failed"]
    (run_dir / "config.yaml").write_text(yaml.safe_dump(saved, sort_keys=False))
    with sqlite3.connect(run_dir / FILENAME) as db:  # as that older run would have recorded it
        db.execute("UPDATE meta SET value = ? WHERE key = ?", (json.dumps(run_identity(saved)), IDENTITY_KEY))
    assert _evolve(run_dir, table, 15)[0] == 0
    code, _, err = _evolve(run_dir, table, 20, "--set", "search.retry_failed=3")
    _one_line_error(code, err, "search.retry_failed differ")
    assert json.loads(run_cli("status", str(run_dir), "--json")[1])["done"] == 15


def test_the_journal_filling_up_stops_cleanly_and_resumes(tmp_path: Path) -> None:
    """SQLITE_FULL (the page limit reached) is what a full disk looks like to the journal: the
    failed step is rolled back whole, and the run resumes from what was committed."""
    path = tmp_path / FILENAME

    def search(journal: Journal) -> Driver:
        strategy = RandomSearch(PRESETS["hierarchical"], seed=0, init_mutations=50)
        return Driver(strategy, InlineExecutor(ToyEvaluator()), journal, budget=500, seed=0)

    journal = Journal.create(path)
    (pages,) = journal.connection.execute("PRAGMA page_count").fetchone()
    journal.connection.execute(f"PRAGMA max_page_count = {pages + 12}")
    with pytest.raises(JournalError, match=r"database or disk is full.*can be resumed"):
        search(journal).run()
    journal.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    journal = Journal.open(path)
    done_before = journal.counts()["done"]
    assert 0 < done_before < 500
    status = search(journal).run()
    assert status.done == 500
    finals = journal.connection.execute(
        "SELECT proposal, COUNT(*) FROM evaluations WHERE final = 1 "
        "AND status = 'done' GROUP BY proposal HAVING COUNT(*) > 1"
    ).fetchall()
    assert finals == []


def _mount_tiny_filesystem(where: Path) -> None:
    where.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command: cannot make a tiny filesystem for the disk-full test")
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(where)], capture_output=True
    )
    if result.returncode != 0:
        pytest.skip(
            f"cannot mount a tiny tmpfs here ({result.stderr.decode().strip()}); "
            "the SQLITE_FULL test above covers the journal's side"
        )


def test_a_real_full_disk_through_the_cli(tmp_path: Path, table: Path) -> None:
    tiny = tmp_path / "tiny"
    _mount_tiny_filesystem(tiny)
    try:
        code, _, err = _evolve(tiny / "run", table, 2000)
        _one_line_error(code, err, "can be resumed", alone=False)  # the disk filled during the run
        rescued = tmp_path / "rescued"
        shutil.copytree(tiny / "run", rescued)
    finally:
        subprocess.run(["umount", str(tiny)], check=False)
    with sqlite3.connect(rescued / FILENAME) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    done = json.loads(run_cli("status", str(rescued), "--json")[1])["done"]
    assert _evolve(rescued, table, done + 50)[0] == 0  # a smaller budget than first asked: a quick test
    summary = json.loads(run_cli("status", str(rescued), "--json")[1])
    assert summary["done"] == done + 50 and summary["pending"] == 0


# A search whose evaluations each wait for a token from the test (tests/plugins/my_evaluator.py),
# so that the test knows the run is still writing while it reads.
GATED_SEARCH = """
seed: 0
budget: {budget}
space: {{preset: nb201, init_mutations: 50}}
evaluator: {{kind: python, target: "plugins.my_evaluator:gated", settings: {{gate: "{gate}"}}}}
search: {{strategy: random}}
executor: {{kind: inline, workers: 1}}
"""


def _start_gated_search(tmp_path: Path, budget: int) -> tuple[subprocess.Popen[bytes], Path, Path]:
    gate, run_dir, config = tmp_path / "gate", tmp_path / "run", tmp_path / "gated.yaml"
    gate.mkdir()
    config.write_text(GATED_SEARCH.format(budget=budget, gate=gate))
    path = os.pathsep.join([str(TESTS.parent), str(TESTS), os.environ.get("PYTHONPATH", "")])
    search = subprocess.Popen(
        [sys.executable, "-m", "hiernas", "evolve", str(config), "--run-dir", str(run_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": path},
    )
    return search, gate, run_dir


def test_status_while_the_run_writes(tmp_path: Path) -> None:
    """A real search in another process; status reads it over and over while it writes: never
    'database is locked', never a partial read, counts only grow. Each evaluation waits for a token,
    so every read taken before the next token is granted is provably a read of a live run."""
    budget = 12
    search, gate, run_dir = _start_gated_search(tmp_path, budget)
    last, live_reads, tokens = -1, 0, 0

    def read() -> None:
        nonlocal last
        if not (run_dir / FILENAME).exists():
            return
        code, out, err = run_cli("status", str(run_dir), "--json")
        if code == 2 and "config.yaml" in err:
            return  # the run directory is being created
        assert code == 0, err
        summary = json.loads(out)
        finished = summary["done"] + summary["failed"]
        assert last <= finished <= budget
        assert summary["pending"] <= 1 and (finished == 0 or summary["best"] is not None)
        last = finished

    try:
        while search.poll() is None:
            read()
            if search.poll() is None and last >= 0:
                live_reads += 1
            grant = gate / f"grant-{search.pid}-{tokens}"
            grant.touch()
            tokens += 1
            while grant.exists() and search.poll() is None:
                read()  # the run takes the token and writes its result meanwhile
                time.sleep(0.01)
    finally:
        search.kill()
        search.wait()
    assert search.returncode == 0
    read()
    assert last == budget
    # Every evaluation needed a token, and a read of the live run came before each grant.
    assert live_reads >= budget - 2, (live_reads, tokens)
