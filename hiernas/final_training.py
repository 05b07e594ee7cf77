"""Final training of a found architecture (Liu et al. 2018, section 4.3): the cell in the large
evaluation template (``final``: C0 = 64, N = 2), trained on all training images (train and
validation together) with its own longer schedule, and reported on the test set.

The output folder holds, as they appear:

    genotype.json   the genotype trained (DESIGN.md file format)
    config.yaml     the resolved run configuration
    checkpoint.pt   model, optimizer, step, data-generator state and elapsed time, rewritten after
                    every epoch (atomically), removed once training is complete
    model.pt        the trained weights (a state_dict)
    metrics.json    test accuracy, final train loss, params, FLOPs, times, normalisation statistics

Checkpoints are taken at epoch boundaries because that is where the data order is fully described
by the generator's state (each epoch's permutation is drawn from it), so a resumed run replays the
same batches as an uninterrupted one and, on CPU, ends with the same weights.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hiernas.config import NetworkConfig, RunConfig, config_differences
from hiernas.data.dataset import Dataset
from hiernas.data.device import DeviceImages, Normalise, TrainBatches
from hiernas.errors import InputError
from hiernas.run_dir import write_atomically
from hiernas.schedule import lr_factor
from hiernas.training import (
    Placement,
    accuracy,
    make_optimizer,
    peak_memory_mb,
    process_settings,
    reset_peak_memory,
    resolve_placement,
    set_lr,
    synchronize,
    train_step,
)
from motifs import Genotype
from motifs.data_files import load_yaml

GENOTYPE_FILE, CONFIG_FILE, CHECKPOINT_FILE = "genotype.json", "config.yaml", "checkpoint.pt"
MODEL_FILE, METRICS_FILE = "model.pt", "metrics.json"
CHECKPOINT_FORMAT = 1
# The config sections that decide what is trained; the others (search, executor, budget...) do not,
# so a folder may be resumed under a config that differs only there.
TRAINING_KEYS = ("seed", "network", "data", "final")
# Where the cache lives changes nothing that is computed.
IGNORED_KEYS = ("data.cache_dir",)


@dataclass(frozen=True)
class Progress:
    """What a progress display is told after every step."""

    step: int
    total: int
    loss: float | None  # the mean loss of the last finished epoch
    lr: float
    images_per_s: float


def final_network(config: RunConfig) -> NetworkConfig:
    """The search template's network section with the evaluation template's width and depth."""
    return config.network.model_copy(
        update={"channels": config.final.channels, "cells_per_stage": config.final.cells_per_stage}
    )


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
    from hiernas.network import build_network
    from hiernas.network_size import count_parameters, flops_per_image

    final = config.final
    placement = resolve_placement(final)
    channels, height, width = dataset.image_shape
    with process_settings(placement):
        # All 50,000 (or all non-test) images: the validation split was for the search only.
        train = DeviceImages.from_arrays(dataset.train_x, dataset.train_y, placement.device)
        test = DeviceImages.from_arrays(dataset.test_x, dataset.test_y, placement.device)
        normalise = Normalise(dataset.train_x, placement.device, placement.channels_last)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            model = build_network(genotype, final_network(config), channels, dataset.num_classes)
            params = count_parameters(model)
            flops = flops_per_image(model, (channels, height, width))
        model = model.to(placement.device, memory_format=placement.memory_format)
        optimizer = make_optimizer(model, final)
        generator = torch.Generator(device=placement.device).manual_seed(config.seed)
        flip = dataset.flip if config.data.flip is None else config.data.flip
        batches = TrainBatches(train, final.batch_size, generator, augment=config.data.augment, flip=flip)
        forward = torch.compile(model) if final.compile else model

        state = _load_checkpoint(directory / CHECKPOINT_FILE, placement)
        step, elapsed, last_loss = 0, 0.0, None
        resumed: list[int] = []  # the steps this training was resumed at
        if state is not None:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            generator.set_state(state["generator"])
            step, elapsed, resumed = state["step"], state["elapsed"], [*state["resumed"], state["step"]]
            last_loss = state["loss"]
        if on_start is not None:
            on_start(step, final.steps, placement)

        model.train()
        reset_peak_memory(placement)
        session_start, session_steps = time.perf_counter(), 0
        while step < final.steps:
            epoch_loss = torch.zeros((), dtype=torch.float32, device=placement.device)
            epoch_steps = 0
            for images, labels in batches.epoch():
                lr = final.lr * lr_factor(step, final)
                set_lr(optimizer, lr)
                epoch_loss += train_step(
                    forward, optimizer, images, labels, normalise, placement, final.label_smoothing
                )
                step, epoch_steps, session_steps = step + 1, epoch_steps + 1, session_steps + 1
                if on_step is not None:
                    rate = session_steps * final.batch_size / (time.perf_counter() - session_start)
                    on_step(Progress(step, final.steps, last_loss, lr, rate))
                if step == final.steps:
                    break
            last_loss = float(epoch_loss) / max(1, epoch_steps)  # one host sync per epoch
            if not math.isfinite(last_loss):
                raise InputError(
                    f"training diverged: mean loss {last_loss} in the epoch ending at step {step}; "
                    "lower final.lr or add final.warmup_steps, and train into a new -o folder"
                )
            synchronize(placement)
            now_elapsed = elapsed + time.perf_counter() - session_start
            _save_torch(
                directory / CHECKPOINT_FILE,
                {
                    "format": CHECKPOINT_FORMAT,
                    "step": step,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "generator": generator.get_state(),
                    "elapsed": now_elapsed,
                    "resumed": resumed,
                    "loss": last_loss,
                },
            )
        synchronize(placement)
        session_seconds = time.perf_counter() - session_start
        test_accuracy = accuracy(forward, test, normalise, placement, final.eval_batch_size)

    metrics = {
        "test_accuracy": test_accuracy,
        "train_loss": last_loss,
        "steps": step,
        "epochs": step / batches.steps_per_epoch,
        "params": params,
        "flops": flops,
        "seconds": elapsed + session_seconds,
        "train_images_per_s": session_steps * final.batch_size / session_seconds if session_steps else None,
        "peak_memory_mb": peak_memory_mb(placement),
        "device": placement.describe(),
        "resumed_at": resumed,
        "dataset": dataset.describe(),
        "normalisation": normalise.statistics(),
    }
    weights = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    _save_torch(directory / MODEL_FILE, weights)
    write_atomically(directory / METRICS_FILE, json.dumps(metrics, indent=2) + "\n")
    (directory / CHECKPOINT_FILE).unlink(missing_ok=True)
    return metrics


def _load_checkpoint(path: Path, placement: Placement) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        # weights_only: a checkpoint is tensors, numbers and lists, never code.
        state = torch.load(path, map_location=placement.device, weights_only=True)
    except Exception as error:  # torch raises many kinds for a damaged file
        raise InputError(
            f"{path}: unreadable checkpoint ({type(error).__name__}); delete it to start over"
        ) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{path}: not a checkpoint of this hiernas version; delete it to start over")
    # Generator states live on the CPU whatever the generator's device.
    state["generator"] = state["generator"].cpu()
    return state


def _save_torch(path: Path, value: Any) -> None:
    """torch.save to a temporary file in the same folder, then rename: a kill mid-write leaves the
    previous file intact. The temporary name is made by hand rather than by mkstemp, so the file
    gets the user's usual permissions (mkstemp's are private; weights are meant to be shared)."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(value, temp)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
