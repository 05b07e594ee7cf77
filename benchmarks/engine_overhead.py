"""What the search engine itself costs per evaluation, and one tournament at a huge population.

With an evaluator that answers instantly, everything measured is the engine: the proposal (an
initial sample or a tournament and a mutation), the canonical key and the dedup lookup, the journal
transactions (a real SQLite file in WAL mode) and the dispatch to a worker and back. Targets: at most
2 ms per evaluation, at most 1 ms per tournament at a population of 100,000.

    python benchmarks/engine_overhead.py [--budget 2000] [--workers 2]

The last line is the per-evaluation figure of the slower executor.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from evolution.driver import Driver
from evolution.evaluation import EvalContext, EvalResult
from evolution.executors import Executor, Task, make_executor
from evolution.journal import FILENAME, Journal
from evolution.tournament import Population, TournamentEvolution
from motifs import PRESETS, Genotype


class InstantEvaluator:
    """A fitness drawn from the evaluation's seed: no work at all, but selection still has
    differences to act on."""

    def __call__(self, genotype: Genotype, context: EvalContext) -> EvalResult:
        return EvalResult.done(random.Random(context.seed).random())


def per_evaluation_ms(executor: str, budget: int, workers: int, population: int) -> tuple[float, float]:
    """(ms per evaluation over the whole run, ms per evaluation after the initial population)."""
    with tempfile.TemporaryDirectory() as directory:
        journal = Journal.create(Path(directory) / FILENAME)
        strategy = TournamentEvolution(
            PRESETS["hierarchical"], seed=0, population=population, tournament=0.05
        )
        marks: dict[str, float] = {}

        def on_progress(status) -> None:
            if status.finished >= population and "after_init" not in marks:
                marks["after_init"], marks["finished_at_mark"] = time.perf_counter(), status.finished

        pool = make_executor(executor, InstantEvaluator(), workers=workers)
        _warm_up(pool)  # worker start-up (a Python with torch) is not the engine's per-evaluation cost
        start = time.perf_counter()
        status = Driver(strategy, pool, journal, budget=budget, seed=0, on_progress=on_progress).run()
        end = time.perf_counter()
        journal.close()
    whole = (end - start) / status.finished * 1000
    steady = (end - marks["after_init"]) / (status.finished - marks["finished_at_mark"]) * 1000
    return whole, steady


def _warm_up(pool: Executor) -> None:
    """One task per worker, waited for, so every worker process is up before the clock starts."""
    genotype = PRESETS["hierarchical"].initial()
    for slot in range(pool.capacity):
        pool.submit(Task(-1 - slot, genotype, slot))
    answered = 0
    while answered < pool.capacity:
        answered += len(pool.wait(timeout=60))


def tournament_ms(size: int = 100_000, repeats: int = 1000) -> float:
    population = Population()
    genotype = PRESETS["hierarchical"].initial()
    rng = random.Random(0)
    for member in range(size):
        population.add(member, genotype, rng.random())
    strategy = TournamentEvolution(PRESETS["hierarchical"], seed=0, population=size, tournament=0.05)
    strategy.population = population
    k = strategy.tournament_size()
    start = time.perf_counter()
    for draw in range(repeats):
        population.tournament(np.random.default_rng(draw), k)
    return (time.perf_counter() - start) / repeats * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--population", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    rows = []
    for executor in ("inline", "local"):
        whole, steady = per_evaluation_ms(executor, args.budget, args.workers, args.population)
        rows.append((executor, whole, steady))
    tournament = tournament_ms()

    print(
        f"engine overhead: evolution on the hierarchical space, population {args.population}, "
        f"budget {args.budget}, instant evaluator, {args.workers} local workers"
    )
    print(f"{'executor':<10}{'ms/eval (whole run)':>22}{'ms/eval (after init)':>23}")
    for executor, whole, steady in rows:
        print(f"{executor:<10}{whole:>22.3f}{steady:>23.3f}")
    print(f"tournament at population 100,000 (5% = 5,000 aspirants): {tournament:.3f} ms  (target <= 1 ms)")
    worst = max(whole for _, whole, _ in rows)
    print(f"engine_overhead_ms_per_evaluation: {worst:.3f}")


if __name__ == "__main__":
    main()
