"""The run journal: a SQLite file (WAL) that is the source of truth of a search.

Every genotype proposed (JSON in the DESIGN.md format, canonical key, parent, mutation, strategy),
every evaluation attempt (status, fitness, metrics, worker, start and end, error text) and the
strategy's snapshot. Each event is one transaction that also carries the strategy snapshot, so the
file is consistent after a kill at any instant: a resumed run sees exactly the results that were
recorded, re-runs only what was in flight, and never records a result twice.

Tables (format version 1):
  meta(key, value)                 format_version, created
  proposals                        one row per proposal; ``told`` orders what the strategy was told;
                                   ``cached_from`` marks a reused result (a cache hit), ``waiting``
                                   a proposal waiting for an in-flight evaluation of the same network
  evaluations                      one row per attempt; ``final`` = 0 for an attempt whose worker
                                   was lost and which was run again
  strategy_state(id = 1)           the latest snapshot (pickled: numbers, and bytes for model weights)
"""

from __future__ import annotations

import json
import math
import os
import pickle
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evolution.evaluation import EvalResult
from evolution.strategy import Proposal, Told
from motifs import Genotype, Mutation

FORMAT_VERSION = 1
FILENAME = "journal.sqlite"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE proposals (
    id INTEGER PRIMARY KEY,
    created REAL NOT NULL,
    strategy TEXT NOT NULL,
    origin TEXT NOT NULL,
    genotype TEXT NOT NULL,
    key TEXT NOT NULL,
    parent INTEGER REFERENCES proposals(id),
    mutation TEXT,
    extra TEXT NOT NULL DEFAULT '{}',
    cached_from INTEGER REFERENCES evaluations(id),
    waiting INTEGER NOT NULL DEFAULT 0,
    told INTEGER UNIQUE
);
CREATE INDEX proposals_by_key ON proposals(key);
CREATE TABLE evaluations (
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
CREATE INDEX evaluations_by_proposal ON evaluations(proposal);
CREATE TABLE strategy_state (id INTEGER PRIMARY KEY CHECK (id = 1), state BLOB NOT NULL);
"""


class JournalError(Exception):
    """The journal cannot be used: not a run, a newer format, a full disk. One line, user-facing."""


@dataclass(frozen=True, slots=True)
class Unfinished:
    """An evaluation that was pending or running when the journal was last written."""

    evaluation_id: int
    proposal_id: int
    proposal: Proposal
    key: str
    attempt: int
    # It had started on a worker: the run stopped without handing it back (killed, crashed), so
    # this attempt counts (a network that takes the run down with it must not be retried forever).
    running: bool = False


@dataclass(frozen=True, slots=True)
class Ranked:
    """A finished evaluation as reports list it; the genotype stays in its file-format dict."""

    proposal_id: int
    key: str
    genotype: dict[str, Any]
    fitness: float
    metrics: dict[str, Any]
    evaluation_id: int


def _json(value: Any) -> str:
    return json.dumps(value, default=_plain, allow_nan=False, separators=(",", ":"))


def _plain(value: Any) -> Any:
    """numpy/torch scalars and other numbers in metrics become plain JSON values."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"metric value {value!r} of type {type(value).__name__} is not JSON-serialisable")


def _clean_metrics(metrics: Mapping[str, Any]) -> str:
    """Metrics as JSON; non-finite floats become null (JSON has no NaN)."""

    def clean(v: Any) -> Any:
        v = _plain(v) if hasattr(v, "item") else v
        return None if isinstance(v, float) and not math.isfinite(v) else v

    return _json({str(k): clean(v) for k, v in metrics.items()})


class Journal:
    """One connection to a run's journal. Writers: the driver only. Readers: ``read_only=True``."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection, self.path = connection, path

    # Opening -----------------------------------------------------------------------------------

    @classmethod
    def create(cls, path: Path) -> Journal:
        """A new journal. It is built under a temporary name and renamed into place, so a reader
        (``hiernas status`` a moment after the run starts) finds no journal or a complete one."""
        if path.exists():
            raise JournalError(f"{path}: a journal already exists")
        building = path.with_name(path.name + ".creating")
        building.unlink(missing_ok=True)
        journal = cls(cls._connect(building, read_only=False), building)
        try:
            with journal.transaction() as db:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
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
        if not path.is_file():
            raise JournalError(f"{path.parent}: not a hiernas run (no {path.name})")
        journal = cls(cls._connect(path, read_only=read_only), path)
        try:
            journal._check_format()
        except BaseException:
            journal.close()
            raise
        return journal

    @staticmethod
    def _connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
        try:
            if read_only:
                connection = sqlite3.connect(
                    f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
                )
            else:
                connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            # Readers wait for a writer's short transaction instead of failing with "locked".
            connection.execute("PRAGMA busy_timeout = 30000")
            if not read_only:
                connection.execute("PRAGMA journal_mode = WAL")
                # NORMAL in WAL mode: a committed transaction survives the process being killed;
                # only a power loss could take back the last few, and never corrupts the file.
                connection.execute("PRAGMA synchronous = NORMAL")
                connection.execute("PRAGMA foreign_keys = ON")
            return connection
        except sqlite3.DatabaseError as error:
            raise JournalError(f"{path}: cannot open the journal ({error})") from None

    def _check_format(self) -> None:
        try:
            row = self.connection.execute("SELECT value FROM meta WHERE key = 'format_version'").fetchone()
        except sqlite3.DatabaseError:
            raise JournalError(f"{self.path}: not a hiernas journal (no meta table)") from None
        if row is None:
            raise JournalError(f"{self.path}: not a hiernas journal (no format version)")
        version = int(row[0])
        if version > FORMAT_VERSION:
            raise JournalError(
                f"{self.path}: journal format {version} is newer than this hiernas "
                f"understands ({FORMAT_VERSION}); upgrade hiernas to read it"
            )

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
        self.connection.execute("BEGIN")
        try:
            yield self
        finally:
            self.connection.execute("COMMIT")

    # Writing (inside a transaction) ------------------------------------------------------------

    def insert_proposal(self, proposal: Proposal, key: str, strategy: str, *, waiting: bool = False) -> int:
        """Record a proposal; unless it waits for a duplicate in flight, also its first attempt
        (pending). Returns the proposal id."""
        cursor = self.connection.execute(
            "INSERT INTO proposals (created, strategy, origin, genotype, key, parent, mutation, extra, waiting) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                time.time(),
                strategy,
                proposal.origin,
                _json(proposal.genotype.to_dict()),
                key,
                proposal.parent,
                _json(proposal.mutation.to_dict()) if proposal.mutation else None,
                _json(dict(proposal.extra)),
                int(waiting),
            ),
        )
        proposal_id = int(cursor.lastrowid)
        if not waiting:
            self.connection.execute(
                "INSERT INTO evaluations (proposal, attempt, status) VALUES (?, 1, 'pending')", (proposal_id,)
            )
        return proposal_id

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

    def mark_running(self, evaluation_id: int, worker: str, started: float) -> None:
        self.connection.execute(
            "UPDATE evaluations SET status = 'running', worker = ?, started = ? WHERE id = ?",
            (worker, started, evaluation_id),
        )

    def record_result(
        self, evaluation_id: int, result: EvalResult, *, worker: str, started: float, ended: float
    ) -> int:
        """The final result of a proposal's evaluation; marks the proposal told. Returns its id."""
        self.connection.execute(
            "UPDATE evaluations SET status = ?, fitness = ?, metrics = ?, worker = ?, started = ?, ended = ?, "
            "error = ? WHERE id = ?",
            (
                result.status,
                result.fitness,
                _clean_metrics(result.metrics),
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
        self._tell(proposal_id, cached_from=None)
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
        proposal_id, attempt = self.connection.execute(
            "SELECT proposal, attempt FROM evaluations WHERE id = ?", (evaluation_id,)
        ).fetchone()
        cursor = self.connection.execute(
            "INSERT INTO evaluations (proposal, attempt, status) VALUES (?, ?, 'pending')",
            (proposal_id, attempt + 1),
        )
        return int(cursor.lastrowid)

    def requeue(self, evaluation_id: int) -> None:
        """An attempt that was running when the run stopped runs again, as the same attempt."""
        self.connection.execute(
            "UPDATE evaluations SET status = 'pending', worker = NULL, started = NULL WHERE id = ?",
            (evaluation_id,),
        )

    def save_state(self, state: Mapping[str, Any]) -> None:
        self.connection.execute(
            "INSERT OR REPLACE INTO strategy_state (id, state) VALUES (1, ?)",
            (pickle.dumps(dict(state), protocol=5),),
        )

    def _tell(self, proposal_id: int, *, cached_from: int | None) -> None:
        self.connection.execute(
            "UPDATE proposals SET told = (SELECT COALESCE(MAX(told), 0) + 1 FROM proposals), cached_from = ? "
            "WHERE id = ?",
            (cached_from, proposal_id),
        )

    # Reading -----------------------------------------------------------------------------------

    def strategy_state(self) -> dict[str, Any] | None:
        row = self.connection.execute("SELECT state FROM strategy_state WHERE id = 1").fetchone()
        return pickle.loads(row[0]) if row else None

    def finished_result(self, key: str, *, retry_failed: int = 0) -> tuple[int, EvalResult] | None:
        """The first done evaluation of this architecture; without one, its latest failed one, but
        only once it has failed more than ``retry_failed`` times (until then it is tried again)."""
        row = self.connection.execute(
            "SELECT e.id, e.status, e.fitness, e.metrics, e.error FROM evaluations e "
            "JOIN proposals p ON p.id = e.proposal "
            "WHERE p.key = ? AND e.final = 1 AND e.status = 'done' ORDER BY e.id LIMIT 1",
            (key,),
        ).fetchone()
        if row is not None:
            return row[0], _result(*row[1:])
        rows = self.connection.execute(
            "SELECT e.id, e.status, e.fitness, e.metrics, e.error FROM evaluations e "
            "JOIN proposals p ON p.id = e.proposal "
            "WHERE p.key = ? AND e.final = 1 AND e.status = 'failed' ORDER BY e.id DESC",
            (key,),
        ).fetchall()
        return (rows[0][0], _result(*rows[0][1:])) if len(rows) > retry_failed else None

    def history(self) -> list[Told]:
        """Every result the strategy was told, in the order it was told."""
        rows = self.connection.execute(
            "SELECT p.id, p.origin, p.genotype, p.parent, p.mutation, p.extra, "
            "e.status, e.fitness, e.metrics, e.error, p.cached_from IS NOT NULL FROM proposals p "
            "JOIN evaluations e ON e.id = COALESCE(p.cached_from, "
            "  (SELECT id FROM evaluations WHERE proposal = p.id AND final = 1)) "
            "WHERE p.told IS NOT NULL ORDER BY p.told"
        ).fetchall()
        return [Told(row[0], _proposal(*row[1:6]), _result(*row[6:10]), bool(row[10])) for row in rows]

    def unfinished(self) -> list[Unfinished]:
        rows = self.connection.execute(
            "SELECT e.id, p.id, p.origin, p.genotype, p.parent, p.mutation, p.extra, p.key, e.attempt, "
            "e.status = 'running' FROM evaluations e JOIN proposals p ON p.id = e.proposal "
            "WHERE e.status IN ('pending', 'running') ORDER BY e.id"
        ).fetchall()
        return [Unfinished(r[0], r[1], _proposal(*r[2:7]), r[7], r[8], bool(r[9])) for r in rows]

    def waiting(self) -> list[tuple[int, Proposal, str]]:
        rows = self.connection.execute(
            "SELECT id, origin, genotype, parent, mutation, extra, key FROM proposals WHERE waiting = 1 ORDER BY id"
        ).fetchall()
        return [(r[0], _proposal(*r[1:6]), r[6]) for r in rows]

    def proposal(self, proposal_id: int) -> Proposal:
        row = self.connection.execute(
            "SELECT origin, genotype, parent, mutation, extra FROM proposals WHERE id = ?", (proposal_id,)
        ).fetchone()
        return _proposal(*row)

    def counts(self) -> dict[str, int]:
        """done/failed: final evaluations; cached: reused results; pending: queued or running
        evaluations plus proposals waiting for one; lost: attempts that were run again."""
        (done, failed, pending, lost) = self.connection.execute(
            "SELECT COALESCE(SUM(final = 1 AND status = 'done'), 0), COALESCE(SUM(final = 1 AND status = 'failed'), 0), "
            "COALESCE(SUM(status IN ('pending', 'running')), 0), COALESCE(SUM(final = 0), 0) FROM evaluations"
        ).fetchone()
        (cached, waiting, proposed) = self.connection.execute(
            "SELECT COALESCE(SUM(cached_from IS NOT NULL), 0), COALESCE(SUM(waiting), 0), COUNT(*) FROM proposals"
        ).fetchone()
        return {
            "done": done,
            "failed": failed,
            "cached": cached,
            "pending": pending + waiting,
            "lost": lost,
            "proposed": proposed,
        }

    def top(self, limit: int) -> list[Ranked]:
        """The best finished evaluations, fittest first (ties: the earlier one)."""
        rows = self.connection.execute(
            "SELECT p.id, p.key, p.genotype, e.fitness, e.metrics, e.id FROM evaluations e "
            "JOIN proposals p ON p.id = e.proposal WHERE e.final = 1 AND e.status = 'done' "
            "ORDER BY e.fitness DESC, e.id LIMIT ?",
            (limit,),
        ).fetchall()
        return [Ranked(r[0], r[1], json.loads(r[2]), r[3], json.loads(r[4]), r[5]) for r in rows]

    def finished_count(self) -> int:
        (count,) = self.connection.execute(
            "SELECT COUNT(*) FROM evaluations WHERE final = 1 AND status IN ('done', 'failed')"
        ).fetchone()
        return int(count)

    # Meta ----------------------------------------------------------------------------------------

    def write_meta(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON) under ``key`` in the meta table, replacing what was there. Commits
        by itself outside a transaction, or with the enclosing one."""
        self.connection.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, _json(value)))

    def read_meta(self, key: str) -> Any | None:
        """The JSON value stored under ``key`` by ``write_meta``, or None when there is none."""
        row = self.connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])


def _proposal(origin: str, genotype: str, parent: int | None, mutation: str | None, extra: str) -> Proposal:
    return Proposal(
        Genotype.from_dict(json.loads(genotype)),
        origin,  # type: ignore[arg-type]
        parent=parent,
        mutation=Mutation.from_dict(json.loads(mutation)) if mutation else None,
        extra=json.loads(extra),
    )


def _result(status: str, fitness: float | None, metrics: str, error: str | None) -> EvalResult:
    return EvalResult(status, fitness, json.loads(metrics), error)  # type: ignore[arg-type]
