"""The journal's reads for successive halving (``evolution.successive_halving``): what the driver
rebuilds its rungs from on resume, the training steps the budget counts, and what ``hiernas status``
shows per rung. A mixin of ``Journal``, kept apart so that each file holds one idea."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from evolution.journal_rows import load_json, reads, result_from, rung_from


def _metrics(text: Any, proposal: int) -> dict[str, Any]:
    metrics = load_json(text, f"the metrics of an evaluation of proposal {proposal}")
    return metrics if isinstance(metrics, dict) else {}


class RungReads:
    connection: sqlite3.Connection
    path: Path

    @reads
    def rung_rows(self) -> list[tuple[int, int, str, float | None, dict[str, Any]]]:
        """(proposal, rung, status, fitness, metrics) of every evaluation that is not a lost
        attempt, in the order their results were recorded (unfinished ones last): what ``Halving``
        is rebuilt from on resume (the metrics for ``rank_by: loss``)."""
        rows = self.connection.execute(
            "SELECT id, proposal, rung, status, fitness, metrics FROM evaluations WHERE final = 1 "
            "ORDER BY told IS NULL, told, id"
        ).fetchall()
        return [
            (
                r["proposal"],
                rung_from(r["rung"], f"evaluation {r['id']}"),
                r["status"],
                r["fitness"],
                _metrics(r["metrics"], r["proposal"]),
            )
            for r in rows
        ]

    @reads
    def rung_of(self, evaluation_id: int) -> int:
        (rung,) = self.connection.execute(
            "SELECT rung FROM evaluations WHERE id = ?", (evaluation_id,)
        ).fetchone()
        return rung_from(rung, f"evaluation {evaluation_id}")

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
        return [{**row, "rung": rung_from(row["rung"], "an evaluation")} for row in map(dict, rows)]

    @reads
    def rung_results(self, proposal_id: int) -> list[dict[str, Any]]:
        """A proposal's final result at each rung it was evaluated at, lowest first."""
        rows = self.connection.execute(
            "SELECT rung, steps, status, fitness, metrics, error, id FROM evaluations "
            "WHERE proposal = ? AND final = 1 AND status IN ('done', 'failed') ORDER BY rung",
            (proposal_id,),
        ).fetchall()
        return [
            {
                "rung": rung_from(r["rung"], f"evaluation {r['id']}"),
                "steps": r["steps"],
                **result_from(r).to_dict(),
            }
            for r in rows
        ]
