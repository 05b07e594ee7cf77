"""``hiernas status``: what a run has done and the best it found, safe while the run writes.

With successive halving (``search.fidelity``) it also shows the candidates per rung and the
training steps spent; ``--json`` has them under ``fidelity`` (``rungs``: per rung ``rung``,
``steps``, ``done``, ``failed``, ``pending``; ``steps_spent``, ``full_steps``, ``equivalents``), and
each of the best candidates (``best``, ``top``) carries ``rung``, ``steps`` and ``rungs``, its
result at each rung it reached (``rung``, ``steps``, ``status``, ``fitness``, ``metrics``,
``error``). Without it, ``fidelity`` is null and those keys are absent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evolution.journal import Journal
from evolution.objectives import OBJECTIVES_KEY, Objective
from hiernas.report.front import front_json, full_budget_rung, run_front
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
            fidelity = _fidelity(journal, config)
            ladders = {r.proposal_id: journal.rung_results(r.proposal_id) for r in ranked} if fidelity else {}
    finally:
        journal.close()
    best = [
        {
            "fitness": r.fitness,
            "genotype": r.genotype,
            "metrics": r.metrics,
            "key": r.key,
            "proposal": r.proposal_id,
            **({"rung": r.rung, "steps": r.steps, "rungs": ladders[r.proposal_id]} if fidelity else {}),
        }
        for r in ranked
    ]
    front = run_front(every_done, config, objectives)
    return {
        "run_dir": str(run_dir),
        "strategy": config.get("search", {}).get("strategy"),
        "budget": config.get("budget"),
        **counts,
        "fidelity": fidelity,
        "best": best[0] if best else None,
        "top": best,
        # The evaluator's declared objectives; front_objectives (front_json): what the front uses.
        "objectives": objectives,
        **front_json(front),
    }


def _fidelity(journal: Journal, config: dict[str, Any]) -> dict[str, Any] | None:
    """Candidates per rung and steps spent, or None for a run without successive halving."""
    search, evaluator = config.get("search") or {}, config.get("evaluator") or {}
    settings = search.get("fidelity") if isinstance(search, dict) else None
    full = evaluator.get("steps") if isinstance(evaluator, dict) else None
    if not isinstance(settings, dict) or not isinstance(full, int) or full < 1:
        return None
    spent = journal.steps_spent()
    rungs, top = journal.rung_counts(), full_budget_rung(config)
    if top > 0:  # a journal from someone else: never shown as if a rung were above the full budget
        journal.check_top_rung(top)
    return {
        "min_steps": settings.get("min_steps"),
        "eta": settings.get("eta"),
        "rank_by": settings.get("rank_by", "fitness"),  # a run from before the setting ranked by fitness
        "rungs": rungs,
        "steps_spent": spent,
        "full_steps": full,
        "equivalents": spent / full,
    }


def run_status(run_dir: Path, *, as_json: bool, top: int) -> None:
    summary = run_summary(run_dir, top=max(1, top))
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    finished = summary["done"] + summary["failed"]
    used = (
        f"{finished}/{summary['budget']} evaluations"
        if summary["fidelity"] is None
        else f"{summary['fidelity']['equivalents']:.2f}/{summary['budget']} full-budget equivalents, "
        f"{finished} rung evaluations"
    )
    print(
        f"{summary['run_dir']}: {summary['strategy']} search, {used} "
        f"({summary['done']} done, {summary['failed']} failed), {summary['cached']} cache hits, "
        f"{summary['pending']} pending"
    )
    fidelity = summary["fidelity"]
    if fidelity is not None:
        rungs = fidelity["rungs"]
        print(
            f"  successive halving (eta {fidelity['eta']}, ranked by {fidelity['rank_by']}): "
            f"{fidelity['steps_spent']} training steps spent = "
            f"{fidelity['equivalents']:.2f} of {summary['budget']} full-budget equivalents"
        )
        for rung in rungs:
            print(
                f"    rung {rung['rung']} ({rung['steps']} steps): {rung['done']} done, {rung['failed']} failed, "
                f"{rung['pending']} pending"
            )
    if summary["objectives"]:
        print(f"  fitness: {Objective.from_dict(summary['objectives'][0]).describe()}")
    for rank, entry in enumerate(summary["top"], start=1):
        # Numbers and words only: a learning curve (a list) belongs to --json and the report.
        shown = [(k, v) for k, v in entry["metrics"].items() if not isinstance(v, list | dict)]
        metrics = ", ".join(f"{k}={_short(v)}" for k, v in shown[:6])
        reached = f"  rung {entry['rung']} ({entry['steps']} steps)" if "rung" in entry else ""
        print(
            f"  #{rank} fitness {entry['fitness']:.4f}{reached}  key {entry['key'][:12]}  proposal {entry['proposal']}"
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
