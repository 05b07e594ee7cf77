"""Pareto search on NAS-Bench-201: hypervolume of the final front in (cifar10-val-12ep, params).

Pareto evolution, Pareto evolution guided by per-objective predictors (``search.predictor: {}``,
evolution/guided_pareto.py), random search and single-objective evolution each run ``--budget`` evaluations
on the table for every seed; each run's front (computed from its done evaluations, as ``hiernas
status`` does) is scored by its hypervolume against the table's exact front, computed from all
15,625 rows with hiernas's own parameter counts (NB201's network). They are computed once and cached
in ``--cache`` (outside the repository); the reference point is the worst accuracy and the largest
count in the whole table, so every cell lies inside it.

    python benchmarks/pareto_nb201.py --table ../shared/data/nb201-12epoch.csv --seeds 0-19

Tune only on seeds 100 and up (``--seeds 100-119``); report seeds 0-19.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from evolution.driver import Driver
from evolution.evaluation import EvalContext, EvalResult
from evolution.executors.inline import InlineExecutor
from evolution.front import front_indices, hypervolume
from evolution.journal import FILENAME, Journal
from evolution.registry import make_strategy
from hiernas.evaluators.table import load_table
from hiernas.nb201 import SPACE, arch_to_genotype, genotype_to_arch
from motifs.genotype import Genotype

COLUMN = "cifar10-val-12ep"


def table_params(table: Path, cache: Path) -> dict[str, int]:
    """Every arch's parameter count in NB201's own network at 32×32, 10 classes, as the table
    evaluator records it (``hiernas.nb201_network``; cached as JSON)."""
    if cache.exists():
        return json.loads(cache.read_text())
    from hiernas.nb201_network import nb201_size

    counts = {arch: nb201_size(arch_to_genotype(arch), (3, 32, 32), 10)[0] for arch in load_table(table).rows}
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(counts))
    return counts


class CachedTable:
    """Accuracy from the table, params from the precomputed counts: the table evaluator's result
    without counting a network per process."""

    def __init__(self, table: Path, params: dict[str, int]) -> None:
        loaded = load_table(table)
        at = loaded.columns.index(COLUMN)
        self.rows = {arch: row[at] for arch, row in loaded.rows.items()}
        self.params = params

    def __call__(self, genotype: Genotype, context: EvalContext) -> EvalResult:
        arch = genotype_to_arch(genotype)
        return EvalResult.done(self.rows[arch] / 100, params=self.params[arch])


# Each row: the registry's strategy and the search.predictor setting (None: unguided).
ROWS = {
    "pareto": ("pareto", None),
    "pareto, guided": ("pareto", {}),
    "random": ("random", None),
    "evolution": ("evolution", None),
}


def run(row: str, seed: int, evaluator: CachedTable, budget: int) -> list[tuple[float, float]]:
    strategy, predictor = ROWS[row]
    settings = {
        "population": 20,
        "tournament": 0.25,
        "aging": False,
        "init_mutations": 1000,
        "objectives": [{"name": "accuracy"}, {"name": "params", "direction": "min"}],
        "rl": {},
        "predictor": predictor,
    }
    with tempfile.TemporaryDirectory() as scratch:
        journal = Journal.create(Path(scratch) / FILENAME)
        try:
            Driver(
                make_strategy(strategy, SPACE, seed, settings),
                InlineExecutor(evaluator),
                journal,
                budget=budget,
                seed=seed,
            ).run()
            done = journal.top(journal.finished_count())
        finally:
            journal.close()
    return [(entry.fitness, -float(entry.metrics["params"])) for entry in done]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", type=Path, required=True)
    parser.add_argument("--seeds", default="0-19")
    parser.add_argument("--budget", type=int, default=150)
    parser.add_argument("--only", nargs="+", choices=list(ROWS), help="these rows only")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache/hiernas/nb201-params.json")
    parser.add_argument(
        "--plot", type=Path, help="PNG of the exact front and each strategy's on the first seed"
    )
    args = parser.parse_args()
    first, _, last = args.seeds.partition("-")
    seeds = range(int(first), int(last or first) + 1)
    params = table_params(args.table, args.cache)
    evaluator = CachedTable(args.table, params)
    every = [(evaluator.rows[arch] / 100, -float(params[arch])) for arch in evaluator.rows]
    reference = (min(a for a, _ in every) - 1e-6, min(p for _, p in every) - 1)
    exact = hypervolume([every[i] for i in front_indices(every)], reference)
    print(f"exact front: {len(front_indices(every))} cells, hypervolume {exact:.6g}, reference {reference}")
    print("| strategy | HV ratio mean | std | min | max |")
    print("|---|---|---|---|---|")
    fronts = {"exact (all 15,625 cells)": [every[i] for i in front_indices(every)]}
    for strategy in args.only or ROWS:
        ratios = []
        for seed in seeds:
            points = run(strategy, seed, evaluator, args.budget)
            front = [points[i] for i in front_indices(points)]
            fronts.setdefault(f"{strategy} (seed {seed})", front)
            ratios.append(hypervolume(front, reference) / exact)
        spread = statistics.stdev(ratios) if len(ratios) > 1 else 0.0
        print(
            f"| {strategy} | {statistics.mean(ratios):.4f} | {spread:.4f} | "
            f"{min(ratios):.4f} | {max(ratios):.4f} |"
        )
    if args.plot:
        plot(fronts, args.plot)


def plot(fronts: dict[str, list[tuple[float, float]]], path: Path) -> None:
    """Each front as a step line, params on a log axis (a small PNG: 6×3.6 inches at 80 dpi)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    for (label, front), style in zip(fronts.items(), ("k-", "C1-", "C0--", "C2:"), strict=False):
        ordered = sorted((-p, a * 100) for a, p in front)
        ax.step([p for p, _ in ordered], [a for _, a in ordered], style, where="post", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("parameters (NB201 network, CIFAR-10)")
    ax.set_ylabel("cifar10-val-12ep (%)")
    ax.set_ylim(60, 86)
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    figure.savefig(path, dpi=80)


if __name__ == "__main__":
    main()
