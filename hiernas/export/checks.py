"""Every export is checked where it is made: its outputs against the PyTorch module's.

A file that disagrees with the network it claims to be is worse than no file, so a failed check is
an internal failure (exit 1) and the caller removes the file. The inputs are random images from a
seeded ``torch.Generator`` (never the global RNG), in a batch of a size other than the one used to
trace or export, so that a graph which fixed the batch size fails here rather than in use.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from hiernas.export import standalone_check

# Max abs difference allowed between an export's outputs and the module's. Float32 kernels that
# fuse or reorder (ONNX Runtime folds batch norm into convolutions) differ by about 1e-6.
TOLERANCE = 1e-4
CHECK_SEED = 20180401
EXAMPLE_BATCH, CHECK_BATCH = 2, 3


class ExportCheckError(RuntimeError):
    """An exported file does not reproduce the network: an internal failure, never bad input."""


def random_images(shape: tuple[int, int, int], batch: int, seed: int = CHECK_SEED) -> Tensor:
    """[batch, *shape] standard normal images, the same for the same seed on every machine."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((batch, *shape), generator=generator)


def compare(expected: Tensor, actual: Tensor, what: str) -> float:
    """The max abs difference; raises ``ExportCheckError`` when shapes differ, anything is not
    finite, or the difference exceeds ``TOLERANCE``."""
    actual = torch.as_tensor(actual)
    if tuple(actual.shape) != tuple(expected.shape):
        raise ExportCheckError(
            f"{what}: outputs have shape {tuple(actual.shape)}, the PyTorch module's {tuple(expected.shape)}"
        )
    difference = (expected.detach().float() - actual.detach().float()).abs().max().item()
    if not math.isfinite(difference) or difference > TOLERANCE:
        raise ExportCheckError(
            f"{what}: outputs differ from the PyTorch module's by {difference:.3g} (max abs) on random "
            f"input, more than the tolerance {TOLERANCE:g}; the file was removed"
        )
    return difference


def write_checked(path: Path, write: Callable[[Path], None], check: Callable[[Path], float]) -> float:
    """``write`` to a temporary file beside ``path``, ``check`` it, then rename it into place;
    the temporary file is removed whatever fails, and ``path`` is only ever a checked file."""
    # The temporary name keeps the suffix: importers and loaders pick their reader by it.
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    os.close(handle)
    temporary = Path(name)
    try:
        write(temporary)
        difference = check(temporary)
        # mkstemp makes the file private; an exported network is not secret.
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(temporary, 0o666 & ~mask)
        os.replace(temporary, path)
        return difference
    finally:
        temporary.unlink(missing_ok=True)


def check_python_source(path: Path, model: nn.Module, images: Tensor, what: str) -> float:
    """Import the generated file in a fresh interpreter (``standalone_check``) with the model's
    weights, and compare its logits and parameter count with the model's.

    A subprocess rather than an import here: the file is proven to build with nothing of hiernas
    importable, and the exporting process never executes code it generated. ``-I`` keeps the
    environment and the current folder off the path; ``-B`` leaves no ``__pycache__`` beside it.
    """
    with tempfile.TemporaryDirectory(prefix="hiernas-export-") as folder:
        work = Path(folder)
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, work / "state.pt")
        torch.save(images, work / "images.pt")
        result = subprocess.run(
            [sys.executable, "-I", "-B", str(Path(standalone_check.__file__)), str(path), str(work)],
            capture_output=True,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")},
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
            raise ExportCheckError(f"{what}: the generated file does not run on its own: {last}")
        outputs = torch.load(work / "outputs.pt", weights_only=True)
    expected_parameters = sum(p.numel() for p in model.parameters())
    if outputs["parameters"] != expected_parameters:
        raise ExportCheckError(
            f"{what}: the generated network has {outputs['parameters']:,} parameters, "
            f"the hiernas network {expected_parameters:,}"
        )
    with torch.no_grad():
        expected = model(images)
    return compare(expected, outputs["logits"], what)
