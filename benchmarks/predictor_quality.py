"""How well the fitness predictor (evolution/predictor.py) ranks networks it has not seen.

Kendall's τ (scipy.stats.kendalltau) between the predicted and the true fitness of held-out
evaluations:

- NB201: train on 20, 50 and 100 cells drawn as the search's initial population is (1000 random
  mutations), test on 1000 other distinct cells, over several seeds;
- a real run's journal (``--journal RUN_DIR``, e.g. ``hiernas evolve configs/digits.yaml --run-dir
  /tmp/digits-run``): train on the first 80 % of its fresh successful results in the order they
  were told, predict the rest (the situation inside a run: the future is what is predicted).

    python benchmarks/predictor_quality.py [--table ../shared/data/nb201-12epoch.csv] [--seeds 5]
        [--journal /tmp/digits-run]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

from evolution.bayesian import normal_scores
from evolution.evaluation import EvalResult
from evolution.gaussian_process import CategoricalGP
from evolution.journal import FILENAME, Journal
from evolution.predictor import FitnessPredictor
from evolution.registry import make_strategy
from evolution.seeding import numpy_rng, python_rng
from evolution.slot_encoding import slot_codes
from motifs import PRESETS, Genotype, Space, sample
from motifs.canonical import canonical_key

sys.path.insert(0, str(Path(__file__).resolve().parent))
from strategy_comparison import DEFAULT_TABLE, LookupEvaluator

from evolution.evaluation import EvalContext
from hiernas.config import load_config

TRAIN_SIZES = (20, 50, 100)
TEST_SIZE = 1000
# The guided settings whose cost per ask is measured: the defaults, and the best few's children.
GUIDED = {
    "guided, 100 candidates": {"candidates": 100, "acquisition": "ucb"},
    "guided, parents=3, 200 candidates": {"candidates": 200, "acquisition": "ucb", "parents": 3},
}


def tau(train: Sequence[tuple[Genotype, float]], test: Sequence[tuple[Genotype, float]], seed: int) -> float:
    predictor = FitnessPredictor(train[0][0].primitives)
    predictor.fit([g for g, _ in train], [f for _, f in train], numpy_rng(seed, "quality"))
    predicted = predictor.predict([g for g, _ in test]).mean
    return float(kendalltau(predicted, [f for _, f in test])[0])


def gp_tau(
    train: Sequence[tuple[Genotype, float]], test: Sequence[tuple[Genotype, float]], seed: int
) -> float:
    """The same for the Gaussian process of search.strategy=bayesian (evolution/gaussian_process.py),
    learning the fitnesses' normal scores as the strategy does by default."""
    codes = np.stack([slot_codes(g) for g, _ in train])
    fitness = normal_scores(np.array([f for _, f in train]))
    model = CategoricalGP()
    model.optimise(codes, fitness, numpy_rng(seed, "quality"))
    model.condition(codes, fitness)
    predicted, _ = model.predict(np.stack([slot_codes(g) for g, _ in test]))
    return float(kendalltau(predicted, [f for _, f in test])[0])


def nb201(table: Path, seeds: int) -> None:
    config = load_config("nb201", [f"evaluator.table={table}"])
    space, evaluator = config.space.to_space(), LookupEvaluator.from_config(config.evaluator)
    print(f"NB201 ({table.name}, fitness {config.evaluator.fitness}), {TEST_SIZE} unseen cells per seed\n")
    print(
        "| training points | Kendall τ, trees (mean ± std over seeds) | seconds per fit+predict | Kendall τ, GP | seconds |"
    )
    print("|---|---|---|---|---|")
    for size in TRAIN_SIZES:
        taus, seconds, gp_taus, gp_seconds = [], [], [], []
        for seed in range(seeds):
            rng = python_rng(seed, "quality-sample")
            cells: dict[str, tuple[Genotype, float]] = {}
            while len(cells) < size + TEST_SIZE:
                genotype = sample(space, rng, config.space.init_mutations)
                result = evaluator(genotype, EvalContext(seed=0))
                if result.ok:
                    cells.setdefault(canonical_key(genotype), (genotype, float(result.fitness)))
            ordered = list(cells.values())
            start = time.perf_counter()
            taus.append(tau(ordered[:size], ordered[size:], seed))
            seconds.append(time.perf_counter() - start)
            start = time.perf_counter()
            gp_taus.append(gp_tau(ordered[:size], ordered[size:], seed))
            gp_seconds.append(time.perf_counter() - start)
        print(
            f"| {size} | {_spread(taus)} | {statistics.mean(seconds):.3f} | {_spread(gp_taus)} | "
            f"{statistics.mean(gp_seconds):.3f} |",
            flush=True,
        )


