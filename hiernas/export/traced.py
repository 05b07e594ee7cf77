"""torchscript and onnx: the network as a graph that runs without Python or hiernas.

Both record the network in eval mode (batch norm uses its running statistics, as it does for a
trained network at inference), from an example batch of ``EXAMPLE_BATCH`` images; the batch size
stays free (ONNX: a dynamic ``batch`` axis on ``images`` and ``logits``). Each file is written
under a temporary name, loaded back as a consumer would (``torch.jit.load``; an ONNX Runtime
session), run on a batch of another size and compared with the module (``checks.compare``); only
then is it renamed into place, so a failed export leaves no file behind.

TorchScript is made with ``torch.jit.trace``: the assembled modules walk precomputed programs in
Python, which tracing records as the plain sequence of layers it runs. Recent torch releases mark
TorchScript as deprecated; the format is what was asked for, so those warnings are silenced here.
ONNX uses torch's ``torch.export``-based exporter (the maintained one) at opset ``ONNX_OPSET``.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from hiernas.errors import InputError
from hiernas.export.checks import (
    CHECK_BATCH,
    EXAMPLE_BATCH,
    ExportCheckError,
    compare,
    random_images,
    write_checked,
)

# At least 17 (asked for by consumers of these files); 18 is what the torch.export-based exporter
# emits natively, so no version conversion step can change the graph.
ONNX_OPSET = 18
INPUT_NAME, OUTPUT_NAME = "images", "logits"


def export_torchscript(model: nn.Module, image_shape: tuple[int, int, int], path: Path) -> float:
    """Write ``model`` traced to ``path``; returns the checked max abs difference."""
    model.eval()
    example = random_images(image_shape, EXAMPLE_BATCH, seed=1)
    with _quiet(), torch.no_grad():
        traced = torch.jit.trace(model, example, check_trace=False)

    def check(written: Path) -> float:
        images = random_images(image_shape, CHECK_BATCH)
        with _quiet(), torch.no_grad():
            loaded = torch.jit.load(str(written), map_location="cpu")
            return compare(model(images), loaded(images), f"{path}: torchscript")

    with _quiet():
        return write_checked(path, lambda temporary: torch.jit.save(traced, str(temporary)), check)


def export_onnx(model: nn.Module, image_shape: tuple[int, int, int], path: Path) -> float:
    """Write ``model`` to ``path`` as ONNX; returns the checked max abs difference."""
    try:
        import onnx
        import onnxruntime
    except ImportError:
        raise InputError(
            "onnx export needs the optional 'onnx' dependencies: pip install 'hiernas[onnx]'"
        ) from None
    model.eval()
    example = random_images(image_shape, EXAMPLE_BATCH, seed=1)

    def write(temporary: Path) -> None:
        with _quiet(), torch.no_grad():
            torch.onnx.export(
                model,
                (example,),
                str(temporary),
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                opset_version=ONNX_OPSET,
                dynamo=True,
                dynamic_shapes=({0: torch.export.Dim("batch")},),
                # One self-contained file: weights inside, not beside it.
                external_data=False,
                verbose=False,
            )

    def check(written: Path) -> float:
        graph = onnx.load(str(written))
        onnx.checker.check_model(graph)
        opset = max(entry.version for entry in graph.opset_import if entry.domain in ("", "ai.onnx"))
        if opset < 17:
            raise ExportCheckError(f"{path}: the exporter wrote opset {opset}, below the 17 asked for")
        session = onnxruntime.InferenceSession(str(written), providers=["CPUExecutionProvider"])
        images = random_images(image_shape, CHECK_BATCH)
        (logits,) = session.run([OUTPUT_NAME], {INPUT_NAME: images.numpy()})
        with torch.no_grad():
            return compare(model(images), torch.from_numpy(logits), f"{path}: onnx")

    return write_checked(path, write, check)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence what the exporters say about themselves (deprecation of TorchScript, optional
    torchvision operators, progress lines): none of it concerns the user's network."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            yield
    finally:
        logger.setLevel(level)
