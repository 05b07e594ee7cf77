"""Measured inference latency: the median of repeated batch-1 forward passes, cached per network.

Latency is measured, never predicted from FLOPs: on a CPU a 1×1 convolution and a pooling layer of
equal FLOPs differ several-fold, and memory traffic, not arithmetic, often decides. The median of
``repeats`` timed passes after ``warmup`` untimed ones resists the outliers a shared machine
produces. Weights do not change the time, so the network is built fresh in the search template,
eval mode, no gradients; the thread count is pinned (``threads``) because it decides CPU latency
more than anything else. ``backend="onnxruntime"`` exports the network to ONNX and times an
ONNX Runtime session instead, when that package is installed.

The context (device, threads, backend and library versions) is returned with the number: a
latency means nothing without it. Results are cached per process by canonical key and settings.
"""

from __future__ import annotations

import platform
import statistics
import time
import warnings
from dataclasses import dataclass
from typing import Any, Literal

from hiernas.config import NetworkConfig
from hiernas.errors import InputError
from motifs.canonical import canonical_key
from motifs.genotype import Genotype

Backend = Literal["torch", "onnxruntime"]


@dataclass(frozen=True, slots=True)
class LatencySettings:
    threads: int = 1
    repeats: int = 30
    warmup: int = 5
    backend: Backend = "torch"


_CACHE: dict[tuple[Any, ...], tuple[float, dict[str, Any]]] = {}


def measure_latency(
    genotype: Genotype,
    network: NetworkConfig,
    input_shape: tuple[int, int, int],
    classes: int,
    settings: LatencySettings = LatencySettings(),
    *,
    nb201: bool = False,
) -> tuple[float, dict[str, Any]]:
    """(median milliseconds of one batch-1 forward pass on the CPU, the measuring context), of the
    genotype's network in the template or (``nb201``) in NAS-Bench-201's own network."""
    # NB201's network computes dead edges too: there the whole cell, not the canonical key, decides.
    identity = genotype.cell.matrix if nb201 else canonical_key(genotype)
    key = (str(identity), nb201, network, tuple(input_shape), classes, settings)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    import torch

    from hiernas.network import build_network

    threads = torch.get_num_threads()
    torch.set_num_threads(settings.threads)
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            if nb201:
                from hiernas.nb201_network import build_nb201_network

                model = build_nb201_network(genotype, input_shape[0], classes).eval()
            else:
                model = build_network(genotype, network, input_shape[0], classes).eval()
            image = torch.zeros((1, *input_shape))
            if settings.backend == "onnxruntime":
                run, versions = _onnx_runner(model, image, settings.threads)
            else:
                run, versions = (lambda: model(image)), {}
            times = []
            for repeat in range(settings.warmup + settings.repeats):
                started = time.perf_counter()
                run()
                if repeat >= settings.warmup:
                    times.append((time.perf_counter() - started) * 1000)
    finally:
        torch.set_num_threads(threads)
    context = {
        "device": f"cpu ({platform.processor() or platform.machine()})",
        "threads": settings.threads,
        "batch": 1,
        "input_shape": list(input_shape),
        "repeats": settings.repeats,
        "backend": settings.backend,
        "network": "nb201" if nb201 else "template",
        "torch": torch.__version__,
        **versions,
    }
    _CACHE[key] = (statistics.median(times), context)
    return _CACHE[key]


def _onnx_runner(model: Any, image: Any, threads: int) -> tuple[Any, dict[str, str]]:
    try:
        import onnxruntime
    except ImportError:
        raise InputError("latency.backend: onnxruntime is not installed (pip install onnxruntime)") from None
    import io

    import torch

    buffer = io.BytesIO()
    # The TorchScript exporter: one fixed-shape trace, far quicker per candidate than the dynamo one
    # (hiernas export's). Its deprecation notice would be printed for every candidate a worker times.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, (image,), buffer, input_names=["x"], dynamo=False)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
    feed = {"x": image.numpy()}
    return (lambda: session.run(None, feed)), {"onnxruntime": onnxruntime.__version__}
