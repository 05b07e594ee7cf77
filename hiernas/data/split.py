"""Seeded, stratified splits: the validation set the fitness is measured on, and the digits' test set.

The paper holds 10,000 of CIFAR-10's 50,000 training images out as the validation set (section 4.1).
Here each class gives up its share of the held-out count (largest remainders settle the rounding),
so a small validation set still sees every class in proportion and fitness is not skewed by an
unlucky draw. The split depends only on the labels, the count and the seed, so every genotype of a
search (and every search with the same data settings) is scored on the same images.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from hiernas.errors import InputError


@dataclass(frozen=True, eq=False)
class Split:
    """Indices into the training set: what is trained on and what is held out."""

    train: np.ndarray  # sorted int64
    validation: np.ndarray  # sorted int64
    seed: int

    def record(self) -> dict[str, Any]:
        """What a run directory stores to pin the split down: sizes, seed, and a checksum of the
        index lists (the lists themselves are recomputable from the seed)."""
        digest = hashlib.sha256()
        digest.update(self.train.astype("<i8").tobytes())
        digest.update(b"|")
        digest.update(self.validation.astype("<i8").tobytes())
        return {
            "seed": self.seed,
            "train": len(self.train),
            "validation": len(self.validation),
            "sha256": digest.hexdigest(),
        }


def held_out_count(value: float, total: int, what: str = "data.validation") -> int:
    """A count (a whole number ≥ 1) or a fraction (below 1) of ``total``, checked to leave both
    sides non-empty."""
    count = round(value * total) if value < 1 else int(value)
    if not 1 <= count < total:
        raise InputError(
            f"{what}: {value:g} leaves {count} of {total} images held out; give a count between 1 and "
            f"{total - 1} or a fraction below 1 (for example --set {what}=0.2)"
        )
    return count


def stratified_split(labels: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held_out) sorted index arrays; ``count`` indices held out, in proportion per class."""
    labels = np.asarray(labels)
    classes, sizes = np.unique(labels, return_counts=True)
    quota = count * sizes / len(labels)
    take = np.floor(quota).astype(np.int64)
    # Largest remainders first; the stable sort breaks ties by class order, so it is deterministic.
    order = np.argsort(-(quota - take), kind="stable")
    take[order[: count - int(take.sum())]] += 1
    rng = np.random.default_rng(seed)
    held = [rng.permutation(np.flatnonzero(labels == cls))[:n] for cls, n in zip(classes, take, strict=True)]
    held_out = np.sort(np.concatenate(held)).astype(np.int64)
    kept = np.setdiff1d(np.arange(len(labels), dtype=np.int64), held_out, assume_unique=True)
    return kept, held_out


def split_train_validation(labels: np.ndarray, validation: float, seed: int) -> Split:
    """The training/validation split of a training set (``DataConfig.validation``, ``split_seed``)."""
    count = held_out_count(validation, len(labels))
    train, held_out = stratified_split(labels, count, seed)
    return Split(train, held_out, seed)


def validation_subset(split: Split, labels: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` of ``split``'s validation indices, stratified like the split itself and fixed by
    ``seed``: a cheap, still class-balanced fitness for a low training budget, whose ranking the
    full validation set can then confirm (a whole 10,000-image pass costs more than 30 training
    steps of batch 32 on a CPU). All of them when ``count`` is not smaller."""
    if count >= len(split.validation):
        return split.validation
    if count < 1:
        raise InputError(f"validation subset: {count} images; give at least 1")
    _, chosen = stratified_split(np.asarray(labels)[split.validation], count, seed)
    return split.validation[chosen]
