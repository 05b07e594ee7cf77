"""The ``hiernas`` command group: every command's arguments and options in one place.

Each command body imports its implementation when it runs, so ``hiernas --help`` and light commands
do not pay for importing torch. ``hiernas.cli.main`` runs the group and turns its end into an exit
code.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from evolution.registry import STRATEGIES
from hiernas.export import FORMATS

_existing_path = click.Path(path_type=Path)
_set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config value, e.g. --set search.population=50 (repeatable).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="hiernas")
def cli() -> None:
    """Neural architecture search with hierarchical representations (Liu et al., ICLR 2018)."""


@cli.command()
@click.argument("config")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random mutations.")
@click.option(
    "--mutations",
    type=click.IntRange(min=0),
    default=None,
    help="Random mutations after the identity chains [default: the config's init_mutations].",
)
@click.option(
    "-o", "--output", type=_existing_path, default=None, help="Write here (.json/.yaml) instead of stdout."
)
@_set_option
def sample(
    config: str, seed: int, mutations: int | None, output: Path | None, overrides: Sequence[str]
) -> None:
    """A random genotype, as the search initialises them. CONFIG: a config file or a preset
    (hierarchical/paper, flat, nb201)."""
    from hiernas.commands.sample import run_sample

    run_sample(config, seed=seed, mutations=mutations, output=output, overrides=overrides)


@cli.command()
@click.argument("genotype", type=_existing_path)
@click.option("--json", "as_json", is_flag=True, help="One JSON object: key, params, flops, edges.")
@click.option(
    "--config", default=None, help="Config whose search template to measure [default: the paper's]."
)
@_set_option
def describe(genotype: Path, as_json: bool, config: str | None, overrides: Sequence[str]) -> None:
    """Canonical key, live edges per level, parameters and FLOPs per image of the search network
    (NAS-Bench-201's own network for an NB201 cell or table run). GENOTYPE: a genotype file or a
    run directory (its best.json, in its config)."""
    from hiernas.commands.describe import run_describe

    run_describe(genotype, as_json=as_json, config=config, overrides=overrides)


@cli.command()
@click.argument("genotype", type=_existing_path)
@click.option(
    "-o",
    "--output",
    type=_existing_path,
    default=None,
    help="Drawing to write: .svg, .png or .dot [default: GENOTYPE with .svg].",
)
def show(genotype: Path, output: Path | None) -> None:
    """Draw every motif of every level, and the cell flattened down to primitives."""
    from hiernas.commands.show import run_show

    run_show(genotype, output)


@cli.command()
@click.argument("config")
@click.option(
    "--run-dir",
    type=_existing_path,
    default=None,
    help="Run directory; an existing run is resumed [default: runs/<config>-<strategy>-s<seed>-<time>].",
)
@click.option(
    "--strategy",
    type=click.Choice(STRATEGIES.names()),
    default=None,
    help="Search strategy [default: the config's search.strategy].",
)
@click.option("--budget", type=click.IntRange(min=1), default=None, help="Finished evaluations to run for.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Evaluations in flight at once.")
@click.option("--seed", type=int, default=None, help="Run seed [default: the config's seed].")
@click.option(
    "--warm-start",
    type=_existing_path,
    default=None,
    metavar="RUN_DIR",
    help="Seed the initial population with the best distinct networks of an earlier run "
    "(evaluated again here; the rest is random as usual). Only when a run starts.",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=None,
    help="How many seeds --warm-start takes [default: 10, at most the population].",
)
@_set_option
def evolve(
    config: str,
    run_dir: Path | None,
    strategy: str | None,
    budget: int | None,
    workers: int | None,
    seed: int | None,
    warm_start: Path | None,
    top: int | None,
    overrides: Sequence[str],
) -> None:
    """Search for an architecture (or resume a search). CONFIG: a YAML file or a bundled config
    name (digits, cifar, flat, nb201)."""
    from hiernas.commands.evolve import run_evolve

    if top is not None and warm_start is None:
        raise click.UsageError("--top goes with --warm-start RUN_DIR")
    flags = {"search.strategy": strategy, "budget": budget, "executor.workers": workers, "seed": seed}
    extra = [f"{key}={value}" for key, value in flags.items() if value is not None]
    run_evolve(config, run_dir=run_dir, overrides=[*overrides, *extra], warm_start=warm_start, top=top)


@cli.command()
@click.argument("run_dir", type=_existing_path)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object (done, failed, cached, pending, budget, best...).",
)
@click.option(
    "--top", type=click.IntRange(min=1), default=5, show_default=True, help="How many of the best to list."
)
def status(run_dir: Path, as_json: bool, top: int) -> None:
    """Counts and the best results of a run (safe while the run is writing)."""
    from hiernas.commands.status import run_status

    run_status(run_dir, as_json=as_json, top=top)


@cli.command()
@click.argument("run_dirs", nargs=-1, type=_existing_path, metavar="DIR...")
@click.option(
    "-o",
    "--output",
    type=_existing_path,
    default=Path("report.html"),
    show_default=True,
    help="The HTML page to write; its PNGs go beside it as <name>-<figure>.png.",
)
@click.option(
    "--top", type=click.IntRange(min=1), default=10, show_default=True, help="Genotypes in the top table."
)
def report(run_dirs: tuple[Path, ...], output: Path, top: int) -> None:
    """Compare runs in one self-contained HTML page: best fitness so far per strategy (mean and
    spread over seeds), the fitness distribution, failures and cache hits, the best genotype drawn,
    the top genotypes (safe while the runs are writing)."""
    from hiernas.commands.report import run_report

    run_report(list(run_dirs), output, top=top)


@cli.command()
@click.argument("genotype", type=_existing_path)
@click.argument("config")
@click.option(
    "-o",
    "--output",
    type=_existing_path,
    default=None,
    help="Folder for weights, metrics and checkpoints; an unfinished one is resumed "
    "[default: runs/train-<GENOTYPE name>].",
)
@_set_option
def train(genotype: Path, config: str, output: Path | None, overrides: Sequence[str]) -> None:
    """Train GENOTYPE in the evaluation template (the config's final section: C0=64, N=2) on the
    training and validation images, and report its test accuracy. Running the same command again
    resumes from the last epoch's checkpoint."""
    from hiernas.commands.train import run_train

    run_train(genotype, config, output=output, overrides=overrides)


@cli.command()
@click.argument("source", type=_existing_path, metavar="RUN_DIR|GENOTYPE")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS.names()),
    required=True,
    help="json/yaml: genotype files (a run's with a ranking of fitness and metrics); py: standalone "
    "PyTorch source; torchscript, onnx (opset 18): the network, checked against PyTorch.",
)
@click.option(
    "--top", type=click.IntRange(min=1), default=1, show_default=True, help="How many of a run's best."
)
@click.option("--front", is_flag=True, help="Every member of the run's Pareto front (see status).")
@click.option(
    "--weights",
    type=_existing_path,
    default=None,
    help="Trained weights: a 'hiernas train' folder, its model.pt or checkpoint.pt.",
)
@click.option(
    "-o", "--output", type=_existing_path, default=None, help="Folder to write [default: exports/<name>]."
)
@click.option(
    "--config",
    default=None,
    help="Config of the template [default: beside the weights, the run's, or the paper's].",
)
@click.option(
    "--template",
    type=click.Choice(["search", "evaluation"]),
    default=None,
    help="Network template [default: evaluation with --weights, else search].",
)
@_set_option
def export(
    source: Path,
    fmt: str,
    top: int,
    weights: Path | None,
    output: Path | None,
    config: str | None,
    template: str | None,
    overrides: Sequence[str],
    front: bool,
) -> None:
    """Export a run's best genotypes (or one genotype file) as genotype files, PyTorch source,
    TorchScript or ONNX; every file is checked against the PyTorch module on the spot."""
    from hiernas.commands.export import run_export

    run_export(
        source,
        fmt=fmt,
        top=top,
        weights=weights,
        output=output,
        config=config,
        template=template,
        overrides=overrides,
        front=front,
    )


