"""The one training loop: the search's evaluator and the final training both call ``fit``.

``fit`` trains a built model with SGD on images kept on its device, from step 0 or from a checkpoint,
up to ``stop_at`` (default: the whole ``settings.steps``), and returns the checkpoint at the step it
stopped with its metrics. A checkpoint is everything the rest of the training depends on: the
weights, the optimizer's momentum, the step (the learning-rate schedule is a function of the step)
and the data stream's position (the epoch's permutation, the batch within it and the generator's
state, which the augmentation draws from). So training to step k, saving, loading into a freshly
built model and fitting on to step n ends, on CPU, with the weights bit for bit equal to those of one
uninterrupted n-step run (tests/test_fit.py). Nothing here draws from torch's global RNG.

Checkpoints hold only tensors, numbers, strings, lists and dicts: ``load_checkpoint`` reads them with
``weights_only=True``, so a checkpoint file handed over by someone else can never run code.

The learning curve travels in the checkpoint too: the mean training loss over fixed windows of
``curve_every(settings)`` steps (at most ``CURVE_POINTS`` of them over the whole ``settings.steps``,
whichever step training stops or resumes at) and the TSE, the sum of the training losses of every
step so far (Ru et al. 2021, "Speedy performance estimation for neural architecture search",
section 3: a cheap and strong ranking signal). Both are summed in float64 per step and the open
window's partial sum is saved with the checkpoint, so a training continued from step a ends with the
same curve and the same TSE, bit for bit, as one that ran straight through.

Divergence has one rule everywhere: the mean training loss over each window of ``CHECK_EVERY`` steps
(and over the steps before each checkpoint and before stopping) must be finite, else ``fit`` raises
``TrainingDiverged``. A checkpoint therefore never holds diverged weights. What that means is the
caller's: a failed result for the search, a one-line error for ``hiernas train``.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hiernas.config import TrainingSettings
from hiernas.data.device import DeviceImages, Normalise, TrainBatches
from hiernas.errors import InputError
from hiernas.run_dir import write_atomically
from hiernas.schedule import lr_factor
from hiernas.training import (
    CHECK_EVERY,
    Placement,
    accuracy,
    make_optimizer,
    peak_memory_mb,
    reset_peak_memory,
    set_lr,
    synchronize,
    train_step,
)

# Bumped when the checkpoint's content changes; an older file is refused, not misread.
# 3: the learning curve and the TSE (``_Curve``).
CHECKPOINT_FORMAT = 3
# The most points a learning curve has over a whole training (one more where it stopped mid-window):
# enough to see its shape, small enough for every evaluation's metrics in the journal.
CURVE_POINTS = 50

Checkpoint = dict[str, Any]


class TrainingDiverged(Exception):
    """The training loss turned NaN or infinite; ``step`` is the last step trained."""

    def __init__(self, loss: float, first: int, step: int) -> None:
        super().__init__(f"training diverged: mean loss {loss} over steps {first}-{step}")
        self.step = step


@dataclass(frozen=True, eq=False)
class FitData:
    """The images a model trains on, their normalisation, and the held-out images it is scored on
    when ``fit`` stops (None: not scored)."""

    train: DeviceImages
    normalise: Normalise
    augment: bool
    flip: bool
    held_out: DeviceImages | None = None


@dataclass(frozen=True)
class Progress:
    """What a progress display is told after every step."""

    step: int
    total: int
    loss: float | None  # the mean loss of the last checked window of steps
    lr: float
    images_per_s: float


@dataclass(frozen=True)
class Fitted:
    """``checkpoint``: the state at the step ``fit`` stopped; its tensors are the model's own, so
    save or copy it before training the model further. ``metrics``: steps, train_loss, tse,
    loss_curve, train_seconds, train_images_per_s, peak_memory_mb, and accuracy when held-out images
    were given."""

    checkpoint: Checkpoint
    metrics: dict[str, Any]


class _Stream:
    """Training batches that can stop at any step and be continued exactly: the current epoch's
    permutation, the next batch's index in it and the generator's state."""

    def __init__(self, batches: TrainBatches) -> None:
        self.batches = batches
        self.order: torch.Tensor | None = None  # drawn when the first batch of an epoch is asked for
        self.position = 0

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.order is None or self.position == self.batches.steps_per_epoch:
            self.order, self.position = self.batches.order(), 0
        batch = self.batches.batch(self.order, self.position)
        self.position += 1
        return batch

    def state(self) -> dict[str, Any]:
        order = self.order if self.order is not None else torch.empty(0, dtype=torch.int64)
        return {"generator": self.batches.generator.get_state(), "order": order, "position": self.position}

    def load(self, state: dict[str, Any]) -> None:
        self.batches.generator.set_state(state["generator"].cpu())  # generator states live on the CPU
        order = state["order"]
        self.order = order.to(self.batches.data.x.device) if order.numel() else None
        self.position = int(state["position"])


def curve_every(settings: TrainingSettings) -> int:
    """The steps per learning-curve window: fixed by the full training, never by where it stops."""
    return max(1, math.ceil(settings.steps / CURVE_POINTS))


class _Curve:
    """The learning curve and the TSE (module docstring). ``points``: (step, mean loss of the window
    ending there); ``closed``: the sum of the losses of the windows in ``points``; ``open``: the
    float64 sum of the losses since the last point, on the device (read once per window)."""

    def __init__(self, every: int, device: torch.device) -> None:
        self.every = every
        self.points: list[list[float]] = []
        self.closed = 0.0
        self.open = torch.zeros((), dtype=torch.float64, device=device)
        self.open_from = 0

    def add(self, step: int, loss: torch.Tensor) -> None:
        """The loss of ``step`` (counted from 1); closes a window at each multiple of ``every``."""
        self.open += loss.detach()
        if step % self.every == 0:
            total = float(self.open)
            self.points.append([step, total / (step - self.open_from)])
            self.closed += total
            self.open.zero_()
            self.open_from = step

    def metrics(self, step: int) -> dict[str, Any]:
        """``tse`` and ``loss_curve`` at ``step``, the open window as a last point if it has steps."""
        partial = float(self.open)
        points = [list(point) for point in self.points]
        if step > self.open_from:
            points.append([step, partial / (step - self.open_from)])
        return {"tse": self.closed + partial, "loss_curve": points}

    def state(self) -> dict[str, Any]:
        return {
            "every": self.every,
            "points": [list(point) for point in self.points],
            "closed": self.closed,
            "open": float(self.open),
            "open_from": self.open_from,
        }

    def load(self, state: dict[str, Any]) -> None:
        if int(state["every"]) != self.every:
            raise InputError("the checkpoint's learning curve has other windows (another step count)")
        self.points = [[int(step), float(loss)] for step, loss in state["points"]]
        self.closed = float(state["closed"])
        self.open.fill_(float(state["open"]))
        self.open_from = int(state["open_from"])


def fit(
    model: nn.Module,
    data: FitData,
    settings: TrainingSettings,
    placement: Placement,
    *,
    seed: int,
    start: Checkpoint | None = None,
    stop_at: int | None = None,
    checkpoint_every: int | None = None,
    on_checkpoint: Callable[[Checkpoint], None] | None = None,
    on_step: Callable[[Progress], None] | None = None,
) -> Fitted:
    """Train ``model`` (already on ``placement``'s device) from ``start`` (None: step 0, data order
    from ``seed``) to ``stop_at`` steps (None: ``settings.steps``). ``on_checkpoint`` is handed the
    checkpoint every ``checkpoint_every`` steps; raises ``TrainingDiverged`` (module docstring)."""
    stop = settings.steps if stop_at is None else stop_at
    if not 0 < stop <= settings.steps:
        raise ValueError(f"stop_at must be in 1..{settings.steps}, got {stop}")
    model.train()
    optimizer = make_optimizer(model, settings)
    generator = torch.Generator(device=placement.device).manual_seed(seed)
    batches = TrainBatches(data.train, settings.batch_size, generator, augment=data.augment, flip=data.flip)
    stream = _Stream(batches)
    curve = _Curve(curve_every(settings), placement.device)
    step, loss = 0, None
    if start is not None:
        if start.get("format") != CHECKPOINT_FORMAT:
            raise InputError("not a checkpoint of this hiernas version; delete it to start over")
        model.load_state_dict(start["model"])
        optimizer.load_state_dict(start["optimizer"])
        stream.load(start["data"])
        curve.load(start["curve"])
        step, loss = int(start["step"]), start["loss"]
        if step > stop:
            raise ValueError(f"the checkpoint is at step {step}, past stop_at={stop}")
    # torch.compile caches compiled code per code object and falls back to eager after 8 recompiles
    # (torch._dynamo.config.cache_size_limit): one compile per genotype in a long-lived worker.
    forward = torch.compile(model) if settings.compile else model

    def checkpoint() -> Checkpoint:
        return {
            "format": CHECKPOINT_FORMAT,
            "step": step,
            "loss": loss,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "data": stream.state(),
            "curve": curve.state(),
        }

    reset_peak_memory(placement)
    started, first = time.perf_counter(), step
    window = torch.zeros((), dtype=torch.float32, device=placement.device)
    window_start, lr = step, settings.lr
    while step < stop:
        lr = settings.lr * lr_factor(step, settings)
        set_lr(optimizer, lr)
        images, labels = stream.next()
        step_loss = train_step(
            forward, optimizer, images, labels, data.normalise, placement, settings.label_smoothing
        )
        window += step_loss
        step += 1
        curve.add(step, step_loss)
        saving = on_checkpoint is not None and checkpoint_every is not None and step % checkpoint_every == 0
        if step % CHECK_EVERY == 0 or step == stop or saving:
            loss = float(window) / (step - window_start)  # the one host sync per window
            if not math.isfinite(loss):
                raise TrainingDiverged(loss, window_start + 1, step)
            window.zero_()
            window_start = step
        if saving and on_checkpoint is not None:
            on_checkpoint(checkpoint())
        if on_step is not None:
            rate = (step - first) * settings.batch_size / (time.perf_counter() - started)
            on_step(Progress(step, settings.steps, loss, lr, rate))
    synchronize(placement)
    seconds = time.perf_counter() - started
    metrics: dict[str, Any] = {
        "steps": step,
        "train_loss": loss,
        **curve.metrics(step),
        "train_seconds": seconds,
        "train_images_per_s": (step - first) * settings.batch_size / seconds if step > first else None,
        "peak_memory_mb": peak_memory_mb(placement),
    }
    if data.held_out is not None:
        metrics["accuracy"] = accuracy(
            forward, data.held_out, data.normalise, placement, settings.eval_batch_size
        )
    return Fitted(checkpoint(), metrics)


def save_checkpoint(path: Path, value: Checkpoint | dict[str, torch.Tensor]) -> None:
    """Serialised in memory, then written by the run directory's one atomic writer (a kill mid-write
    leaves the previous file intact; the file gets the user's usual permissions)."""
    buffer = io.BytesIO()
    torch.save(value, buffer)
    write_atomically(path, buffer.getvalue())


def load_checkpoint(path: Path, device: torch.device | str) -> Checkpoint:
    """A checkpoint saved by ``save_checkpoint``, read as data only (``weights_only=True``)."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # torch raises many kinds for a damaged or foreign file
        raise InputError(
            f"{path}: unreadable checkpoint ({type(error).__name__}); delete it to start over"
        ) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{path}: not a checkpoint of this hiernas version; delete it to start over")
    return state
