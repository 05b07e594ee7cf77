"""Final training of a found architecture (Liu et al. 2018, section 4.3): the cell in the large
evaluation template (``final``: C0 = 64, N = 2), trained on all training images (train and
validation together) with its own longer schedule, and reported on the test set.

The output folder holds, as they appear:

    genotype.json   the genotype trained (DESIGN.md file format)
    config.yaml     the resolved run configuration
    checkpoint.pt   the ``hiernas.fit`` checkpoint (model, optimizer, step, data-stream position)
                    and elapsed time, rewritten after every epoch (atomically), removed once
                    training is complete
    model.pt        the trained weights (a state_dict)
    metrics.json    test accuracy, final train loss, params, FLOPs, times, normalisation statistics

Training is ``hiernas.fit.fit``, the loop the search's evaluator uses too. Its checkpoint holds the
data stream's position as well, so a resumed run replays the same batches as an uninterrupted one
and, on CPU, ends with the same weights.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from hiernas.config import RunConfig, config_differences
from hiernas.data.dataset import Dataset
from hiernas.data.device import DeviceImages, Normalise
from hiernas.errors import InputError
from hiernas.fit import (
    Checkpoint,
    FitData,
    Progress,
    TrainingDiverged,
    fit,
    load_checkpoint,
    save_checkpoint,
)
from hiernas.run_dir import write_atomically
from hiernas.training import Placement, process_settings, resolve_placement
from motifs import Genotype
from motifs.data_files import load_yaml

GENOTYPE_FILE, CONFIG_FILE, CHECKPOINT_FILE = "genotype.json", "config.yaml", "checkpoint.pt"
MODEL_FILE, METRICS_FILE = "model.pt", "metrics.json"
# The config sections that decide what is trained; the others (search, executor, budget...) do not,
# so a folder may be resumed under a config that differs only there.
TRAINING_KEYS = ("seed", "network", "data", "final")
# Where the cache lives changes nothing that is computed.
IGNORED_KEYS = ("data.cache_dir",)


def prepare_output(directory: Path, genotype: Genotype, config: RunConfig) -> dict[str, Any] | None:
    """Create ``directory`` for this genotype and config, or check that it already belongs to them.

    Returns the finished metrics when the folder holds a completed training, else None.
    """
    genotype_file, config_file = directory / GENOTYPE_FILE, directory / CONFIG_FILE
    if genotype_file.exists() or config_file.exists():
        _check_same(directory, genotype, config)
        metrics_file = directory / METRICS_FILE
        if metrics_file.is_file() and (directory / MODEL_FILE).is_file():
            return json.loads(metrics_file.read_text(encoding="utf-8"))
        return None
    if directory.exists() and any(directory.iterdir()):
        raise InputError(
            f"{directory}: exists and holds other files; give -o a new or empty folder "
            "(or the folder of an earlier 'hiernas train' to resume it)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    write_atomically(genotype_file, json.dumps(genotype.to_dict(), indent=1) + "\n")
    write_atomically(config_file, config.to_yaml())
    return None


def _check_same(directory: Path, genotype: Genotype, config: RunConfig) -> None:
    from motifs.files import load_genotype

    try:
        stored = load_genotype(directory / GENOTYPE_FILE)
        old = load_yaml((directory / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, InputError, ValueError) as error:
        raise InputError(
            f"{directory}: holds an unreadable earlier training ({error}); use another -o folder"
        ) from None
    if stored != genotype:
        raise InputError(
            f"{directory}: was trained with a different genotype; use another -o folder, or pass the "
            f"genotype in {directory / GENOTYPE_FILE} to resume"
        )
    new = config.to_dict()
    differing = [
        key
        for key in config_differences(
            {k: old.get(k) for k in TRAINING_KEYS}, {k: new.get(k) for k in TRAINING_KEYS}
        )
        if key not in IGNORED_KEYS
    ]
    if differing:
        raise InputError(
            f"{directory}: was started with a different configuration ({', '.join(differing)}); "
            "use another -o folder, or the same config and --set values to resume"
        )


def train_final(
    genotype: Genotype,
    config: RunConfig,
    directory: Path,
    dataset: Dataset,
    *,
    on_start: Callable[[int, int, Placement], None] | None = None,
    on_step: Callable[[Progress], None] | None = None,
) -> dict[str, Any]:
    """Train (or resume training) in ``directory``, which ``prepare_output`` has set up."""
    from hiernas.network import build_network, evaluation_network
    from hiernas.network_size import count_parameters, flops_per_image

    final = config.final
    placement = resolve_placement(final)
    channels, height, width = dataset.image_shape
    checkpoint_file = directory / CHECKPOINT_FILE
    with process_settings(placement):
        # All 50,000 (or all non-test) images: the validation split was for the search only.
        train = DeviceImages.from_arrays(dataset.train_x, dataset.train_y, placement.device)
        test = DeviceImages.from_arrays(dataset.test_x, dataset.test_y, placement.device)
        normalise = Normalise(dataset.train_x, placement.device, placement.channels_last)
        flip = dataset.flip if config.data.flip is None else config.data.flip
        data = FitData(train, normalise, augment=config.data.augment, flip=flip, held_out=test)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            model = build_network(genotype, evaluation_network(config), channels, dataset.num_classes)
            params = count_parameters(model)
            flops = flops_per_image(model, (channels, height, width))
        model = model.to(placement.device, memory_format=placement.memory_format)

        start = load_checkpoint(checkpoint_file, placement.device) if checkpoint_file.is_file() else None
        elapsed, resumed = 0.0, []  # resumed: the steps this training was resumed at
        if start is not None:
            elapsed, resumed = start["elapsed"], [*start["resumed"], start["step"]]
        if on_start is not None:
            on_start(0 if start is None else start["step"], final.steps, placement)
        session_start = time.perf_counter()

        def save(state: Checkpoint) -> None:
            now = elapsed + time.perf_counter() - session_start
            save_checkpoint(checkpoint_file, {**state, "elapsed": now, "resumed": resumed})

        steps_per_epoch = len(train) // final.batch_size
        try:
            fitted = fit(
                model,
                data,
                final,
                placement,
                seed=config.seed,
                start=start,
                checkpoint_every=max(1, steps_per_epoch),
                on_checkpoint=save,
                on_step=on_step,
            )
        except TrainingDiverged as error:
            raise InputError(
                f"{error}; lower final.lr or add final.warmup_steps, and train into a new -o folder"
            ) from None
        session_seconds = time.perf_counter() - session_start

    fit_metrics = fitted.metrics
    metrics = {
        "test_accuracy": fit_metrics["accuracy"],
        "train_loss": fit_metrics["train_loss"],
        "steps": fit_metrics["steps"],
        "epochs": fit_metrics["steps"] / max(1, steps_per_epoch),
        "params": params,
        "flops": flops,
        "seconds": elapsed + session_seconds,
        "train_images_per_s": fit_metrics["train_images_per_s"],
        "peak_memory_mb": fit_metrics["peak_memory_mb"],
        "device": placement.describe(),
        "resumed_at": resumed,
        "dataset": dataset.describe(),
        "normalisation": normalise.statistics(),
    }
    weights = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    save_checkpoint(directory / MODEL_FILE, weights)
    write_atomically(directory / METRICS_FILE, json.dumps(metrics, indent=2) + "\n")
    checkpoint_file.unlink(missing_ok=True)
    return metrics