@cli.command()
@click.argument("source", metavar="CONFIG|TABLE.csv")
@click.option(
    "--columns", default=None, help="Table mode: columns to compare, each against the last, e.g. A,B."
)
@click.option(
    "--budgets",
    default=None,
    help="Training mode: step budgets, each against the largest, e.g. 300,900,2700. Each budget "
    "trains from scratch with only evaluator.steps changed (a cosine schedule shrinks with it).",
)
@click.option(
    "--sample", type=click.IntRange(min=2), default=30, show_default=True, help="Genotypes to train."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample and its training.")
@click.option(
    "-o",
    "--output",
    type=_existing_path,
    default=None,
    help="Folder of the training results; an unfinished one is resumed "
    "[default: runs/fidelity-<config>-s<seed>].",
)
@click.option(
    "--top-fraction",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.1,
    show_default=True,
    help="The reference's top share that τ-within-the-top and the top-k overlap look at.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object with every figure.")
@_set_option
def fidelity(
    source: str,
    columns: str | None,
    budgets: str | None,
    sample: int,
    seed: int,
    output: Path | None,
    top_fraction: float,
    as_json: bool,
    overrides: Sequence[str],
) -> None:
    """Does a cheap score rank architectures like an expensive one? Kendall τ, Spearman ρ, τ within
    the top and the top-k overlap of each score against the reference: a table's columns
    (--columns), or a seeded sample of CONFIG's genotypes trained at several budgets (--budgets)."""
    from hiernas.commands.fidelity import run_fidelity

    run_fidelity(
        source,
        columns=columns,
        budgets=budgets,
        sample=sample,
        seed=seed,
        output=output,
        top_fraction=top_fraction,
        as_json=as_json,
        overrides=overrides,
    )
