"""Fixed glibc malloc thresholds: memory freed at the top of the heap is kept for the next step
instead of being returned to the kernel and faulted in again (hiernas.malloc_thresholds)."""

from __future__ import annotations

import ctypes
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Each "step" allocates and touches three 20 MB blocks on the heap and frees them: with glibc's
# dynamic thresholds (raised to 20 MB by the first block freed) the 60 MB free at the top exceeds
# the trim threshold and goes back to the kernel every time.
STEPS = """
import ctypes, resource, sys
from hiernas.malloc_thresholds import fix_malloc_thresholds
fixed = fix_malloc_thresholds() if sys.argv[1] == "fixed" else None
if sys.argv[1] == "training":
    import torch
    from hiernas.training import Placement, process_settings
    with process_settings(Placement(torch.device("cpu"), "fp32")):
        pass
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
MB = 1 << 20
first = libc.malloc(20 * MB)
ctypes.memset(first, 1, 20 * MB)
libc.free(first)
def step():
    blocks = [libc.malloc(20 * MB) for _ in range(3)]
    for block in blocks:
        ctypes.memset(block, 1, 20 * MB)
    for block in reversed(blocks):
        libc.free(block)
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print(fixed, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _glibc() -> bool:
    return platform.system() == "Linux" and hasattr(ctypes.CDLL(None), "gnu_get_libc_version")


def _faults(mode: str) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(STEPS), mode],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not _glibc(), reason="mallopt thresholds are glibc's")
def test_fixed_thresholds_keep_freed_memory_for_the_next_step() -> None:
    accepted, fixed = _faults("fixed")
    _, dynamic = _faults("dynamic")
    assert accepted == "True"
    # Ten steps of 60 MB: with the dynamic thresholds most of it is faulted in again every step
    # (15,360 pages per step); with fixed ones the heap keeps it.
    assert dynamic > 10 * 5000
    assert fixed < 1000


@pytest.mark.skipif(not _glibc(), reason="mallopt thresholds are glibc's")
def test_cpu_training_leaves_the_thresholds_fixed() -> None:
    _, faults = _faults("training")
    assert faults < 1000
