"""Evolution with and without successive halving, at equal and at a third of the training compute.

Issue 13's question: does ASHA (``search.fidelity``) find architectures as good as full training
for less training? Every fitness here is real training on the scikit-learn digits (CPU), in NB201's
cell at 8 channels as in ``digits_strategies.py`` (the paper's hierarchical cell is 10-20 s per
evaluation on this machine: too few evaluations in minutes for any strategy to act on). Per seed:

    full       evolution, ``budget`` full evaluations of ``steps`` steps
    sh-equal   evolution with ``search.fidelity``, ``budget`` full-budget equivalents
    sh-third   the same with a third of that budget

With ``--rank-by loss`` (or ``--rank-by fitness loss``) the halving rows rank a rung's results by
their training loss (``search.fidelity.rank_by``) and are named ``sh-equal-loss``/``sh-third-loss``.

A run's own best fitness is no fair measure (it is noisy, and the low rungs are scored on a
validation subset), so each run's winner (``Journal.top``: highest rung, then fitness) is trained
again at the full budget with ``--retrain`` other seeds, and the mean of those validation accuracies
is the figure compared. Compute is the training steps the search spent, divided by ``steps``.

    python benchmarks/successive_halving.py [--seeds 5] [--first-seed 0] [--budget 30] [--steps 300]
        [--min-steps M] [--eta E] [--rank-by fitness|loss ...] [--only VARIANT ...]
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from digits_strategies import STRATEGIES
from digits_strategies import make_config as digits_config

from evolution.evaluation import EvalContext
from evolution.journal import FILENAME, Journal
from evolution.seeding import derive_seed
from hiernas.config import RunConfig
from hiernas.evaluators.factory import build_evaluator
from hiernas.search import run_inline
from motifs import Genotype


def make_config(seed: int, budget: int, steps: int, fidelity: dict[str, object] | None) -> RunConfig:
    """digits_strategies.py's configuration (NB201's cell at 8 channels, the paper's schedule shape
    cut to ``steps`` batches of 64) with its evolution settings, plus ``search.fidelity``."""
    search = dict(STRATEGIES["evolution"])
    if fidelity is not None:
        search["fidelity"] = fidelity
    return digits_config(seed, budget, steps, search)


def search_once(config: RunConfig) -> tuple[Genotype, float, float, int]:
    """(winner, its search fitness, training steps spent / full steps, evaluations) of one run."""
    evaluator = build_evaluator(config)
    with tempfile.TemporaryDirectory() as directory:
        status, _ = run_inline(config, evaluator, Path(directory))
        journal = Journal.open(Path(directory) / FILENAME, read_only=True)
        try:
            best = journal.top(1)[0]
            spent = journal.steps_spent()
        finally:
            journal.close()
    genotype = Genotype.from_dict(best.genotype)
    # Without fidelity the journal records no step counts: every evaluation is one full training.
    equivalents = spent / config.evaluator.steps if config.search.fidelity else float(status.finished)
    return genotype, float(best.fitness), equivalents, status.finished


def retrain(config: RunConfig, genotype: Genotype, seeds: int) -> float:
    """Mean validation accuracy of ``genotype`` trained at the full budget with ``seeds`` fresh seeds."""
    evaluator = build_evaluator(config)
    scores = []
    for index in range(seeds):
        result = evaluator(genotype, EvalContext(seed=derive_seed(config.seed, "retrain", index)))
        scores.append(result.fitness if result.ok else 0.0)
    return statistics.mean(scores)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--budget", type=int, default=30, help="full-budget evaluations of the full run")
    parser.add_argument("--steps", type=int, default=300, help="the full training budget (steps)")
    parser.add_argument("--eta", type=int, default=3)
    parser.add_argument("--min-steps", type=int, help="the first rung [default: steps // eta²]")
    parser.add_argument("--retrain", type=int, default=3, help="seeds each winner is re-trained with")
    parser.add_argument(
        "--rank-by",
        nargs="+",
        choices=("fitness", "loss"),
        default=["fitness"],
        help="search.fidelity.rank_by of the halving rows; several: one set of rows each",
    )
    names = ("full", "sh-equal", "sh-third", "sh-equal-loss", "sh-third-loss")
    parser.add_argument("--only", nargs="+", choices=names)
    args = parser.parse_args(argv)
    # One training thread: the machine is shared; HIERNAS_THREADS set by the caller wins.
    os.environ.setdefault("HIERNAS_THREADS", "1")
    print("command: python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv or sys.argv[1:])]))
    # Rungs steps/eta², steps/eta, steps: a candidate's first look costs a ninth of a full training.
    min_steps = args.min_steps or args.steps // args.eta**2
    variants: dict[str, tuple[int, dict[str, object] | None]] = {"full": (args.budget, None)}
    for rank_by in dict.fromkeys(args.rank_by):
        fidelity = {"min_steps": min_steps, "eta": args.eta, "rank_by": rank_by}
        suffix = "" if rank_by == "fitness" else f"-{rank_by}"
        variants[f"sh-equal{suffix}"] = (args.budget, fidelity)
        variants[f"sh-third{suffix}"] = (math.ceil(args.budget / 3), fidelity)
    rows = []
    for name, (budget, setting) in variants.items():
        if args.only and name not in args.only:
            continue
        retrained, compute, found, evaluations, seconds = [], [], [], [], []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            config = make_config(seed, budget, args.steps, setting)
            start = time.perf_counter()
            genotype, fitness, spent, finished = search_once(config)
            seconds.append(time.perf_counter() - start)
            score = retrain(make_config(seed, budget, args.steps, None), genotype, args.retrain)
            retrained.append(100 * score)
            compute.append(spent)
            found.append(100 * fitness)
            evaluations.append(finished)
            print(
                f"  {name} seed {seed}: search best {fitness:.4f}, re-trained {score:.4f}, "
                f"{spent:.2f} full equivalents, {finished} evaluations ({seconds[-1]:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
        spread = statistics.stdev(retrained) if len(retrained) > 1 else 0.0
        rows.append(
            (
                name,
                f"{statistics.mean(retrained):.2f} ± {spread:.2f}",
                " ".join(f"{r:.2f}" for r in retrained),
                f"{statistics.mean(compute):.1f}",
                f"{statistics.mean(evaluations):.0f}",
                f"{statistics.mean(seconds):.0f}",
            )
        )
    print(
        "| variant | winner re-trained, validation accuracy (%) | per seed | training (full equivalents) "
        "| rung evaluations | s/search |"
    )
    print("|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
