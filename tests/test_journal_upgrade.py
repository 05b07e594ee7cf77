"""Journal format 3 (successive halving's rung columns) and the journals written before it: a
format-2 journal reads the same as it did (status, report, export never write to it), and a resume
upgrades it in one transaction and continues as one run."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from evolution.journal import FILENAME, FORMAT_VERSION, Journal
from tests.cli_helpers import run_cli
from tests.engine_helpers import as_format_2, journal_rows, run_table_search, synthetic_nb201_table


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_nb201_table(tmp_path_factory.mktemp("table") / "nb201.csv")


def _version(journal: Path) -> str:
    with contextlib.closing(sqlite3.connect(journal)) as db:
        return db.execute("SELECT value FROM meta WHERE key = 'format_version'").fetchone()[0]


def _reads(run_dir: Path) -> tuple:
    journal = Journal.open(run_dir / FILENAME, read_only=True)
    try:
        with journal.snapshot():
            return (
                journal.history(),
                journal.top(5),
                journal.counts(),
                journal.unfinished(),
                journal.finished_count(),
                journal.rung_counts(),
                journal.steps_spent(),
                journal.finished_result(journal.top(1)[0].key),
            )
    finally:
        journal.close()


def test_a_format_2_journal_reads_as_it_did_without_being_written(tmp_path: Path, table: Path) -> None:
    current = tmp_path / "current"
    assert (
        run_cli(
            "evolve",
            "nb201",
            "--run-dir",
            str(current),
            "--budget",
            "20",
            "--set",
            f"evaluator.table={table}",
        )[0]
        == 0
    )
    old = Path(shutil.copytree(current, tmp_path / "old"))
    as_format_2(old / FILENAME)
    assert _reads(old) == _reads(current)
    code, out, err = run_cli("status", str(old), "--json")
    assert code == 0, err
    assert json.loads(out)["fidelity"] is None
    assert out.replace(str(old), "RUN") == run_cli("status", str(current), "--json")[1].replace(
        str(current), "RUN"
    )
    assert _version(old / FILENAME) == "2"


@pytest.mark.parametrize("strategy", ["evolution", "pareto"])
def test_a_format_2_journal_is_upgraded_and_resumes_as_one_run(
    tmp_path: Path, table: Path, strategy: str
) -> None:
    whole, halves = tmp_path / "whole", tmp_path / "halves"
    run_table_search(whole, table, strategy=strategy, budget=24)
    run_table_search(halves, table, strategy=strategy, budget=12)
    as_format_2(halves / FILENAME)
    run_table_search(halves, table, strategy=strategy, budget=24)
    assert _version(halves / FILENAME) == str(FORMAT_VERSION) == "3"
    assert journal_rows(halves) == journal_rows(whole)
    with contextlib.closing(sqlite3.connect(halves / FILENAME)) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(evaluations)")]
        assert {"rung", "steps", "from_steps", "told"} <= set(columns)
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        # Every fresh result keeps its place in the tell order, now on its evaluation.
        told = db.execute(
            "SELECT e.told, p.told FROM evaluations e JOIN proposals p ON p.id = e.proposal "
            "WHERE e.final = 1 AND p.cached_from IS NULL"
        ).fetchall()
        assert told and all(mine == theirs for mine, theirs in told)
    assert _reads(halves)[0] == _reads(whole)[0]
