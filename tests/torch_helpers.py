"""Torch settings shared by the tests that build and run networks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def seeded_weights(seed: int = 0) -> Iterator[None]:
    """Module initialisers draw from the global torch RNG: fork it so nothing outside is touched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


@contextmanager
def one_thread() -> Iterator[None]:
    """Small networks and batches gain nothing from threads, and on a loaded machine OpenMP's
    spinning threads make them many times slower; the previous count is restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
