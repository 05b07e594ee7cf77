"""Deterministic random streams derived from the run seed.

Every random decision of a search draws from a stream named by the run seed and a path such as
("ask", 17): the 17th proposal is the same in an uninterrupted run and in one that was killed and
resumed, with no generator state to save. String seeding of ``random.Random`` goes through SHA-512,
so streams are stable across processes and Python versions (unlike ``hash``).
"""

from __future__ import annotations

import hashlib
import random

import numpy as np


def derive_seed(seed: int, *path: object) -> int:
    """A 63-bit seed for the stream (seed, *path)."""
    text = "/".join(str(part) for part in (seed, *path))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def python_rng(seed: int, *path: object) -> random.Random:
    return random.Random(derive_seed(seed, *path))


def numpy_rng(seed: int, *path: object) -> np.random.Generator:
    return np.random.default_rng(derive_seed(seed, *path))
