"""What the search's evaluator and the final training share: where a network trains, one SGD step,
accuracy on held-out images, and the process settings (threads, cuDNN) made for the duration only.

On CUDA the defaults are the ones that make small networks fast without changing what is learned:
bf16 autocast (tensor cores; no loss scaling needed, unlike fp16), channels-last memory (cuDNN's
native layout for bf16 convolutions) and ``cudnn.benchmark`` (each genotype has its own shapes, and
the search runs thousands of steps per shape, so picking the fastest kernel once pays off).
On CPU training stays fp32, bit-for-bit repeatable for a given thread count, and channels-last too:
oneDNN otherwise reorders every activation to and from its own layout around each convolution;
measured on one core, a training step of the paper's search network (a 1000-mutation sample, C0=16,
batch 64, 32×32) went from 5.2-6.5 s to 2.4-2.7 s, and the digits-sized test networks got no slower.
"""

from __future__ import annotations

import contextlib
import os
import resource
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from hiernas.config import TrainingSettings
from hiernas.data.device import DeviceImages, Normalise, eval_batches
from hiernas.errors import InputError
from hiernas.malloc_thresholds import fix_malloc_thresholds

# How many steps of losses are summed on the device before one host read checks them for NaN/inf:
# one sync per 100 steps is free next to 100 steps, and a diverged run wastes at most 100 steps.
CHECK_EVERY = 100
# Threads for CPU training in this process; unset leaves torch's choice (OMP_NUM_THREADS, or what
# the local executor set for its worker: cores divided among workers). On a machine shared with
# other busy processes, set it to 1: OpenMP threads spin-wait on each other, and with a core taken
# away the same 40-step digits evaluation was measured at 0.7 s with 1 thread and 38 s with 2.
THREADS_ENV = "HIERNAS_THREADS"


@dataclass(frozen=True)
class Placement:
    """Where and in what precision a network trains."""

    device: torch.device
    precision: Literal["fp32", "bf16"]

    @property
    def channels_last(self) -> bool:
        return True  # measured faster on both CUDA and CPU (module docstring)

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def autocast(self) -> contextlib.AbstractContextManager[None]:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def describe(self) -> str:
        name = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else "cpu"
        return f"{name} ({self.precision})"


def resolve_placement(settings: TrainingSettings, offered: str | None = None) -> Placement:
    """``settings.device`` unless "auto"; then the device the caller offers (an executor's worker
    knows whether it was given a GPU), else a GPU when torch sees one."""
    name = settings.device
    if name == "auto":
        name = offered or ("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device: {name} was asked for, but torch sees no GPU; use device=auto or cpu")
    device = torch.device(name)
    precision = settings.precision
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" else "fp32"
    return Placement(device, precision)


def make_optimizer(model: nn.Module, settings: TrainingSettings) -> torch.optim.SGD:
    # Weight decay on every parameter, batch-norm ones included, as in the paper's setting.
    return torch.optim.SGD(
        model.parameters(),
        lr=settings.lr,
        momentum=settings.momentum,
        nesterov=settings.nesterov and settings.momentum > 0,
        weight_decay=settings.weight_decay,
    )


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    labels: torch.Tensor,
    normalise: Normalise,
    placement: Placement,
    label_smoothing: float,
) -> torch.Tensor:
    """One SGD update; returns the batch's loss as a detached device scalar (no host sync)."""
    with placement.autocast():
        logits = model(normalise(images))
        loss = nn.functional.cross_entropy(logits.float(), labels, label_smoothing=label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


CPU_EVAL_BATCH = 128


@torch.no_grad()
def accuracy(
    model: nn.Module, data: DeviceImages, normalise: Normalise, placement: Placement, batch_size: int
) -> float:
    """The fraction of ``data`` classified correctly, in eval mode (batch-norm running statistics)."""
    if placement.device.type == "cpu":
        # On CPU a large batch buys no speed, and its activations (64 MB and more at 1024 CIFAR
        # images) exceed glibc's mmap threshold, so every op maps fresh zeroed pages: measured on
        # one validation pass, batch 1024 cost 3.4 M page faults and 13 s of system time, batch
        # 128 0.17 M and 0.7 s (notes of the CPU-path investigation, issue 13).
        batch_size = min(batch_size, CPU_EVAL_BATCH)
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=data.x.device)
    with placement.autocast():
        for images, labels in eval_batches(data, batch_size):
            correct += (model(normalise(images)).argmax(dim=1) == labels).sum()
    model.train(was_training)
    return int(correct) / max(1, len(data))


def reset_peak_memory(placement: Placement) -> None:
    if placement.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(placement.device)


def peak_memory_mb(placement: Placement) -> float:
    """CUDA: the peak of allocated tensor memory since the last reset. CPU: the process's peak
    resident size, a high-water mark over its whole life (an upper bound for one evaluation)."""
    if placement.device.type == "cuda":
        return torch.cuda.max_memory_allocated(placement.device) / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def synchronize(placement: Placement) -> None:
    if placement.device.type == "cuda":
        torch.cuda.synchronize(placement.device)


@contextlib.contextmanager
def process_settings(placement: Placement) -> Iterator[None]:
    """Thread count and cuDNN autotuning for one training, restored afterwards so that a caller in
    the same process (tests, the inline executor) sees no lasting change."""
    threads = torch.get_num_threads()
    benchmark = torch.backends.cudnn.benchmark
    wanted = os.environ.get(THREADS_ENV)
    try:
        if wanted:
            try:
                torch.set_num_threads(max(1, int(wanted)))
            except ValueError:
                raise InputError(
                    f"{THREADS_ENV}: expected a whole number of threads, got {wanted!r}"
                ) from None
        if placement.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        else:
            fix_malloc_thresholds()  # lasting: each step's freed memory serves the next one
        yield
    finally:
        torch.set_num_threads(threads)
        torch.backends.cudnn.benchmark = benchmark
