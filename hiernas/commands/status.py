"""``hiernas status``: what a run has done and the best it found, safe while the run writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evolution.objectives import OBJECTIVES_KEY, Objective
from hiernas.report.front import compute_front, front_json, run_constraints, run_objectives
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
            every_done = journal.top(journal.finished_count())
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
    front = compute_front(every_done, run_objectives(config, objectives), run_constraints(config))
    return {
        "run_dir": str(run_dir),
        "strategy": config.get("search", {}).get("strategy"),
        "budget": config.get("budget"),
        **counts,
        "best": best[0] if best else None,
        "top": best,
        # The evaluator's declared objectives; front_objectives (front_json): what the front uses.
        "objectives": objectives,
        **front_json(front),
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
    _print_front(summary)


def _print_front(summary: dict[str, Any]) -> None:
    """The front as a table: one row per member, the objectives as columns."""
    names = [objective["name"] for objective in summary["front_objectives"]]
    directions = ", ".join(f"{o['name']} {o['direction']}" for o in summary["front_objectives"])
    volume = summary["hypervolume"]
    reference = ", ".join(f"{k}={_short(v)}" for k, v in volume["reference"].items())
    print(
        f"  front ({directions}): {len(summary['front'])} member(s), "
        f"hypervolume {volume['value']:.6g} (reference {reference})"
    )
    if not summary["front"]:
        return
    header = ["proposal", *names, "key"]
    rows = [
        [str(m["proposal"]), *(_short(m["objectives"][n]) for n in names), m["key"][:12]]
        for m in summary["front"]
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("    " + "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
