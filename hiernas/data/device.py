"""Training data kept on the training device: the whole uint8 set is copied there once, batches are
index gathers, augmentation and normalisation run there too.

For CIFAR-10 the 50,000 training images are 150 MB as uint8, nothing beside a GPU's memory, and
keeping them there removes the host-to-device copy and the DataLoader workers from every step; small
search networks are otherwise starved by input handling (the airbench observation). Shuffling is per
epoch, a permutation drawn from the caller's generator; the last incomplete batch of an epoch is
dropped so every step sees the same batch shape (which compiled code and batch norm both prefer).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from hiernas.data.augment import augment, crop_padding
from hiernas.errors import InputError


@dataclass(frozen=True, eq=False)
class DeviceImages:
    """uint8 images (N, C, H, W) and int64 labels on one device."""

    x: torch.Tensor
    y: torch.Tensor

    @classmethod
    def from_arrays(cls, x: np.ndarray, y: np.ndarray, device: torch.device | str) -> DeviceImages:
        return cls(torch.from_numpy(np.ascontiguousarray(x)).to(device), torch.from_numpy(y).to(device))

    def __len__(self) -> int:
        return int(self.x.shape[0])


class Normalise:
    """uint8 → float32, minus the per-channel mean, over the per-channel standard deviation of the
    images it was fitted on (the training images: the held-out ones must not leak into it)."""

    def __init__(self, images: np.ndarray, device: torch.device | str, channels_last: bool = False) -> None:
        mean, std = channel_statistics(images)
        std[std == 0] = 1.0  # a constant channel (all-black border pixels...) stays finite
        self.mean = torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        self.inv_std = torch.tensor(1 / std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        # One float tensor, already in the network's layout, normalised in place: the same values as
        # ``(images.float() - mean) * inv_std`` without two more batch-sized temporaries per call.
        out = images.to(dtype=torch.float32, memory_format=self.memory_format)
        return out.sub_(self.mean).mul_(self.inv_std)

    def statistics(self) -> dict[str, list[float]]:
        return {
            "mean": self.mean.flatten().tolist(),
            "std": (1 / self.inv_std).flatten().tolist(),
        }


def channel_statistics(images: np.ndarray, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of (N, C, H, W) uint8 images, from exact integer
    sums over chunks of ``chunk`` images. A float64 copy of the whole set (1 GB for CIFAR-10's 40,000
    training images, and as much again for ``std``'s temporary) was most of a CPU worker's peak
    memory and took seconds of page faults; this holds one chunk as int64 (25 MB) at a time."""
    channels = images.shape[1]
    total = np.zeros(channels, dtype=np.int64)
    squares = np.zeros(channels, dtype=np.int64)
    for start in range(0, len(images), chunk):
        block = images[start : start + chunk].astype(np.int64)
        total += block.sum(axis=(0, 2, 3))
        squares += np.einsum("nchw,nchw->c", block, block)
    count = images.shape[0] * images.shape[2] * images.shape[3]
    # Exact in Python integers: n·Σx² - (Σx)² is the variance times n², with no cancellation.
    mean = np.array([int(t) / count for t in total])
    variance = np.array(
        [(count * int(q) - int(t) ** 2) / count**2 for t, q in zip(total, squares, strict=True)]
    )
    return mean, np.sqrt(variance)


class TrainBatches:
    """Shuffled, augmented uint8 batches from a ``DeviceImages``, epoch after epoch."""

    def __init__(
        self,
        data: DeviceImages,
        batch_size: int,
        generator: torch.Generator,
        *,
        augment: bool,
        flip: bool,
    ) -> None:
        if batch_size > len(data):
            raise InputError(
                f"batch_size: {batch_size} is more than the {len(data)} training images; "
                f"use at most {len(data)}"
            )
        self.data = data
        self.batch_size = batch_size
        self.generator = generator
        self.padding = crop_padding(int(data.x.shape[-1])) if augment else 0
        self.flip = augment and flip

    @property
    def steps_per_epoch(self) -> int:
        return len(self.data) // self.batch_size

    def order(self) -> torch.Tensor:
        """A new epoch's permutation of the images, drawn from the generator."""
        return torch.randperm(len(self.data), generator=self.generator, device=self.data.x.device)

    def batch(self, order: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch ``step`` of the epoch ``order`` describes, augmented with the generator's next draws.
        (The order, the step and the generator's state are all a resumed training needs.)"""
        index = order[step * self.batch_size : (step + 1) * self.batch_size]
        images = self.data.x[index]
        if self.padding or self.flip:
            images = augment(images, self.generator, padding=self.padding, flip=self.flip)
        return images, self.data.y[index]

    def epoch(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One pass: ``steps_per_epoch`` batches of (uint8 images, labels)."""
        order = self.order()
        for step in range(self.steps_per_epoch):
            yield self.batch(order, step)

    def forever(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while True:
            yield from self.epoch()


def eval_batches(data: DeviceImages, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Every image once, in order, unaugmented."""
    for start in range(0, len(data), batch_size):
        yield data.x[start : start + batch_size], data.y[start : start + batch_size]
