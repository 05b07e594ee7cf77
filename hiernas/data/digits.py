"""The scikit-learn digits: 1,797 8×8 grey images of 0–9, shipped inside scikit-learn.

The embedded default: no download, loads in milliseconds, and small enough that a search runs on a
laptop CPU. It has no official test split, so a fixed 20% (359 images, stratified, seed 0) is held
out as the test set. That seed is a constant, not the run seed: the test set must be the same for
every run so that final accuracies are comparable.
"""

from __future__ import annotations

import numpy as np

from hiernas.data.dataset import Dataset
from hiernas.data.split import stratified_split

TEST_FRACTION = 0.2
TEST_SEED = 0


def load_digits() -> Dataset:
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    # Values are the integers 0..16 stored as float64; uint8 keeps them exactly.
    images = bunch.images.astype(np.uint8)[:, None, :, :]
    labels = bunch.target.astype(np.int64)
    train, test = stratified_split(labels, round(TEST_FRACTION * len(labels)), TEST_SEED)
    return Dataset(
        name="digits",
        classes=tuple(str(d) for d in range(10)),
        train_x=np.ascontiguousarray(images[train]),
        train_y=labels[train],
        test_x=np.ascontiguousarray(images[test]),
        test_y=labels[test],
        flip=False,
    )
