"""Batched augmentation on the training device: random crop with zero padding, horizontal flip.

Whole-batch tensor operations with an explicit ``torch.Generator``: one gather does every image's
crop, one ``where`` every flip, so the cost is a couple of kernels per batch whatever its size, and a
seeded generator gives the same augmented batches on every run. They act on the uint8 images before
normalisation, so the padding is black, as in the usual ``RandomCrop(32, padding=4)``.
"""

from __future__ import annotations

import torch


def crop_padding(size: int) -> int:
    """Padding for a random crop of a ``size``-pixel image: 4 pixels on 32 (the standard CIFAR
    setting), i.e. one eighth of the side, at least 1. On the 8×8 digits that is 1 pixel: 4 would
    shift up to half a glyph out of the frame."""
    return max(1, round(size / 8))


def random_crop(images: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Each (N, C, H, W) image shifted by up to ``padding`` pixels each way, the gap filled with 0."""
    if padding <= 0:
        return images
    n, _c, h, w = images.shape
    device = images.device
    padded = torch.nn.functional.pad(images, (padding, padding, padding, padding))
    shifts = torch.randint(0, 2 * padding + 1, (2, n), generator=generator, device=device)
    rows = shifts[0, :, None] + torch.arange(h, device=device)  # (N, H)
    cols = shifts[1, :, None] + torch.arange(w, device=device)  # (N, W)
    batch = torch.arange(n, device=device)[:, None, None]
    # Advanced indexing with the channel slice in the middle puts channels last: (N, H, W, C).
    cropped = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]
    return cropped.permute(0, 3, 1, 2).contiguous()


def random_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image mirrored left-right with probability 1/2."""
    flip = torch.rand(images.shape[0], generator=generator, device=images.device) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(3), images)


def augment(images: torch.Tensor, generator: torch.Generator, *, padding: int, flip: bool) -> torch.Tensor:
    """Crop then (optionally) flip, drawing from ``generator`` in a fixed order."""
    images = random_crop(images, padding, generator)
    return random_flip(images, generator) if flip else images
