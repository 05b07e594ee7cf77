"""One writer per run directory, readers always: two real ``hiernas evolve`` processes on one run
directory, a lock left behind by a killed writer, and a run read from a read-only directory."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evolution.journal import FILENAME
from hiernas.run_lock import LOCK_FILE
from tests.cli_helpers import run_cli
from tests.engine_helpers import start_table_search, synthetic_nb201_table

ROOT = Path(__file__).resolve().parent.parent
EVERY_NB201_CELL = 15_625  # a budget the first writer cannot finish while the test holds it


def _hiernas(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "hiernas", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def _wait_for(condition, what: str, process: subprocess.Popen | None = None) -> None:
    """Poll until ``condition()``; fail (not hang) if ``process`` ends first."""
    while not condition():
        if process is not None and process.poll() is not None:
            pytest.fail(f"the writer ended (exit {process.returncode}) before {what}")
        time.sleep(0.01)


def _lock_note(run_dir: Path) -> dict | None:
    try:
        return json.loads((run_dir / LOCK_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_nb201_table(tmp_path_factory.mktemp("table") / "nb201.csv")


def _evolve_args(run_dir: Path, table: Path, budget: int) -> list[str]:
    return [
        *("evolve", "nb201", "--run-dir", str(run_dir), "--budget", str(budget)),
        *("--strategy", "random", "--set", f"evaluator.table={table}"),
    ]


def test_a_second_writer_refuses_and_readers_read_and_a_dead_writers_lock_is_free(
    tmp_path: Path, table: Path
) -> None:
    run_dir = tmp_path / "run"
    first = start_table_search(run_dir, table, budget=EVERY_NB201_CELL)
    try:
        # The lock's note is written once the lock is held; then the writer is frozen (SIGSTOP keeps
        # its lock), so the rest does not depend on how fast it runs.
        _wait_for(lambda: (_lock_note(run_dir) or {}).get("pid") == first.pid, "it took the lock", first)
        _wait_for(lambda: (run_dir / FILENAME).is_file(), "it created its journal", first)
        first.send_signal(signal.SIGSTOP)
        second = _hiernas(*_evolve_args(run_dir, table, EVERY_NB201_CELL))
        assert second.returncode == 2, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert "another hiernas evolve is writing this run" in lines[0]
        assert f"pid {first.pid}" in lines[0] and "host " in lines[0] and "since " in lines[0]
        code, out, err = run_cli("status", str(run_dir), "--json")  # a reader, while the lock is held
        assert code == 0, err
        assert json.loads(out)["budget"] == EVERY_NB201_CELL
    finally:
        first.kill()  # SIGKILL ends a stopped process too
        first.wait()
    # The dead writer's note is still there, but the kernel dropped its lock: a resume runs.
    assert (_lock_note(run_dir) or {}).get("pid") == first.pid
    finished = json.loads(run_cli("status", str(run_dir), "--json")[1])
    budget = finished["done"] + finished["failed"] + 2
    code, _, err = run_cli(*_evolve_args(run_dir, table, budget))
    assert code == 0, err
    after = json.loads(run_cli("status", str(run_dir), "--json")[1])
    assert after["done"] + after["failed"] == budget
    assert (_lock_note(run_dir) or {}).get("pid") == os.getpid()  # the in-process resume wrote its note


def _as_reader_without_write_access(*args: str) -> subprocess.CompletedProcess[str]:
    """Run hiernas as a user who cannot write the run directory. Root writes anything while it
    holds CAP_DAC_OVERRIDE, so a root test runs it with that capability (and its kin) dropped."""
    if os.getuid() != 0:
        return _hiernas(*args)
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv (util-linux): cannot drop the power to write")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [
            setpriv,
            "--bounding-set=-dac_override,-dac_read_search,-fowner",
            sys.executable,
            "-m",
            "hiernas",
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def _read_only_copy(source: Path, target: Path, with_wal: bool = False) -> Path:
    target.mkdir()
    shutil.copy(source / "config.yaml", target / "config.yaml")
    shutil.copy(source / FILENAME, target / FILENAME)
    if with_wal:
        shutil.copy(source / f"{FILENAME}-wal", target / f"{FILENAME}-wal")
    for file in target.iterdir():
        file.chmod(0o444)
    target.chmod(0o555)
    return target


def test_a_run_in_a_read_only_directory_is_read(tmp_path: Path, table: Path) -> None:
    run_dir = tmp_path / "run"
    code, _, err = run_cli(*_evolve_args(run_dir, table, 6))
    assert code == 0, err
    assert not (run_dir / f"{FILENAME}-wal").exists()  # a finished writer leaves the file whole
    read_only = _read_only_copy(run_dir, tmp_path / "read-only")
    status = _as_reader_without_write_access("status", str(read_only), "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["done"] + json.loads(status.stdout)["failed"] == 6
    assert sorted(p.name for p in read_only.iterdir()) == ["config.yaml", FILENAME]


def test_a_read_only_directory_with_a_write_ahead_log_says_so(tmp_path: Path, table: Path) -> None:
    run_dir = tmp_path / "run"
    assert run_cli(*_evolve_args(run_dir, table, 6))[0] == 0
    writer = sqlite3.connect(run_dir / FILENAME)  # a writer caught mid-run: its commits sit in -wal
    try:
        writer.execute("PRAGMA journal_mode = WAL")
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        with writer:
            writer.execute("INSERT INTO meta VALUES ('note', '1')")
        read_only = _read_only_copy(run_dir, tmp_path / "read-only", with_wal=True)
    finally:
        writer.close()
    status = _as_reader_without_write_access("status", str(read_only))
    assert status.returncode == 2, status.stderr
    lines = status.stderr.strip().splitlines()
    assert len(lines) == 1 and "-wal" in lines[0] and "read-only" in lines[0], status.stderr
    assert "no meta table" not in lines[0]


def test_a_reader_that_cannot_create_the_shm_index_still_reads(tmp_path: Path, table: Path) -> None:
    """As on a full disk: the ``-shm`` index cannot be written (here it is /dev/full, where every
    write fails with ENOSPC), and no ``-wal`` file exists, so the reader opens the journal immutable
    instead of calling it no journal."""
    run_dir = tmp_path / "run"
    assert run_cli(*_evolve_args(run_dir, table, 6))[0] == 0
    (run_dir / f"{FILENAME}-shm").symlink_to("/dev/full")
    code, out, err = run_cli("status", str(run_dir), "--json")
    assert code == 0, err
    assert json.loads(out)["done"] + json.loads(out)["failed"] == 6


def test_a_directory_of_something_else_is_refused_without_a_lock_left_in_it(
    tmp_path: Path, table: Path
) -> None:
    (tmp_path / "thesis.tex").write_text("mine\n")
    code, _, err = run_cli(*_evolve_args(tmp_path, table, 6))
    assert code == 2 and "is not empty and holds no hiernas run" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis.tex"]
