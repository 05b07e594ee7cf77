"""Evolution, aging evolution, random search and the RL controller on NAS-Bench-201, on equal terms.

Every run goes through what ``hiernas evolve nb201`` runs: the configuration of ``configs/nb201.yaml``
(plus ``--set`` overrides any user could give), the strategy from the registry, the Driver with the
inline executor, the table evaluator and dedup, into a fresh temporary run directory. Per strategy
and seed it records the best ``cifar10-val-12ep`` found within the budget (the fitness the search
sees), the ``cifar10-test-12ep`` of that genotype (never seen by the search), and after how many
evaluations the search first found a cell in the table's top 1% by validation accuracy.

    python benchmarks/strategy_comparison.py [--table ../shared/data/nb201-12epoch.csv]
        [--seeds 20] [--first-seed 0] [--budget 150] [--set VARIANT:KEY=VALUE ...] [--sweep]

Variants: evolution (the config as it is), aging (search.aging=true), random, rl, guided
(search.predictor: evolution guided by a fitness predictor, evolution/guided.py), local (local
search, evolution/local_search.py; ``--set local:search.predictor={}`` orders neighbours by the
predictor), bayesian (a Gaussian process and expected improvement over the whole table,
evolution/bayesian.py), and Optuna's
TPESampler and RandomSampler (optuna-tpe, optuna-random; ``pip install -e .[bench]``) on the same
table and seeds: one categorical parameter per NB201 edge (5 ops including none), fitness the same
column as a fraction, and every trial counted, duplicates included (Optuna has no cache). Each row
reports the best validation accuracy within the first 100 evaluations and within the budget. ``--set
rl:search.rl.lr=0.003`` changes one variant, exactly as ``hiernas evolve --set`` would. ``--sweep``
runs the built-in grid of user-settable values instead, on seeds 100.. so that the settings are not
chosen on the seeds the final comparison reports; ``--first-seed 100`` runs any other setting on
those tuning seeds too.
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
from dataclasses import dataclass
from pathlib import Path

from evolution.evaluation import EvalContext, EvalResult
from hiernas.config import RunConfig, load_config
from hiernas.evaluators.table import TableEvaluator, load_table
from hiernas.nb201 import genotype_to_arch
from hiernas.search import run_inline
from motifs import Genotype

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TABLE = Path(os.environ.get("HIERNAS_SHARED", ROOT.parent / "shared")) / "data" / "nb201-12epoch.csv"
TEST_COLUMN = "cifar10-test-12ep"
NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")

# What makes each variant, on top of configs/nb201.yaml.
VARIANTS: dict[str, tuple[str, ...]] = {
    "evolution": (),
    "aging": ("search.aging=true",),
    "random": ("search.strategy=random",),
    "rl": ("search.strategy=rl",),
    "guided": ("search.predictor={}",),
    "local": ("search.strategy=local",),
    "bayesian": ("search.strategy=bayesian",),
}
# Optuna's samplers, run outside hiernas on the same table (see run_optuna).
OPTUNA = ("optuna-tpe", "optuna-random")
EARLY = 100  # the second budget each row reports: best validation within the first EARLY evaluations

# The sweep: each entry is one setting of one variant (overrides added to the variant's own).
SWEEP: dict[str, tuple[tuple[str, ...], ...]] = {
    "evolution": tuple(
        (f"search.population={p}", f"search.tournament={t}") for p in (10, 20, 50) for t in (0.1, 0.25, 0.5)
    ),
    "aging": tuple(
        (f"search.population={p}", f"search.tournament={t}") for p in (10, 20, 50) for t in (0.1, 0.25, 0.5)
    ),
    "rl": (
        *(
            (f"search.rl.lr={lr}", f"search.rl.update_every={m}")
            for lr in (6e-4, 3e-3, 1e-2, 3e-2)
            for m in (1, 5)
        ),
        *(
            ("search.rl.lr=0.01", "search.rl.update_every=5", f"search.rl.baseline_decay={d}")
            for d in (0.8, 0.99)
        ),
        *(("search.rl.lr=0.01", "search.rl.update_every=5", f"search.rl.entropy={e}") for e in (0.01, 0.1)),
    ),
}


@dataclass(frozen=True, slots=True)
class Outcome:
    best_val: float  # percent, as the table and published NB201 results write it
    best_val_early: float  # the same within the first EARLY evaluations
    best_test: float
    first_top: int | None  # evaluations until the first top-1% cell, None if not within budget
    evaluations: int
    cached: int
    seconds: float


def top_threshold(table: Path, column: str, fraction: float = 0.01) -> float:
    """The lowest value among the table's best ``fraction`` of rows by ``column``, as a fraction
    (the fitness's unit; the table holds percent)."""
    loaded = load_table(table)
    at = loaded.columns.index(column)
    values = sorted((row[at] for row in loaded.rows.values() if row[at] is not None), reverse=True)
    return values[math.ceil(fraction * len(values)) - 1] / 100


class LookupEvaluator(TableEvaluator):
    """The table evaluator without the parameter and FLOPs counts it adds to every result.

    Those counts build each network in torch (about a third of a second per evaluation on a loaded
    2-core machine, longer than the whole search), and no NB201 objective reads them: the search
    sees exactly the fitness the table evaluator gives, so the comparison is unchanged.
    """

    def __call__(self, genotype: Genotype, context: EvalContext) -> EvalResult:
        table = self._table()
        row = table.rows.get(genotype_to_arch(genotype))
        value = None if row is None else row[table.columns.index(self.fitness)]
        if value is None or not math.isfinite(value):
            return EvalResult("failed", None, {}, "not in the table")
        return EvalResult("done", float(value) / 100, dict(zip(table.columns, row, strict=True)))


def run_once(config: RunConfig, threshold: float) -> Outcome:
    """One search, as ``hiernas evolve`` runs it, in a temporary run directory."""
    with tempfile.TemporaryDirectory() as directory:
        start = time.perf_counter()
        status, history = run_inline(config, LookupEvaluator.from_config(config.evaluator), Path(directory))  # type: ignore[arg-type]
        seconds = time.perf_counter() - start
    evaluations, first_top, best, early = 0, None, None, None
    for told in history:
        if told.cached:
            continue  # free, and its fitness was seen before
        evaluations += 1
        result = told.result
        if not result.ok:
            continue
        if first_top is None and result.fitness >= threshold:
            first_top = evaluations
        if best is None or result.fitness > best.fitness:  # the first of equals, as the driver
            best = result
        if evaluations <= EARLY:
            early = best.fitness
    assert best is not None and early is not None and best.fitness == status.best_fitness
    return Outcome(
        100 * best.fitness,
        100 * early,
        float(best.metrics[TEST_COLUMN]),
        first_top,
        evaluations,
        status.cached,
        seconds,
    )


def run_optuna(table: Path, fitness: str, budget: int, seed: int, sampler: str, threshold: float) -> Outcome:
    """Optuna's study on the table: ``budget`` trials, each one evaluation (duplicates too)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    loaded = load_table(table)
    at, test_at = loaded.columns.index(fitness), loaded.columns.index(TEST_COLUMN)
    make = optuna.samplers.TPESampler if sampler == "optuna-tpe" else optuna.samplers.RandomSampler
    study = optuna.create_study(direction="maximize", sampler=make(seed=seed))
    found: list[tuple[float, float]] = []  # (fitness, test) per trial, in order

    def objective(trial: optuna.Trial) -> float:
        groups = (
            "|".join(f"{trial.suggest_categorical(f'{i}->{j}', NB201_OPS)}~{i}" for i in range(j))
            for j in range(1, 4)
        )
        row = loaded.rows["+".join(f"|{group}|" for group in groups)]
        found.append((row[at] / 100, float(row[test_at])))
        return found[-1][0]

    start = time.perf_counter()
    study.optimize(objective, n_trials=budget)
    seconds = time.perf_counter() - start
    best = max(range(len(found)), key=lambda k: (found[k][0], -k))
    early = max(value for value, _ in found[:EARLY])
    first_top = next((k + 1 for k, (value, _) in enumerate(found) if value >= threshold), None)
    return Outcome(100 * found[best][0], 100 * early, found[best][1], first_top, len(found), 0, seconds)


def config_for(table: Path, budget: int, seed: int, overrides: Sequence[str]) -> RunConfig:
    return load_config("nb201", [f"evaluator.table={table}", f"budget={budget}", f"seed={seed}", *overrides])


def summarise(outcomes: Sequence[Outcome]) -> dict[str, str]:
    def mean_std(values: Sequence[float], digits: int = 2) -> str:
        if not values:
            return "–"
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.{digits}f} ± {spread:.{digits}f}"

    reached = [o.first_top for o in outcomes if o.first_top is not None]
    return {
        f"best val @{EARLY}": mean_std([o.best_val_early for o in outcomes]),
        "best val": mean_std([o.best_val for o in outcomes]),
        "test of best": mean_std([o.best_test for o in outcomes]),
        "evals to top 1%": mean_std([float(r) for r in reached], 1),
        "reached": f"{len(reached)}/{len(outcomes)}",
        "cache hits": f"{statistics.mean(o.cached for o in outcomes):.1f}",
        "s/run": f"{statistics.mean(o.seconds for o in outcomes):.2f}",
    }


def print_table(rows: Sequence[tuple[str, str, dict[str, str]]]) -> None:
    columns = ["strategy", "settings", *rows[0][2]]
    print("| " + " | ".join(columns) + " |")
    print("|" + "|".join("---" for _ in columns) + "|")
    for name, settings, cells in rows:
        print("| " + " | ".join([name, settings or "(config)", *cells.values()]) + " |", flush=True)


def compare(
    table: Path, budget: int, seeds: Sequence[int], plan: Sequence[tuple[str, tuple[str, ...]]]
) -> None:
    fitness = load_config("nb201", [f"evaluator.table={table}"]).evaluator.fitness
    threshold = top_threshold(table, fitness)
    print(f"top-1% threshold of the table's fitness column: {threshold}; seeds {seeds[0]}..{seeds[-1]}\n")
    rows = []
    for name, extra in plan:
        if name in OPTUNA:
            outcomes = [run_optuna(table, fitness, budget, seed, name, threshold) for seed in seeds]
        else:
            overrides = (*VARIANTS[name], *extra)
            outcomes = [run_once(config_for(table, budget, seed, overrides), threshold) for seed in seeds]
        rows.append((name, " ".join(extra), summarise(outcomes)))
        print(f"  done: {name} {' '.join(extra)}", file=sys.stderr, flush=True)
    print_table(rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--table", type=Path, default=DEFAULT_TABLE)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=0, help="100: the tuning seeds")
    parser.add_argument("--budget", type=int, default=150)
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="VARIANT:KEY=VALUE",
        help="e.g. rl:search.rl.lr=0.01",
    )
    parser.add_argument("--sweep", action="store_true", help="the built-in grid, on seeds 100..")
    parser.add_argument(
        "--only", nargs="+", choices=sorted((*VARIANTS, *OPTUNA)), default=sorted((*VARIANTS, *OPTUNA))
    )
    args = parser.parse_args(argv)
    extra: dict[str, list[str]] = {name: [] for name in (*VARIANTS, *OPTUNA)}
    for item in args.sets:
        name, _, override = item.partition(":")
        if name not in VARIANTS or "=" not in override:
            parser.error(
                f"--set {item!r}: expected VARIANT:KEY=VALUE with VARIANT one of {', '.join(VARIANTS)}"
            )
        extra[name].append(override)
    order = [name for name in (*VARIANTS, *OPTUNA) if name in args.only]
    print("command: python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv or sys.argv[1:])]))
    if args.sweep:
        plan = [(name, tuple(extra[name]) + setting) for name in order for setting in SWEEP.get(name, ((),))]
        seeds = range(100, 100 + args.seeds)
    else:
        plan = [(name, tuple(extra[name])) for name in order]
        seeds = range(args.first_seed, args.first_seed + args.seeds)
    compare(args.table, args.budget, list(seeds), plan)


if __name__ == "__main__":
    main()
