"""The in-memory data set every loader returns: four arrays and what they mean.

Images are uint8 in (N, C, H, W) order for every data set, so one cache format and one device path
serve them all. The digits keep their native 0..16 grey levels rather than being stretched to 0..255:
training normalises by the training images' own mean and standard deviation, which makes the range
irrelevant and keeps the values exactly as scikit-learn ships them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Dataset:
    """A labelled image data set with its official (or, for digits, fixed held-out) test split."""

    name: str
    classes: tuple[str, ...]
    train_x: np.ndarray  # (N, C, H, W) uint8
    train_y: np.ndarray  # (N,) int64 in [0, len(classes))
    test_x: np.ndarray
    test_y: np.ndarray
    # Whether a horizontal mirror image keeps its label (true for photos, false for digits: a
    # mirrored 2 or 7 is not a digit). Decides the flip augmentation's default.
    flip: bool = True

    def __post_init__(self) -> None:
        for part in ("train", "test"):
            x, y = getattr(self, f"{part}_x"), getattr(self, f"{part}_y")
            if x.dtype != np.uint8 or x.ndim != 4:
                raise ValueError(f"{part}_x: expected (N, C, H, W) uint8, got {x.dtype} {x.shape}")
            if y.ndim != 1 or len(y) != len(x):
                raise ValueError(f"{part}_y: expected {len(x)} labels, got shape {y.shape}")
        if self.train_x.shape[1:] != self.test_x.shape[1:]:
            raise ValueError(f"train images {self.train_x.shape[1:]} and test images differ in shape")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(channels, height, width)."""
        c, h, w = self.train_x.shape[1:]
        return int(c), int(h), int(w)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def describe(self) -> dict[str, object]:
        """A JSON-ready summary for run records."""
        c, h, w = self.image_shape
        return {
            "name": self.name,
            "classes": len(self.classes),
            "image_shape": [c, h, w],
            "train": len(self.train_x),
            "test": len(self.test_x),
        }
