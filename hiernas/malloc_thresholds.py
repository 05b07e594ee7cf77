"""Fixed glibc malloc thresholds for CPU training: memory freed by one step stays for the next.

glibc adjusts its mmap threshold to the largest block freed so far and trims the top of its heap
back to the kernel whenever more than twice that is free. A training step frees most of what it
allocated, so with the dynamic thresholds each step can hand its activations back to the kernel
and fault them in again, zero-filled, on the next one. Measured on one CIFAR evaluation (10 steps,
2,000 validation images, one thread; benchmarks/RESULTS.md, issue 13): 0.92 M minor faults and
4.5 s of system time with the dynamic thresholds, 0.28 M and 2.2 s with fixed ones, same peak RSS.
Setting either threshold with ``mallopt`` also turns the dynamic adjustment off (glibc's
``M_MMAP_THRESHOLD`` documentation). Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import sys

# mallopt parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# Blocks above 32 MB (glibc's largest dynamic threshold on 64-bit) are still mapped and unmapped
# one by one; up to 1 GB free at the top of the heap is kept for the next step.
MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 1024 * 1024 * 1024


def fix_malloc_thresholds(mmap_threshold: int = MMAP_THRESHOLD, trim_threshold: int = TRIM_THRESHOLD) -> bool:
    """Set fixed thresholds for this process; True when glibc accepted both. Lasting (there is no
    getter to restore the dynamic state) and idempotent."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018  (absent from musl and other C libraries)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(M_TRIM_THRESHOLD, trim_threshold))
