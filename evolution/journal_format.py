"""The journal's on-disk format: its schema, its version, and the upgrade from older versions.

Format 2 keeps the strategy snapshot as data, never as code: ``strategy_snapshot.state`` is JSON,
and every top-level ``bytes`` value of the snapshot (the RL controller's weights and Adam state, as
``torch.save`` bytes that the RL code reads back with ``weights_only=True``) is a row of
``strategy_blobs``. Nothing in a journal is ever unpickled.

Format 3 (successive halving) gives each evaluation row its rung: ``rung`` (0 without fidelity),
``steps`` (the training steps it was run to; NULL for the evaluator's full budget without fidelity),
``from_steps`` (the steps of the checkpoint it continued from; 0 from scratch) and ``told`` (its
place in the order the strategy was told results, now that one proposal is told once per rung). A
proposal's ``told`` is the place of its latest tell. Attempts are numbered per (proposal, rung). A
writer upgrades a format-2 journal by rebuilding the evaluations table (``upgrade_from_2``); a
reader of an older journal sees the same columns through temporary views (``compatibility_views``).

Format 1 pickled the snapshot. A writer that opens a format-1 journal (a resume) upgrades it in one
transaction: the old blob is decoded by ``legacy_state`` (which reads a pickle's opcodes without
executing any, and refuses a blob that refers to code), stored as format 2, and the old table is
dropped. Readers (status, report, export) read format 1 as it is: they never touch the snapshot.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from evolution.legacy_state import NotPlainData, read_plain_pickle

FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
FILENAME = "journal.sqlite"


class JournalError(Exception):
    """The journal cannot be used: not a run, a newer format, a full disk. One line, user-facing."""


SCHEMA = """
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
    rung INTEGER NOT NULL DEFAULT 0,
    steps INTEGER,
    from_steps INTEGER NOT NULL DEFAULT 0,
    attempt INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    final INTEGER NOT NULL DEFAULT 1,
    fitness REAL,
    metrics TEXT NOT NULL DEFAULT '{}',
    worker TEXT,
    started REAL,
    ended REAL,
    error TEXT,
    told INTEGER UNIQUE,
    UNIQUE (proposal, rung, attempt)
);
CREATE INDEX evaluations_by_proposal ON evaluations(proposal);
"""

EVALUATIONS_SCHEMA = SCHEMA[SCHEMA.index("CREATE TABLE evaluations") :]

# Format 1 and 2 rows as format 3 reads them: rung 0, the full budget, told when the proposal was.
_OLD_EVALUATIONS = (
    "SELECT e.id, e.proposal, 0 AS rung, NULL AS steps, 0 AS from_steps, e.attempt, e.status, "
    "e.final, e.fitness, e.metrics, e.worker, e.started, e.ended, e.error, "
    "(SELECT p.told FROM main.proposals p WHERE p.id = e.proposal AND p.cached_from IS NULL "
    "AND e.final = 1 AND e.status IN ('done', 'failed')) AS told FROM main.evaluations e"
)

SNAPSHOT_SCHEMA = """
CREATE TABLE strategy_snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL);
CREATE TABLE strategy_blobs (name TEXT PRIMARY KEY, data BLOB NOT NULL);
"""


def statements(script: str) -> list[str]:
    return [statement for statement in script.split(";") if statement.strip()]


def format_version(connection: sqlite3.Connection) -> int:
    """The journal's format version; ValueError (a one-line reason) when it is not a readable one."""
    try:
        row = connection.execute("SELECT value FROM meta WHERE key = 'format_version'").fetchone()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            raise ValueError("not a hiernas journal (no meta table)") from None
        raise
    if row is None:
        raise ValueError("not a hiernas journal (no format version)")
    try:
        version = int(row[0])
    except (TypeError, ValueError):
        raise ValueError(f"the format version {row[0]!r} is not a number; the journal is damaged") from None
    if version > FORMAT_VERSION:
        raise ValueError(
            f"journal format {version} is newer than this hiernas understands ({FORMAT_VERSION}); "
            f"upgrade hiernas to read it"
        )
    if version not in READABLE_VERSIONS:
        raise ValueError(f"journal format {version} is not one hiernas knows; the journal is damaged")
    return version


def split_snapshot(state: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The JSON part of a snapshot and its top-level bytes values (stored as blobs)."""
    plain = {k: v for k, v in state.items() if not isinstance(v, bytes | bytearray | memoryview)}
    blobs = {str(k): bytes(v) for k, v in state.items() if isinstance(v, bytes | bytearray | memoryview)}
    return plain, blobs


def upgrade_from_1(connection: sqlite3.Connection) -> None:
    """Format 1 → 2 (inside the caller's transaction); ValueError when the old snapshot is not
    plain data, in which case nothing changes."""
    row = connection.execute("SELECT state FROM strategy_state WHERE id = 1").fetchone()
    state: Any = None
    if row is not None:
        try:
            state = read_plain_pickle(bytes(row[0]))
        except NotPlainData as error:
            raise ValueError(
                f"the strategy snapshot of this format-1 journal is not plain data ({error}); hiernas "
                f"never loads code from a run directory, so it cannot resume this run: start a new "
                f"run directory (status, report and export still read this one)"
            ) from None
        if not isinstance(state, dict):
            raise ValueError(
                "the strategy snapshot of this format-1 journal is not a dict; the journal is damaged"
            )
    for statement in statements(SNAPSHOT_SCHEMA):
        connection.execute(statement)
    if state is not None:
        plain, blobs = split_snapshot(state)
        connection.execute(
            "INSERT INTO strategy_snapshot (id, state) VALUES (1, ?)",
            (json.dumps(plain, allow_nan=False, separators=(",", ":")),),
        )
        connection.executemany("INSERT INTO strategy_blobs (name, data) VALUES (?, ?)", blobs.items())
    connection.execute("DROP TABLE strategy_state")
    connection.execute("UPDATE meta SET value = '2' WHERE key = 'format_version'")


def upgrade_from_2(connection: sqlite3.Connection) -> None:
    """Format 2 → 3 (inside the caller's transaction, with foreign keys off): the evaluations table
    rebuilt with its rung columns, every old row at rung 0, told as its proposal was."""
    # SQLite's procedure for changing a table (sqlite.org/lang_altertable.html, section 7): build
    # the new one under another name, copy, drop the old, rename; proposals' references to
    # "evaluations" then name the new table.
    table, index = statements(EVALUATIONS_SCHEMA)
    connection.execute(table.replace("CREATE TABLE evaluations", "CREATE TABLE evaluations_v3", 1))
    connection.execute(
        "INSERT INTO evaluations_v3 " + _OLD_EVALUATIONS.replace("main.evaluations", "evaluations")
    )
    connection.execute("DROP TABLE evaluations")
    connection.execute("ALTER TABLE evaluations_v3 RENAME TO evaluations")
    connection.execute(index)
    connection.execute("UPDATE meta SET value = '3' WHERE key = 'format_version'")


def compatibility_views(connection: sqlite3.Connection, version: int) -> None:
    """A reader of a format-1 or -2 journal sees format 3's evaluation columns: a temporary view
    (in the connection's own temp schema, nothing is written to the file) shadows the table."""
    if version < 3:
        connection.execute(f"CREATE TEMP VIEW evaluations AS {_OLD_EVALUATIONS}")
