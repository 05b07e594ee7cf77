"""Which score of a successive-halving rung ranks networks like their full training: the rung's
validation accuracy, or a training-loss score (``evolution.loss_score``; Ru et al. 2021)?

What ``hiernas fidelity`` measures for one budget at a time, here for many rungs at once and against a
less noisy reference. Each of ``--sample`` networks of ``benchmarks/successive_halving_digits.yaml``
(the successive-halving benchmark's configuration; the sample and the training seeds are
``hiernas fidelity``'s for ``--seed``) is trained once through checkpoints at RUNGS, exactly as a
halving run trains it (the full schedule, continued from rung to rung), recording each rung's
accuracy and loss curve; then trained twice more at the full 200 steps with other seeds. Each rung's
scores are compared (``hiernas.rank_agreement``) with the same-seed accuracy at 200 steps and with
the mean of the three 200-step accuracies. One JSON line per network in OUT, so a kill resumes.

    HIERNAS_THREADS=1 python benchmarks/rung_loss_ranking.py OUT.jsonl [--sample 40] [--seed 100]
    python benchmarks/rung_loss_ranking.py OUT1.jsonl OUT2.jsonl --report   # pooled figures only
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from evolution.evaluation import EvalContext
from evolution.loss_score import final_loss
from evolution.seeding import derive_seed
from hiernas.config import load_config
from hiernas.evaluators.factory import build_evaluator
from hiernas.fidelity_training import sample_genotypes
from hiernas.rank_agreement import agreement

CONFIG = Path(__file__).with_name("successive_halving_digits.yaml")
RUNGS = (11, 22, 33, 44, 66, 100, 133, 200)


def measure(out: Path, sample: int, seed: int) -> None:
    config = load_config(str(CONFIG), [])
    evaluator = build_evaluator(config)
    done = (
        {json.loads(line)["key"] for line in out.read_text().splitlines() if line.strip()}
        if out.exists()
        else set()
    )
    for index, (key, genotype) in enumerate(sample_genotypes(config, sample, seed)):
        if key in done:
            continue
        training_seed = derive_seed(seed, "fidelity-evaluation", key)  # hiernas fidelity's
        rows, previous = [], None
        with tempfile.TemporaryDirectory() as folder:
            for steps in RUNGS:
                path = os.path.join(folder, f"{steps}.pt")
                context = EvalContext(seed=training_seed, steps=steps, resume_from=previous, save_to=path)
                result = evaluator(genotype, context)
                if not result.ok:
                    break
                metrics = result.metrics
                rows.append(
                    {
                        "steps": steps,
                        "acc": result.fitness,
                        "tse": metrics["tse"],
                        "loss_curve": metrics["loss_curve"],
                    }
                )
                previous = path
        extra = []
        for repeat in range(2):
            result = evaluator(genotype, EvalContext(seed=derive_seed(seed, "reference", key, repeat)))
            extra.append(result.fitness if result.ok else None)
        with out.open("a") as file:
            file.write(json.dumps({"index": index, "key": key, "rungs": rows, "extra": extra}) + "\n")
        print(index, key[:8], [round(row["acc"], 3) for row in rows], extra, flush=True)


def report(paths: list[Path]) -> None:
    lines = [json.loads(line) for path in paths for line in path.read_text().splitlines() if line.strip()]
    kept = [r for r in lines if len(r["rungs"]) == len(RUNGS) and None not in r["extra"]]
    print(f"{len(kept)} networks ({len(lines) - len(kept)} left out: failed somewhere)")
    same = np.array([r["rungs"][-1]["acc"] for r in kept])
    mean3 = np.array([np.mean([r["rungs"][-1]["acc"], *r["extra"]]) for r in kept])
    print(
        f"accuracy at 200 (one seed) against the 3-seed mean: tau {agreement('200', same, mean3).kendall_tau:+.3f}"
    )
    print(
        "| rung | score | tau vs same seed | rho | top-10% tau | top-k | tau vs 3-seed mean | rho | top-10% tau | top-k |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for at, steps in enumerate(RUNGS[:-1]):
        scores = {
            "accuracy": [r["rungs"][at]["acc"] for r in kept],
            "loss, last third": [-final_loss(r["rungs"][at]) for r in kept],  # type: ignore[operator]
            "TSE (all steps)": [-r["rungs"][at]["tse"] for r in kept],
            "loss, last window": [-r["rungs"][at]["loss_curve"][-1][1] for r in kept],
        }
        for name, values in scores.items():
            cells = []
            for reference in (same, mean3):
                a = agreement(name, np.array(values), reference)
                cells += [
                    f"{a.kendall_tau:+.3f}",
                    f"{a.spearman_rho:+.3f}",
                    f"{a.top_kendall_tau:+.3f}",
                    f"{a.top_k_overlap:.0%}",
                ]
            print(f"| {steps} | {name} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="+", type=Path)
    parser.add_argument("--sample", type=int, default=40)
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--report", action="store_true", help="only print the figures of the files")
    args = parser.parse_args()
    if not args.report:
        if len(args.out) != 1:
            parser.error("measure into one file at a time")
        measure(args.out[0], args.sample, args.seed)
    report(args.out)


if __name__ == "__main__":
    main()