def _spread(values: Sequence[float]) -> str:
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values) if len(values) > 1 else 0.0:.3f}"


def ask_cost(name: str, space: Space, evaluate: Callable[[Genotype], float | None], settings: dict) -> None:
    """Seconds per ask of plain and of guided evolution, and of local search with a random or a
    predictor's neighbour order, over a 150-evaluation run (told inline, as a table run is): the
    predictor's whole cost, refits included, sits in the guided asks."""
    runs = [("evolution", label, predictor) for label, predictor in (("plain", None), *GUIDED.items())]
    runs += [("local", "local search", None), ("local", "local search, predictor order", {})]
    runs += [("bayesian", "Bayesian optimisation (GP, default pool)", None)]
    for strategy_name, label, predictor in runs:
        strategy = make_strategy(strategy_name, space, 0, {**settings, "predictor": predictor})
        seconds: list[float] = []
        for proposal_id in range(150):
            start = time.perf_counter()
            proposal = strategy.ask()
            seconds.append(time.perf_counter() - start)
            assert proposal is not None
            fitness = evaluate(proposal.genotype)
            result = (
                EvalResult("done", fitness, {}) if fitness is not None else EvalResult.failed("not found")
            )
            strategy.tell(proposal_id, proposal, result)
        late = seconds[settings["population"] :]
        print(
            f"| {name} | {label} | {1000 * statistics.mean(late):.1f} | {1000 * max(late):.1f} |",
            flush=True,
        )


def journal_run(run_dir: Path) -> None:
    journal = Journal.open(run_dir / FILENAME, read_only=True)
    try:
        history = journal.history()
    finally:
        journal.close()
    done = [(t.proposal.genotype, float(t.result.fitness)) for t in history if t.result.ok and not t.cached]
    split = round(0.8 * len(done))
    print(
        f"\n{run_dir}: {len(done)} fresh results, trained on the first {split}, predicting {len(done) - split}"
    )
    if split < 5 or len(done) - split < 5:
        print("too few results for a τ")
        return
    held_out = done[split:]
    for name, measure in (("trees", tau), ("GP", gp_tau)):
        print(
            f"Kendall τ, {name}: {measure(done[:split], held_out, 0):.3f} on {len(held_out)} held-out results"
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--table", type=Path, default=DEFAULT_TABLE)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--journal", type=Path, help="a run directory to check on (e.g. a digits run)")
    parser.add_argument("--no-nb201-tau", action="store_true", help="only the cost per ask and --journal")
    args = parser.parse_args(argv)
    config = load_config("nb201", [f"evaluator.table={args.table}"])
    lookup = LookupEvaluator.from_config(config.evaluator)
    print("\n| space | strategy | ms per ask after the initial population (mean) | max |\n|---|---|---|---|")
    ask_cost(
        "nb201 (table)",
        config.space.to_space(),
        lambda g: lookup(g, EvalContext(seed=0)).fitness,
        {"population": 20, "tournament": 0.25, "aging": False, "init_mutations": 1000},
    )
    noise = python_rng(0, "ask-cost")
    ask_cost(
        "hierarchical (synthetic fitness)",
        PRESETS["hierarchical"],
        lambda g: noise.random(),
        {"population": 20, "tournament": 0.25, "aging": False, "init_mutations": 1000},
    )
    if not args.no_nb201_tau:
        nb201(args.table, args.seeds)
    if args.journal:
        journal_run(args.journal)


if __name__ == "__main__":
    main()
