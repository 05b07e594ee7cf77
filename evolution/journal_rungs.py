"""The journal's reads for successive halving (``evolution.successive_halving``): what the driver
rebuilds its rungs from on resume, the training steps the budget counts, and what ``hiernas status``
shows per rung. A mixin of ``Journal``, kept apart so that each file holds one idea."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from evolution.evaluation import EvalResult
from evolution.journal_rows import reads, result_from


class RungReads:
    connection: sqlite3.Connection
    path: Path

    @reads
    def check_rungs(self) -> None:
        """A damaged journal (``JournalError``) when a rung is not a whole number from 0: SQLite
        stores whatever it is given (its column types are affinities), and a journal may be someone
        else's. Checked once when a journal is opened, so that every read can compare and index
        with rungs."""
        row = self.connection.execute(
            "SELECT id, rung FROM evaluations WHERE typeof(rung) != 'integer' OR rung < 0 ORDER BY id LIMIT 1"
        ).fetchone()
        if row is not None:
            raise ValueError(f"evaluation {row['id']} has rung {row['rung']!r}, not a whole number from 0")

    @reads
    def rung_rows(self) -> list[tuple[int, int, EvalResult]]:
        """(proposal, rung, result) of every evaluation that is not a lost attempt, in the order
        their results were recorded (unfinished ones last): what ``Halving`` is rebuilt from on
        resume (the result's metrics for ``rank_by: loss``)."""
        rows = self.connection.execute(
            "SELECT id, proposal, rung, status, fitness, metrics, error FROM evaluations WHERE final = 1 "
            "ORDER BY told IS NULL, told, id"
        ).fetchall()
        return [(r["proposal"], r["rung"], result_from(r)) for r in rows]

    @reads
    def check_top_rung(self, top: int) -> None:
        """A damaged journal (``JournalError``) when an evaluation lies above ``top``, the full-budget
        rung of the run's ladder: the config matches the journal, so such a row is not hiernas's."""
        row = self.connection.execute(
            "SELECT id, rung FROM evaluations WHERE final = 1 AND rung > ? ORDER BY id LIMIT 1", (top,)
        ).fetchone()
        if row is not None:
            raise ValueError(
                f"evaluation {row['id']} is at rung {row['rung']}, beyond the top rung {top} of search.fidelity"
            )

    @reads
    def rung_of(self, evaluation_id: int) -> int:
        (rung,) = self.connection.execute(
            "SELECT rung FROM evaluations WHERE id = ?", (evaluation_id,)
        ).fetchone()
        return int(rung)

    @reads
    def steps_spent(self) -> int:
        """Training steps of the finished evaluations (lost attempts do not count, as they do not
        count towards the budget): each its ``steps`` minus the checkpoint's it continued."""
        (spent,) = self.connection.execute(
            "SELECT COALESCE(SUM(steps - from_steps), 0) FROM evaluations "
            "WHERE final = 1 AND status IN ('done', 'failed') AND steps IS NOT NULL"
        ).fetchone()
        return int(spent)

    @reads
    def rung_counts(self) -> list[dict[str, int]]:
        """Per rung present in the journal: its steps and its done, failed and pending or running
        evaluations (lost attempts left out)."""
        rows = self.connection.execute(
            "SELECT rung, MAX(steps) AS steps, COALESCE(SUM(status = 'done'), 0) AS done, "
            "COALESCE(SUM(status = 'failed'), 0) AS failed, "
            "COALESCE(SUM(status IN ('pending', 'running')), 0) AS pending "
            "FROM evaluations WHERE final = 1 GROUP BY rung ORDER BY rung"
        ).fetchall()
        return [dict(row) for row in rows]

    @reads
    def rung_results(self, proposal_id: int) -> list[dict[str, Any]]:
        """A proposal's final result at each rung it was evaluated at, lowest first."""
        rows = self.connection.execute(
            "SELECT rung, steps, status, fitness, metrics, error, id FROM evaluations "
            "WHERE proposal = ? AND final = 1 AND status IN ('done', 'failed') ORDER BY rung",
            (proposal_id,),
        ).fetchall()
        return [{"rung": r["rung"], "steps": r["steps"], **result_from(r).to_dict()} for r in rows]
