"""The journal's reads of a run: the strategy's snapshot, what it was told, what is unfinished, the
counts and the ranking that ``status``, ``report`` and ``export`` show. A mixin of ``Journal``
(``evolution.journal``), kept apart from the writes so that each file holds one idea."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from evolution.evaluation import EvalResult
from evolution.journal_rows import Ranked, Unfinished, load_json, proposal_from, reads, result_from
from evolution.strategy import Proposal, Told


class RunReads:
    connection: sqlite3.Connection
    path: Path

    @reads
    def strategy_state(self) -> dict[str, Any] | None:
        row = self.connection.execute("SELECT state FROM strategy_snapshot WHERE id = 1").fetchone()
        if row is None:
            return None
        state = load_json(row["state"], "the strategy snapshot")
        if not isinstance(state, dict):
            raise ValueError("the strategy snapshot is not a JSON object")
        for blob in self.connection.execute("SELECT name, data FROM strategy_blobs"):
            state[blob["name"]] = bytes(blob["data"])
        return state

    @reads
    def finished_result(self, key: str, *, retry_failed: int = 0) -> tuple[int, EvalResult] | None:
        """The first done evaluation of this architecture at the highest rung it reached (successive
        halving: a duplicate gets the most trained result there is); without one, its latest failed
        one, but only once it has failed more than ``retry_failed`` times (until then it is tried
        again)."""
        row = self.connection.execute(
            "SELECT e.id, e.status, e.fitness, e.metrics, e.error FROM evaluations e "
            "JOIN proposals p ON p.id = e.proposal "
            "WHERE p.key = ? AND e.final = 1 AND e.status = 'done' ORDER BY e.rung DESC, e.id LIMIT 1",
            (key,),
        ).fetchone()
        if row is not None:
            return row["id"], result_from(row)
        rows = self.connection.execute(
            "SELECT e.id, e.status, e.fitness, e.metrics, e.error FROM evaluations e "
            "JOIN proposals p ON p.id = e.proposal "
            "WHERE p.key = ? AND e.final = 1 AND e.status = 'failed' ORDER BY e.id DESC",
            (key,),
        ).fetchall()
        return (rows[0]["id"], result_from(rows[0])) if len(rows) > retry_failed else None

    @reads
    def history(self) -> list[Told]:
        """Every result the strategy was told, in the order it was told: fresh results (one per
        rung with successive halving) and cache hits."""
        rows = self.connection.execute(
            "SELECT p.id AS proposal_id, p.origin, p.genotype, p.parent, p.mutation, p.extra, "
            "e.id, e.status, e.fitness, e.metrics, e.error, e.rung, t.cached "
            "FROM (SELECT told, id AS proposal, cached_from AS evaluation, 1 AS cached FROM proposals "
            "      WHERE cached_from IS NOT NULL AND told IS NOT NULL "
            "      UNION ALL SELECT told, proposal, id, 0 FROM evaluations WHERE told IS NOT NULL) t "
            "JOIN proposals p ON p.id = t.proposal JOIN evaluations e ON e.id = t.evaluation ORDER BY t.told"
        ).fetchall()
        return [
            Told(
                row["proposal_id"],
                proposal_from(row),
                result_from(row),
                bool(row["cached"]),
                row["rung"],
            )
            for row in rows
        ]

    @reads
    def unfinished(self) -> list[Unfinished]:
        rows = self.connection.execute(
            "SELECT e.id AS evaluation_id, p.id AS proposal_id, p.origin, p.genotype, p.parent, "
            "p.mutation, p.extra, p.key, e.attempt, e.rung, e.status = 'running' AS running "
            "FROM evaluations e JOIN proposals p ON p.id = e.proposal "
            "WHERE e.status IN ('pending', 'running') ORDER BY e.id"
        ).fetchall()
        return [
            Unfinished(
                r["evaluation_id"],
                r["proposal_id"],
                proposal_from(r),
                r["key"],
                r["attempt"],
                r["rung"],
                bool(r["running"]),
            )
            for r in rows
        ]

    @reads
    def waiting(self) -> list[tuple[int, Proposal, str]]:
        rows = self.connection.execute(
            "SELECT id AS proposal_id, origin, genotype, parent, mutation, extra, key FROM proposals "
            "WHERE waiting = 1 ORDER BY id"
        ).fetchall()
        return [(r["proposal_id"], proposal_from(r), r["key"]) for r in rows]

    @reads
    def proposal(self, proposal_id: int) -> Proposal:
        row = self.connection.execute(
            "SELECT id AS proposal_id, origin, genotype, parent, mutation, extra FROM proposals WHERE id = ?",
            (proposal_id,),
        ).fetchone()
        if row is None:
            raise KeyError(f"proposal {proposal_id} is missing")
        return proposal_from(row)

    @reads
    def counts(self) -> dict[str, int]:
        """done/failed: final evaluations; cached: reused results; pending: queued or running
        evaluations plus proposals waiting for one; lost: attempts that were run again."""
        evaluations = self.connection.execute(
            "SELECT COALESCE(SUM(final = 1 AND status = 'done'), 0) AS done, "
            "COALESCE(SUM(final = 1 AND status = 'failed'), 0) AS failed, "
            "COALESCE(SUM(status IN ('pending', 'running')), 0) AS pending, "
            "COALESCE(SUM(final = 0), 0) AS lost FROM evaluations"
        ).fetchone()
        proposals = self.connection.execute(
            "SELECT COALESCE(SUM(cached_from IS NOT NULL), 0) AS cached, COALESCE(SUM(waiting = 1), 0) AS waiting, "
            "COUNT(*) AS proposed FROM proposals"
        ).fetchone()
        return {
            "done": evaluations["done"],
            "failed": evaluations["failed"],
            "cached": proposals["cached"],
            "pending": evaluations["pending"] + proposals["waiting"],
            "lost": evaluations["lost"],
            "proposed": proposals["proposed"],
        }

    @reads
    def top(self, limit: int) -> list[Ranked]:
        """The best finished evaluations, fittest first (ties: the earlier one). With successive
        halving, each proposal once, at the highest rung it reached, ranked by that rung first and
        then by fitness: fitness after fewer steps is not comparable with full-budget fitness, and
        reaching a higher rung means having ranked in the top 1/eta below it."""
        rows = self.connection.execute(
            "SELECT p.id AS proposal_id, p.key, p.genotype, e.id, e.status, e.fitness, e.metrics, e.error, "
            "e.rung, e.steps FROM evaluations e JOIN proposals p ON p.id = e.proposal "
            "WHERE e.final = 1 AND e.status = 'done' AND e.rung = (SELECT MAX(x.rung) FROM evaluations x "
            "  WHERE x.proposal = e.proposal AND x.final = 1 AND x.status = 'done') "
            "ORDER BY e.rung DESC, e.fitness DESC, e.id LIMIT ?",
            (limit,),
        ).fetchall()
        ranked = []
        for r in rows:
            result = result_from(r)
            genotype = load_json(r["genotype"], f"the genotype of proposal {r['proposal_id']}")
            if not isinstance(genotype, dict):
                raise ValueError(f"the genotype of proposal {r['proposal_id']} is not a JSON object")
            ranked.append(
                Ranked(
                    r["proposal_id"],
                    r["key"],
                    genotype,
                    result.fitness,
                    dict(result.metrics),
                    r["id"],
                    r["rung"],
                    r["steps"],
                )
            )
        return ranked

    @reads
    def finished_count(self) -> int:
        (count,) = self.connection.execute(
            "SELECT COUNT(*) FROM evaluations WHERE final = 1 AND status IN ('done', 'failed')"
        ).fetchone()
        return int(count)
