"""A run directory is data: nothing in a journal is unpickled or executed, a format-1 journal is
upgraded without unpickling it, and a damaged or foreign journal is named in one line (exit 2) by
status, report, export and resume alike."""

from __future__ import annotations

import contextlib
import pickle
import shutil
import sqlite3
from pathlib import Path

import pytest

from evolution.journal import FILENAME, FORMAT_VERSION, Journal
from evolution.legacy_state import NotPlainData, read_plain_pickle
from tests.cli_helpers import run_cli
from tests.engine_helpers import as_format_2, journal_rows, run_table_search, synthetic_nb201_table

BUDGET = 12


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_nb201_table(tmp_path_factory.mktemp("table") / "nb201.csv")


def _evolve(run_dir: Path, table: Path, budget: int = BUDGET, strategy: str = "evolution") -> tuple[int, str]:
    code, _, err = run_cli(
        *("evolve", "nb201", "--run-dir", str(run_dir), "--strategy", strategy, "--budget", str(budget)),
        *("--set", f"evaluator.table={table}", "--set", "search.population=4"),
    )
    return code, err


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory, table: Path) -> Path:
    run_dir = tmp_path_factory.mktemp("runs") / "run"
    code, err = _evolve(run_dir, table)
    assert code == 0, err
    return run_dir


def _copy(run_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run_dir, tmp_path / "copy"))


def _as_format_1(journal: Path, blob: bytes) -> None:
    """Turn a journal into format 1: format 2's tables, the snapshot pickled in ``strategy_state``."""
    as_format_2(journal)
    with contextlib.closing(sqlite3.connect(journal)) as db, db:
        db.execute("DROP TABLE strategy_snapshot")
        db.execute("DROP TABLE strategy_blobs")
        db.execute("CREATE TABLE strategy_state (id INTEGER PRIMARY KEY CHECK (id = 1), state BLOB NOT NULL)")
        db.execute("INSERT INTO strategy_state VALUES (1, ?)", (blob,))
        db.execute("UPDATE meta SET value = '1' WHERE key = 'format_version'")


