"""Evolution, random search and the RL controller with real training: the 8×8 digits, on a CPU.

The NB201 comparison (``strategy_comparison.py``) looks fitness up in a table; here every fitness is
a training run by the training evaluator (validation accuracy, a fraction), so the RL controller's
rewards are on the other scale it has to cope with. Each run is what ``hiernas evolve`` runs with the
configuration built below (the Driver, the inline executor, dedup, a fresh temporary run directory),
3 seeds per strategy.

    python benchmarks/digits_strategies.py [--seeds 3] [--budget 30] [--steps 100] [--only NAME ...]

The whole thing is sized for about 10-15 minutes on two busy CPU cores; every value below says why.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hiernas.config import RunConfig, config_from_dict
from hiernas.evaluators.factory import build_evaluator
from hiernas.search import run_inline

# Per strategy, the search settings on top of the shared configuration (user-settable keys only).
STRATEGIES: dict[str, dict[str, Any]] = {
    # A population of 10 leaves 20 of the 30 evaluations for selection; tournament 25% as in
    # configs/nb201.yaml (5% of 10 would be the minimum 2 and hardly select).
    "evolution": {"strategy": "evolution", "population": 10, "tournament": 0.25},
    # Children answered from the cache join the population too (search.neutral, RESULTS.md).
    "evolution-join": {"strategy": "evolution", "population": 10, "tournament": 0.25, "neutral": "join"},
    "random": {"strategy": "random"},
    # The settings chosen on the NB201 table (benchmarks/RESULTS.md, "Strategy comparison"); the
    # rewards' spread (wider there than here) does not matter to the controller.
    "rl": {"strategy": "rl", "rl": {"lr": 0.01, "update_every": 1}},
}


def make_config(seed: int, budget: int, steps: int, search: dict[str, Any]) -> RunConfig:
    return config_from_dict(
        {
            "seed": seed,
            "budget": budget,
            # NB201's cell (one 4-node motif over identity, conv1x1, conv3x3, avgpool3x3): on a CPU
            # the time of a training step is the number of small kernels, and the paper's
            # hierarchical cell took 7-18 s per evaluation at even 50 steps here, too few
            # evaluations for any strategy to act on.
            "space": {"preset": "nb201"},
            # 8×8 images: one stage of one cell at 8 channels (no reductions to shrink 8×8 further).
            "network": {"channels": 8, "stages": 1, "cells_per_stage": 1},
            "data": {"dataset": "digits"},
            # The paper's schedule shape (SGD 0.1, momentum 0.9, /10 at 80% of the steps) cut to
            # `steps` batches of 64: about 4.5 epochs of the 1,437 training digits at 100 steps,
            # enough to tell cells apart (validation accuracy from ~0.4 to ~0.9 in a trial).
            "evaluator": {
                "kind": "train",
                "steps": steps,
                "batch_size": 64,
                "lr_drop_at": [int(0.8 * steps)],
                "device": "cpu",
            },
            "search": search,
            "executor": {"kind": "inline", "workers": 1},
        }
    )


def run_once(config: RunConfig) -> tuple[float, int, int, float]:
    """(best validation accuracy, evaluations, cache hits, seconds) of one search."""
    evaluator = build_evaluator(config)
    with tempfile.TemporaryDirectory() as directory:
        start = time.perf_counter()
        status, _ = run_inline(config, evaluator, Path(directory))
        seconds = time.perf_counter() - start
    assert status.best_fitness is not None
    return status.best_fitness, status.finished, status.cached, seconds


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=int, default=30)
    parser.add_argument("--steps", type=int, default=100, help="training steps per evaluation")
    parser.add_argument("--only", nargs="+", choices=sorted(STRATEGIES), default=list(STRATEGIES))
    args = parser.parse_args(argv)
    # One training thread: the machine is shared, and two threads on two busy cores made each step
    # slower, not faster. HIERNAS_THREADS set by the caller wins.
    os.environ.setdefault("HIERNAS_THREADS", "1")
    print("command: python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv or sys.argv[1:])]))
    rows = []
    for name, search in STRATEGIES.items():
        if name not in args.only:
            continue
        outcomes = []
        for seed in range(args.seeds):
            outcome = run_once(make_config(seed, args.budget, args.steps, search))
            outcomes.append(outcome)
            print(
                f"  {name} seed {seed}: best {outcome[0]:.4f} ({outcome[3]:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
        best = [100 * o[0] for o in outcomes]
        spread = statistics.stdev(best) if len(best) > 1 else 0.0
        rows.append(
            (
                name,
                f"{statistics.mean(best):.2f} ± {spread:.2f}",
                " ".join(f"{b:.2f}" for b in best),
                f"{statistics.mean(o[2] for o in outcomes):.1f}",
                f"{statistics.mean(o[3] for o in outcomes):.0f}",
            )
        )
    print("| strategy | best validation accuracy (%) | per seed | cache hits | s/run |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
