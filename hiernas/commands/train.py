"""``hiernas train``: final training of one genotype in the evaluation template, resumable."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from hiernas.config import load_config
from hiernas.data.load import load_dataset
from hiernas.final_training import Progress as StepProgress
from hiernas.final_training import prepare_output, train_final
from hiernas.network import evaluation_network
from hiernas.training import Placement
from motifs.files import load_genotype


def default_output(genotype: Path) -> Path:
    return Path("runs") / f"train-{genotype.stem}"


def run_train(genotype_path: Path, source: str, *, output: Path | None, overrides: Sequence[str]) -> None:
    config = load_config(source, overrides)
    genotype = load_genotype(genotype_path)
    directory = output or default_output(genotype_path)
    console = Console(stderr=True, soft_wrap=True)
    finished = prepare_output(directory, genotype, config)
    if finished is not None:
        console.print(f"{directory} holds a finished training; nothing to do")
        _report(console, finished, directory)
        return
    dataset = load_dataset(config.data)
    network = evaluation_network(config)
    columns = (
        TextColumn("[bold]train"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TextColumn("lr {task.fields[lr]:.4g}"),
        TextColumn("{task.fields[rate]:,.0f} img/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("train", total=config.final.steps, loss="-", lr=config.final.lr, rate=0.0)

        def on_start(step: int, total: int, placement: Placement) -> None:
            what = f"resuming at step {step} of {total}" if step else f"training {total} steps"
            console.print(
                f"{what}: C0={network.channels}, N={network.cells_per_stage} on {dataset.name} "
                f"({len(dataset.train_x)} training, {len(dataset.test_x)} test images), {placement.describe()}"
            )
            progress.update(task, completed=step)

        def on_step(state: StepProgress) -> None:
            loss = "-" if state.loss is None else f"{state.loss:.3f}"
            progress.update(task, completed=state.step, loss=loss, lr=state.lr, rate=state.images_per_s)

        metrics = train_final(genotype, config, directory, dataset, on_start=on_start, on_step=on_step)
    _report(console, metrics, directory)


def _report(console: Console, metrics: dict, directory: Path) -> None:
    console.print(
        f"test accuracy {metrics['test_accuracy']:.4f} after {metrics['steps']} steps "
        f"({metrics['params']:,} parameters, {metrics['seconds']:.0f} s) → {directory}"
    )
