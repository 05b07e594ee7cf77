"""The run journal: a SQLite file (WAL) that is the source of truth of a search.

Every genotype proposed (JSON in the DESIGN.md format, canonical key, parent, mutation, strategy),
every evaluation attempt (status, fitness, metrics, worker, start and end, error text) and the
strategy's snapshot. Each event is one transaction that also carries the strategy snapshot, so the
file is consistent after a kill at any instant: a resumed run sees exactly the results that were
recorded, re-runs only what was in flight, and never records a result twice.

Tables (format version 3, see ``journal_format``):
  meta(key, value)                 JSON values: format_version, created, and what callers store
                                   with ``write_meta`` (the run's identity, its objectives)
  proposals                        one row per proposal; ``told`` orders what the strategy was told;
                                   ``cached_from`` marks a reused result (a cache hit), ``waiting``
                                   a proposal waiting for an in-flight evaluation of the same network
  evaluations                      one row per attempt; ``final`` = 0 for an attempt whose worker
                                   was lost and which was run again. With successive halving a
                                   proposal has rows at several rungs: ``rung``, ``steps`` (trained
                                   to), ``from_steps`` (continued from), ``told`` (tell order)
  strategy_snapshot(id = 1)        the latest snapshot as JSON, without its bytes values, which are
  strategy_blobs(name, data)       rows here (model weights, in a format their strategy reads safely)

A journal is data, never code: nothing read from it is unpickled or executed. A damaged journal
(a corrupt page, a dropped table, bad JSON, a fitness that is not a number) raises ``JournalError``
naming the file and the problem.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from evolution.evaluation import EvalResult
from evolution.journal_connection import checked_version, connect, connect_reader
from evolution.journal_format import (
    FILENAME,
    FORMAT_VERSION,
    SCHEMA,
    SNAPSHOT_SCHEMA,
    JournalError,
    split_snapshot,
    statements,
    upgrade_from_1,
    upgrade_from_2,
)
from evolution.journal_reads import RunReads
from evolution.journal_rows import (
    Ranked,
    Unfinished,
    json_text,
    load_json,
    metrics_text,
    reads,
)
from evolution.journal_rungs import RungReads
from evolution.strategy import Proposal

__all__ = ["FILENAME", "FORMAT_VERSION", "Journal", "JournalError", "Ranked", "Unfinished"]


class Journal(RunReads, RungReads):
    """One connection to a run's journal. Writers: the driver only. Readers: ``read_only=True``."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection, self.path = connection, path
        connection.row_factory = sqlite3.Row
        self._blobs_written: dict[str, bytes] = {}  # what strategy_blobs holds, to skip rewrites

    # Opening -----------------------------------------------------------------------------------

    @classmethod
    def create(cls, path: Path) -> Journal:
        """A new journal. It is built under a temporary name and renamed into place, so a reader
        (``hiernas status`` a moment after the run starts) finds no journal or a complete one."""
        if path.exists():
            raise JournalError(f"{path}: a journal already exists")
        building = path.with_name(path.name + ".creating")
        building.unlink(missing_ok=True)
        journal = cls(connect(building), building)
        try:
            with journal.transaction() as db:
                for statement in statements(SCHEMA) + statements(SNAPSHOT_SCHEMA):
                    db.connection.execute(statement)
                db.connection.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [("format_version", str(FORMAT_VERSION)), ("created", repr(time.time()))],
                )
            journal.close()  # checkpoints the WAL into the file before it is renamed
            os.replace(building, path)
        except BaseException:
            journal.close()
            building.unlink(missing_ok=True)
            raise
        return cls.open(path)

    @classmethod
    def open(cls, path: Path, *, read_only: bool = False) -> Journal:
        """An existing journal. A writer upgrades a format-1 or -2 journal first
        (``journal_format``); a reader never writes, and reads every format."""
        if not path.is_file():
            raise JournalError(f"{path.parent}: not a hiernas run (no {path.name})")
        journal = cls(connect_reader(path) if read_only else connect(path), path)
        try:
            if not read_only:
                version = checked_version(journal.connection, path)
                if version == 1:
                    journal._upgrade_from_1()
                if version <= 2:
                    journal._upgrade_from_2()
            journal.check_rungs()
        except BaseException:
            journal.close()
            raise
        return journal

    def _upgrade_from_1(self) -> None:
        try:
            with self.transaction():
                upgrade_from_1(self.connection)
        except ValueError as error:
            raise JournalError(f"{self.path}: {error}") from None

    def _upgrade_from_2(self) -> None:
        # Rebuilding a table that proposals refer to needs foreign keys off, which SQLite only
        # allows outside a transaction.
        self.connection.execute("PRAGMA foreign_keys = OFF")
        try:
            with self.transaction():
                upgrade_from_2(self.connection)
        finally:
            self.connection.execute("PRAGMA foreign_keys = ON")

    def close(self) -> None:
        self.connection.close()

    @contextmanager
    def transaction(self) -> Iterator[Journal]:
        """One atomic step: everything written inside commits together or not at all (a full disk
        or any error rolls it back entirely). The write methods below must run inside one."""
        try:
            self.connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise JournalError(f"{self.path}: cannot write the journal ({error})") from None
        try:
            yield self
            self.connection.execute("COMMIT")
        except BaseException as error:
            self._blobs_written.clear()  # what was written in this step is gone
            # SQLite has already rolled back by itself after some errors (a full disk, an I/O error).
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK")
            if isinstance(error, sqlite3.DatabaseError):
                raise JournalError(
                    f"{self.path}: writing the journal failed ({error}); nothing of the "
                    f"failed step was recorded, and the run can be resumed"
                ) from None
            raise

    @contextmanager
    def snapshot(self) -> Iterator[Journal]:
        """Several reads that see one consistent state, even while a writer commits."""
        try:
            self.connection.execute("BEGIN")
        except sqlite3.DatabaseError as error:
            raise JournalError(f"{self.path}: cannot read the journal ({error})") from None
        try:
            yield self
        finally:
            # Ending a read transaction loses nothing; on a damaged file it may fail as well, and
            # the error that matters is the one the reads raised.
            with suppress(sqlite3.DatabaseError):
                self.connection.execute("COMMIT")

    # Meta --------------------------------------------------------------------------------------

    def write_meta(self, key: str, value: Any) -> None:
        """Store ``value`` (anything JSON can hold) under ``key``, replacing what was there. Inside
        a transaction it commits with it; outside one it commits at once."""
        self.connection.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json_text(value))
        )

    @reads
    def read_meta(self, key: str) -> Any | None:
        """The value stored under ``key``, or None when there is none."""
        row = self.connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else load_json(row["value"], f"meta value {key!r}")

    # Writing (inside a transaction) ------------------------------------------------------------

    def insert_proposal(
        self, proposal: Proposal, key: str, strategy: str, *, waiting: bool = False, steps: int | None = None
    ) -> int:
        """Record a proposal; unless it waits for a duplicate in flight, also its first attempt
        (pending, at rung 0, to ``steps``). Returns the proposal id."""
        cursor = self.connection.execute(
            "INSERT INTO proposals (created, strategy, origin, genotype, key, parent, mutation, extra, waiting) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                time.time(),
                strategy,
                proposal.origin,
                json_text(proposal.genotype.to_dict()),
                key,
                proposal.parent,
                json_text(proposal.mutation.to_dict()) if proposal.mutation else None,
                json_text(dict(proposal.extra)),
                int(waiting),
            ),
        )
        proposal_id = int(cursor.lastrowid)
        if not waiting:
            self.connection.execute(
                "INSERT INTO evaluations (proposal, rung, steps, attempt, status) VALUES (?, 0, ?, 1, 'pending')",
                (proposal_id, steps),
            )
        return proposal_id

    def insert_promotion(self, proposal_id: int, rung: int, steps: int) -> int:
        """A proposal promoted to ``rung``: its first attempt there (pending). Returns its id."""
        cursor = self.connection.execute(
            "INSERT INTO evaluations (proposal, rung, steps, attempt, status) VALUES (?, ?, ?, 1, 'pending')",
            (proposal_id, rung, steps),
        )
        return int(cursor.lastrowid)

    def pending_attempt(self, proposal_id: int) -> int:
        (evaluation_id,) = self.connection.execute(
            "SELECT id FROM evaluations WHERE proposal = ? AND status = 'pending' ORDER BY attempt DESC LIMIT 1",
            (proposal_id,),
        ).fetchone()
        return int(evaluation_id)

    def mark_cached(self, proposal_id: int, source: int) -> None:
        """The proposal is answered with evaluation ``source``'s result (a cache hit) and told."""
        self.connection.execute("UPDATE proposals SET waiting = 0 WHERE id = ?", (proposal_id,))
        self._tell(proposal_id, cached_from=source)

    def mark_running(self, evaluation_id: int, worker: str, started: float, from_steps: int = 0) -> None:
        """Started on ``worker``; ``from_steps``: the steps of the checkpoint it continues."""
        self.connection.execute(
            "UPDATE evaluations SET status = 'running', worker = ?, started = ?, from_steps = ? WHERE id = ?",
            (worker, started, from_steps, evaluation_id),
        )

    def record_result(
        self, evaluation_id: int, result: EvalResult, *, worker: str, started: float, ended: float
    ) -> int:
        """The final result of a proposal's evaluation (at one rung); marks it told. Returns the
        proposal's id."""
        self.connection.execute(
            "UPDATE evaluations SET status = ?, fitness = ?, metrics = ?, worker = ?, started = ?, ended = ?, "
            "error = ? WHERE id = ?",
            (
                result.status,
                result.fitness,
                metrics_text(result.metrics),
                worker,
                started,
                ended,
                result.error,
                evaluation_id,
            ),
        )
        (proposal_id,) = self.connection.execute(
            "SELECT proposal FROM evaluations WHERE id = ?", (evaluation_id,)
        ).fetchone()
        told = self._tell(proposal_id, cached_from=None)
        self.connection.execute("UPDATE evaluations SET told = ? WHERE id = ?", (told, evaluation_id))
        return int(proposal_id)

    def record_lost_attempt(
        self, evaluation_id: int, error: str, *, worker: str, started: float, ended: float
    ) -> int:
        """An attempt lost with its worker: kept as failed (not final), and a new attempt queued.
        Returns the new attempt's evaluation id."""
        self.connection.execute(
            "UPDATE evaluations SET status = 'failed', final = 0, worker = ?, started = ?, ended = ?, error = ? "
            "WHERE id = ?",
            (worker, started, ended, error, evaluation_id),
        )
        proposal_id, rung, steps, attempt = self.connection.execute(
            "SELECT proposal, rung, steps, attempt FROM evaluations WHERE id = ?", (evaluation_id,)
        ).fetchone()
        cursor = self.connection.execute(
            "INSERT INTO evaluations (proposal, rung, steps, attempt, status) VALUES (?, ?, ?, ?, 'pending')",
            (proposal_id, rung, steps, attempt + 1),
        )
        return int(cursor.lastrowid)

    def requeue(self, evaluation_id: int) -> None:
        """An attempt that was running when the run stopped runs again, as the same attempt."""
        self.connection.execute(
            "UPDATE evaluations SET status = 'pending', worker = NULL, started = NULL WHERE id = ?",
            (evaluation_id,),
        )

    def save_state(self, state: Mapping[str, Any]) -> None:
        """The strategy's snapshot: JSON, and its top-level bytes values as blobs. A blob the
        strategy hands back unchanged (the same object) is not written again."""
        plain, blobs = split_snapshot(state)
        self.connection.execute(
            "INSERT OR REPLACE INTO strategy_snapshot (id, state) VALUES (1, ?)", (json_text(plain),)
        )
        for name, data in blobs.items():
            if self._blobs_written.get(name) is not state[name]:
                self.connection.execute(
                    "INSERT OR REPLACE INTO strategy_blobs (name, data) VALUES (?, ?)", (name, data)
                )
                self._blobs_written[name] = state[name]
        for name in set(self._blobs_written) - set(blobs):
            self.connection.execute("DELETE FROM strategy_blobs WHERE name = ?", (name,))
            del self._blobs_written[name]

    def _tell(self, proposal_id: int, *, cached_from: int | None) -> int:
        """The next place in the tell order, given to the proposal (its latest tell). Returns it."""
        (told,) = self.connection.execute(
            "SELECT MAX(COALESCE((SELECT MAX(told) FROM proposals), 0), "
            "COALESCE((SELECT MAX(told) FROM evaluations), 0)) + 1"
        ).fetchone()
        self.connection.execute(
            "UPDATE proposals SET told = ?, cached_from = ? WHERE id = ?", (told, cached_from, proposal_id)
        )
        return int(told)

    def verify(self, top_rung: int | None = None) -> None:
        """Read every row a resume reads, so that a damaged journal is named before anything is
        written to it (and before the run says it resumes), but the strategy snapshot: a format-1
        journal has it only once opened for writing, which upgrades it. ``top_rung``: with successive
        halving, the ladder's full-budget rung, which no evaluation may lie above."""
        with self.snapshot():
            self.history()
            self.unfinished()
            self.waiting()
            self.rung_rows()
            if top_rung is not None:
                self.check_top_rung(top_rung)
