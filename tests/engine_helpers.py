"""Helpers for the engine tests: a synthetic NB201 table and a reader of whole journals."""

from __future__ import annotations

import csv
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

from evolution.driver import Driver
from evolution.executors.inline import InlineExecutor
from evolution.journal import FILENAME, Journal
from evolution.registry import make_strategy
from evolution.run_status import RunStatus
from hiernas.evaluators.table import TableEvaluator
from hiernas.nb201 import all_archs
from motifs import PRESETS


def synthetic_nb201_table(path: Path, seed: int = 0) -> Path:
    """Every NB201 cell with made-up accuracies (a few of them conv-heavy favourites), so tests
    need no shared data."""
    rng = random.Random(seed)
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["index", "arch", "cifar10-val-12ep", "cifar10-test-12ep"])
        for index, arch in enumerate(sorted(all_archs())):
            score = 60 + 5 * arch.count("conv_3x3") + 2 * arch.count("conv_1x1") + rng.random() * 3
            writer.writerow([index, arch, round(score, 3), round(score + rng.gauss(0, 1), 3)])
    return path


def run_table_search(
    run_dir: Path,
    table: Path,
    *,
    strategy: str = "evolution",
    budget: int = 60,
    seed: int = 0,
    dedup: str = "reuse",
    aging: bool = False,
    predictor: dict | None = None,
) -> RunStatus:
    """One inline search on the table, into (or resuming) ``run_dir``; ``predictor``: the
    search.predictor setting (None: unguided)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / FILENAME
    journal = Journal.open(path) if path.exists() else Journal.create(path)
    settings = {
        "population": 10,
        "tournament": 0.25,
        "aging": aging,
        "init_mutations": 100,
        "rl": {"update_every": 5},
        "predictor": predictor,
    }
    try:
        search = make_strategy(strategy, PRESETS["nb201"], seed, settings)
        return Driver(
            search, InlineExecutor(TableEvaluator(table)), journal, budget=budget, seed=seed, dedup=dedup
        ).run()  # type: ignore[arg-type]
    finally:
        journal.close()


def journal_rows(run_dir: Path) -> dict[str, list[tuple]]:
    """The run's content without wall-clock times: what must match between two equal runs."""
    with sqlite3.connect(run_dir / FILENAME) as db:
        return {
            "proposals": db.execute(
                "SELECT id, strategy, origin, genotype, key, parent, mutation, extra, cached_from, waiting, told "
                "FROM proposals ORDER BY id"
            ).fetchall(),
            "evaluations": db.execute(
                "SELECT id, proposal, attempt, status, final, fitness, metrics, error FROM evaluations ORDER BY id"
            ).fetchall(),
        }


def start_table_search(run_dir: Path, table: Path, budget: int) -> subprocess.Popen[bytes]:
    """``hiernas evolve nb201`` (random search on ``table``) in its own process: a real writer for
    the tests that read a run while it is being written. Its output is discarded: nobody reads it,
    and a pipe left unread would fill and stall the writer."""
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "hiernas", "evolve", "nb201", "--run-dir", str(run_dir)),
            *("--budget", str(budget), "--strategy", "random", "--set", f"evaluator.table={table}"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def as_format_2(journal: Path) -> None:
    """Turn a journal into format 2: the evaluations table without its rung columns (rung, steps,
    from_steps, told), attempts unique per proposal, as hiernas wrote it before successive halving."""
    with sqlite3.connect(journal) as db:
        db.execute("PRAGMA foreign_keys = OFF")
        db.executescript(
            """
            BEGIN;
            CREATE TABLE evaluations_v2 (
                id INTEGER PRIMARY KEY,
                proposal INTEGER NOT NULL REFERENCES proposals(id),
                attempt INTEGER NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
                final INTEGER NOT NULL DEFAULT 1,
                fitness REAL,
                metrics TEXT NOT NULL DEFAULT '{}',
                worker TEXT,
                started REAL,
                ended REAL,
                error TEXT,
                UNIQUE (proposal, attempt)
            );
            INSERT INTO evaluations_v2 SELECT id, proposal, attempt, status, final, fitness, metrics, worker,
                started, ended, error FROM evaluations;
            DROP TABLE evaluations;
            ALTER TABLE evaluations_v2 RENAME TO evaluations;
            CREATE INDEX evaluations_by_proposal ON evaluations(proposal);
            UPDATE meta SET value = '2' WHERE key = 'format_version';
            COMMIT;
            """
        )
