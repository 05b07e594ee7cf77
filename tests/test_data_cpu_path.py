"""The CPU path's data pieces: exact per-channel statistics without a float64 copy of the set, the
in-place normalisation, and the stratified validation subset for low budgets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hiernas.data.device import Normalise, channel_statistics
from hiernas.data.split import split_train_validation, validation_subset


@pytest.mark.parametrize("chunk", [1, 7, 1024])
def test_channel_statistics_equal_float64_numpy(chunk: int) -> None:
    images = np.random.default_rng(chunk).integers(0, 256, size=(50, 3, 5, 4), dtype=np.uint8)
    images[:, 2] = 9  # a constant channel
    mean, std = channel_statistics(images, chunk=chunk)
    pixels = images.transpose(1, 0, 2, 3).reshape(3, -1).astype(np.float64)
    np.testing.assert_allclose(mean, pixels.mean(axis=1), rtol=1e-15)
    np.testing.assert_allclose(std, pixels.std(axis=1), rtol=1e-12, atol=1e-12)
    assert std[2] == 0


@pytest.mark.parametrize("channels_last", [False, True])
def test_normalise_in_place_equals_the_formula(channels_last: bool) -> None:
    images = np.random.default_rng(1).integers(0, 256, size=(20, 3, 6, 6), dtype=np.uint8)
    normalise = Normalise(images, "cpu", channels_last)
    batch = torch.from_numpy(images[:8])
    expected = (batch.float() - normalise.mean) * normalise.inv_std
    out = normalise(batch)
    assert torch.equal(out, expected)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    assert out.is_contiguous(memory_format=layout) and out.dtype == torch.float32
    assert batch.dtype == torch.uint8  # the stored images are left as they were


def test_validation_subset_is_stratified_fixed_and_inside_the_split() -> None:
    labels = np.repeat(np.arange(10), 100)
    split = split_train_validation(labels, 400, seed=0)
    subset = validation_subset(split, labels, 100, seed=3)
    assert len(subset) == 100 and set(subset.tolist()) <= set(split.validation.tolist())
    assert np.array_equal(np.bincount(labels[subset], minlength=10), np.full(10, 10))
    assert np.array_equal(subset, validation_subset(split, labels, 100, seed=3))
    assert not np.array_equal(subset, validation_subset(split, labels, 100, seed=4))
    assert validation_subset(split, labels, 400, seed=3) is split.validation