class _Plant:
    """Unpickled, this creates the file ``path``: what a hostile journal could do."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple:
        return (open, (str(self.path), "w"))


def test_a_malicious_pickle_is_never_unpickled(finished_run: Path, tmp_path: Path, table: Path) -> None:
    run_dir = _copy(finished_run, tmp_path)
    marker = tmp_path / "planted"
    _as_format_1(run_dir / FILENAME, pickle.dumps({"asked": 3, "payload": _Plant(marker)}, protocol=5))
    for command, arguments in {
        "status": ("status", str(run_dir)),
        "report": ("report", str(run_dir), "-o", str(tmp_path / "report.html")),
        "export": ("export", str(run_dir), "--format", "json", "-o", str(tmp_path / "exported")),
    }.items():
        code, _, err = run_cli(*arguments)
        assert code == 0, f"{command}: {err}"  # they read the other tables, never the snapshot
    code, err = _evolve(run_dir, table, budget=BUDGET + 4)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "not plain data" in err and "refers to code" in err, err
    assert not marker.exists()
    with contextlib.closing(sqlite3.connect(run_dir / FILENAME)) as db:  # the refused resume changed nothing
        assert db.execute("SELECT value FROM meta WHERE key = 'format_version'").fetchone() == ("1",)


def test_the_plain_data_reader_refuses_every_code_reference() -> None:
    assert read_plain_pickle(pickle.dumps({"a": [(1, 2.5)], "b": None, "c": b"\x00", "d": True}, 5)) == {
        "a": [(1, 2.5)],
        "b": None,
        "c": b"\x00",
        "d": True,
    }
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(NotPlainData):
            read_plain_pickle(pickle.dumps({"x": Path("/")}, protocol))
    with pytest.raises(NotPlainData):
        read_plain_pickle(b"not a pickle")


@pytest.mark.parametrize("strategy", ["evolution", "rl"])
def test_a_format_1_journal_is_upgraded_and_resumes_as_one_run(
    tmp_path: Path, table: Path, strategy: str
) -> None:
    whole, halves = tmp_path / "whole", tmp_path / "halves"
    run_table_search(whole, table, strategy=strategy, budget=24)
    run_table_search(halves, table, strategy=strategy, budget=12)
    journal = Journal.open(halves / FILENAME)
    state = journal.strategy_state()
    journal.close()
    assert state is not None
    _as_format_1(halves / FILENAME, pickle.dumps(state, protocol=5))
    run_table_search(halves, table, strategy=strategy, budget=24)
    assert journal_rows(halves) == journal_rows(whole)
    with contextlib.closing(sqlite3.connect(halves / FILENAME)) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'format_version'").fetchone() == (
            str(FORMAT_VERSION),
        )
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'strategy_state'").fetchone() is None


def _page_of(journal: Path, table_name: str) -> tuple[int, int]:
    with contextlib.closing(sqlite3.connect(journal)) as db:
        (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table_name,)).fetchone()
        (size,) = db.execute("PRAGMA page_size").fetchone()
    return root, size


def _corrupt_page(journal: Path) -> None:
    root, size = _page_of(journal, "evaluations")
    with journal.open("r+b") as file:
        file.seek((root - 1) * size)
        file.write(b"\xff" * size)


def _sql(statement: str):
    def damage(journal: Path) -> None:
        with contextlib.closing(sqlite3.connect(journal)) as db, db:
            db.execute(statement)

    return damage


_BEST = "(SELECT id FROM evaluations WHERE status = 'done' ORDER BY fitness DESC LIMIT 1)"

DAMAGE = {
    "corrupt page": (_corrupt_page, "malformed"),
    "text format version": (
        _sql("UPDATE meta SET value = 'two' WHERE key = 'format_version'"),
        "not a number",
    ),
    "dropped table": (_sql("DROP TABLE evaluations"), "no such table: evaluations"),
    "bad genotype JSON": (_sql("UPDATE proposals SET genotype = '{\"cell'"), "genotype of proposal"),
    "bad metrics JSON": (_sql("UPDATE evaluations SET metrics = '[1,'"), "metrics of evaluation"),
    "NULL fitness": (_sql("UPDATE evaluations SET fitness = NULL WHERE status = 'done'"), "None"),
    "text fitness": (_sql("UPDATE evaluations SET fitness = 'high' WHERE status = 'done'"), "'high'"),
    # One damaged row, the best one: it sorts last, so export, reading only its top rows, exited 0.
    # inf - inf is NaN, which SQLite stores as NULL (as it does a NaN written from Python).
    "one NaN fitness": (_sql(f"UPDATE evaluations SET fitness = 9e999 - 9e999 WHERE id = {_BEST}"), "None"),
    "one -inf fitness": (_sql(f"UPDATE evaluations SET fitness = -9e999 WHERE id = {_BEST}"), "-inf"),
    # SQLite keeps a text rung as text: comparing it with a number was a traceback in report and resume.
    "text rung": (_sql("UPDATE evaluations SET rung = 'x'"), "rung 'x', not a whole number from 0"),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_a_damaged_journal_is_one_line_and_exit_2_everywhere(
    finished_run: Path, tmp_path: Path, table: Path, case: str
) -> None:
    damage, problem = DAMAGE[case]
    run_dir = _copy(finished_run, tmp_path)
    damage(run_dir / FILENAME)
    results = {
        "status": run_cli("status", str(run_dir))[::2],
        "report": run_cli("report", str(run_dir), "-o", str(tmp_path / "report.html"))[::2],
        "export": run_cli("export", str(run_dir), "--format", "json", "-o", str(tmp_path / "exported"))[::2],
        "resume": _evolve(run_dir, table, budget=BUDGET + 4),
    }
    for command, (code, err) in results.items():
        assert code == 2, f"{command}: {err}"
        lines = err.strip().splitlines()
        assert len(lines) == 1 and str(run_dir / FILENAME) in lines[0] and problem in lines[0], (command, err)


@pytest.mark.parametrize(
    ("snapshot", "problem"),
    [("[1]", "the strategy snapshot is not a JSON object"), ('{"asked', "the strategy snapshot")],
)
def test_a_damaged_strategy_snapshot_refuses_the_resume_in_one_line(
    finished_run: Path, tmp_path: Path, table: Path, snapshot: str, problem: str
) -> None:
    # Only a resume reads the snapshot: it printed "resuming ..." and then the refusal.
    run_dir = _copy(finished_run, tmp_path)
    with contextlib.closing(sqlite3.connect(run_dir / FILENAME)) as db, db:
        db.execute("UPDATE strategy_snapshot SET state = ?", (snapshot,))
    before = journal_rows(run_dir)
    code, err = _evolve(run_dir, table, budget=BUDGET + 4)
    assert code == 2, err
    assert err.count("\n") == 1, err
    assert err.startswith(f"hiernas: error: {run_dir / FILENAME}: the journal is damaged ({problem}"), err
    assert journal_rows(run_dir) == before


def test_a_strategy_snapshot_of_the_wrong_shape_is_a_damaged_journal(
    finished_run: Path, tmp_path: Path, table: Path
) -> None:
    """Valid JSON that is not what the strategy saved ({} lacks every key): exit 2 and the
    damage named, not an internal error, and the journal untouched."""
    run_dir = _copy(finished_run, tmp_path)
    with contextlib.closing(sqlite3.connect(run_dir / FILENAME)) as db, db:
        db.execute("UPDATE strategy_snapshot SET state = '{}'")
    before = journal_rows(run_dir)
    code, err = _evolve(run_dir, table, budget=BUDGET + 4)
    assert code == 2, err
    assert "the journal is damaged (its strategy snapshot does not fit" in err.splitlines()[-1], err
    assert "Traceback" not in err and "internal error" not in err
    assert journal_rows(run_dir) == before


def test_a_journal_in_another_runs_directory_is_refused(tmp_path: Path, table: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    assert _evolve(first, table)[0] == 0
    code, _, err = run_cli(
        *("evolve", "nb201", "--run-dir", str(second), "--strategy", "random", "--budget", str(BUDGET)),
        *("--set", f"evaluator.table={table}"),
    )
    assert code == 0, err
    shutil.copy(first / FILENAME, second / FILENAME)
    code, _, err = run_cli(
        *("evolve", "nb201", "--run-dir", str(second), "--strategy", "random", "--budget", str(BUDGET + 4)),
        *("--set", f"evaluator.table={table}"),
    )
    assert code == 2 and "belongs to another run" in err and len(err.strip().splitlines()) == 1, err


def test_a_budget_below_what_is_finished_is_refused(finished_run: Path, tmp_path: Path, table: Path) -> None:
    run_dir = _copy(finished_run, tmp_path)
    code, err = _evolve(run_dir, table, budget=BUDGET - 5)
    assert code == 2 and f"less than the {BUDGET} evaluations" in err and f"--budget {BUDGET}" in err, err
    assert _evolve(run_dir, table, budget=BUDGET)[0] == 0  # the same budget is a resume with nothing to do


def test_meta_values_round_trip_as_json(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path / FILENAME)
    try:
        objectives = [{"name": "accuracy", "direction": "max", "unit": "fraction"}]
        with journal.transaction():
            journal.write_meta("objectives", objectives)
        assert journal.read_meta("objectives") == objectives
        assert journal.read_meta("format_version") == FORMAT_VERSION
        assert journal.read_meta("absent") is None
    finally:
        journal.close()
