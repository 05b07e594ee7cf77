"""``hiernas status``: what a run has done and the best it found, safe while the run writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evolution.objectives import OBJECTIVES_KEY, Objective
from hiernas.run_dir import open_journal_read_only, read_config


def run_summary(run_dir: Path, top: int = 1) -> dict[str, Any]:
    """Counts, budget, strategy and the best results, read in one consistent snapshot."""
    config = read_config(run_dir)
    journal = open_journal_read_only(run_dir)
    try:
        with journal.snapshot():
            counts = journal.counts()
            ranked = journal.top(top)
            objectives = journal.read_meta(OBJECTIVES_KEY)
    finally:
        journal.close()
    best = [
        {
            "fitness": r.fitness,
            "genotype": r.genotype,
            "metrics": r.metrics,
            "key": r.key,
            "proposal": r.proposal_id,
        }
        for r in ranked
    ]
    return {
        "run_dir": str(run_dir),
        "strategy": config.get("search", {}).get("strategy"),
        "budget": config.get("budget"),
        "objectives": objectives,
        **counts,
        "best": best[0] if best else None,
        "top": best,
    }


def run_status(run_dir: Path, *, as_json: bool, top: int) -> None:
    summary = run_summary(run_dir, top=max(1, top))
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    finished = summary["done"] + summary["failed"]
    print(
        f"{summary['run_dir']}: {summary['strategy']} search, {finished}/{summary['budget']} evaluations "
        f"({summary['done']} done, {summary['failed']} failed), {summary['cached']} cache hits, "
        f"{summary['pending']} pending"
    )
    if summary["objectives"]:
        print(f"  fitness: {Objective.from_dict(summary['objectives'][0]).describe()}")
    for rank, entry in enumerate(summary["top"], start=1):
        metrics = ", ".join(f"{k}={_short(v)}" for k, v in list(entry["metrics"].items())[:6])
        print(
            f"  #{rank} fitness {entry['fitness']:.4f}  key {entry['key'][:12]}  proposal {entry['proposal']}"
            + (f"  ({metrics})" if metrics else "")
        )
    if summary["best"] is None:
        print("  no finished evaluation yet")


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
