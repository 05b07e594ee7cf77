"""Rank agreement over several ``hiernas fidelity`` folders measured in parallel, pooled into one
sample.

    python benchmarks/fidelity_pool.py --budgets 50,150 /tmp/fid-s0 /tmp/fid-s1 /tmp/fid-s2

``hiernas fidelity`` trains its sample one genotype at a time. On a shared CPU, several measurements
with different ``--seed`` (each a seeded sample of the same space, trained with the same config)
run side by side, and their genotypes together are a sample of the size of their sum: this prints
the figures of ``hiernas.rank_agreement`` over that union, each budget against the largest, as
``hiernas fidelity`` would for one folder. Every folder must have been measured with the same
config (checked on the recorded settings, the seed aside); a genotype drawn by two folders counts
once; genotypes without a result at every budget are left out and counted.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from hiernas.fidelity_training import RESULTS_FILE, SETTINGS_FILE, read_results
from hiernas.rank_agreement import agreement


def pooled_scores(folders: list[Path], budgets: list[int]) -> tuple[dict[int, np.ndarray], int]:
    """Fitness per budget over the union of the folders' genotypes (folder order, then sample
    order), and how many genotypes were left out for lacking a result at some budget."""
    configs = [json.loads((f / SETTINGS_FILE).read_text(encoding="utf-8"))["config"] for f in folders]
    if any(config != configs[0] for config in configs):
        raise SystemExit("the folders were measured with different configs; pool only like with like")
    rows: dict[str, dict[int, float]] = {}
    left_out = set()
    for folder in folders:
        results = read_results(folder / RESULTS_FILE)
        order = {key: record["sample"] for (key, _), record in results.items()}
        for key in sorted(order, key=order.__getitem__):
            records = {steps: results.get((key, steps)) for steps in budgets}
            if all(record is not None and record["status"] == "done" for record in records.values()):
                rows.setdefault(key, {steps: float(r["fitness"]) for steps, r in records.items() if r})
            else:
                left_out.add(key)
    left_out -= set(rows)
    return {steps: np.array([row[steps] for row in rows.values()]) for steps in budgets}, len(left_out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--budgets", required=True, help="comma-separated step counts, e.g. 50,150")
    parser.add_argument("--top-fraction", type=float, default=0.1)
    args = parser.parse_args()
    budgets = sorted({int(part) for part in args.budgets.split(",")})
    scores, left_out = pooled_scores(args.folders, budgets)
    largest = budgets[-1]
    print(f"{len(scores[largest])} genotypes from {len(args.folders)} folders; left out {left_out}")
    print("mean fitness: " + ", ".join(f"{steps}: {scores[steps].mean():.4f}" for steps in budgets))
    print(f"{'score':>6}  {'rows':>5}  {'kendall':>7}  {'spearman':>8}  {'top τ':>6}  {'top-k':>6}")
    for steps in budgets[:-1]:
        f = agreement(str(steps), scores[steps], scores[largest], top_fraction=args.top_fraction)
        print(
            f"{f.column:>6}  {f.rows:>5}  {f.kendall_tau:+7.3f}  {f.spearman_rho:+8.3f}  "
            f"{f.top_kendall_tau:+6.3f}  {f.top_k_overlap:6.0%}   (top k = {f.top_k})"
        )


if __name__ == "__main__":
    main()
