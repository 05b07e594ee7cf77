"""Measured latency with ONNX Runtime (``search.latency.backend: onnxruntime``, issue 12): the same
batch-1 median as eager torch, of the network exported to ONNX, with the context it was measured in."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
import torch
from engine_helpers import synthetic_nb201_table

from evolution.evaluation import EvalContext
from hiernas.config import NetworkConfig, load_config
from hiernas.errors import InputError
from hiernas.evaluators.factory import prepare_evaluator
from hiernas.latency import LatencySettings, measure_latency
from hiernas.nb201 import arch_to_genotype
from motifs import PRESETS, Genotype, sample

onnxruntime = pytest.importorskip(
    "onnxruntime", reason="ONNX Runtime is not installed (pip install 'hiernas[onnx]')"
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = NetworkConfig(channels=4, cells_per_stage=1, stages=2)
SHAPE = (1, 8, 8)


def _genotype(seed: int) -> Genotype:
    return sample(PRESETS["hierarchical"], random.Random(seed), 30)


def test_eager_and_onnx_medians_are_positive_and_their_context_recorded() -> None:
    genotype = _genotype(0)
    eager, eager_context = measure_latency(
        genotype, SMALL, SHAPE, 10, LatencySettings(threads=1, repeats=3, warmup=1)
    )
    threads_before = torch.get_num_threads()
    onnx, onnx_context = measure_latency(
        genotype, SMALL, SHAPE, 10, LatencySettings(threads=2, repeats=3, warmup=1, backend="onnxruntime")
    )
    assert eager > 0 and onnx > 0
    assert torch.get_num_threads() == threads_before  # the pinned thread count is given back
    assert onnx_context["backend"] == "onnxruntime" and eager_context["backend"] == "torch"
    assert onnx_context["threads"] == 2 and eager_context["threads"] == 1
    for context in (onnx_context, eager_context):
        assert context["device"].startswith("cpu (") and context["batch"] == 1
        assert context["input_shape"] == list(SHAPE) and context["repeats"] == 3
        assert context["torch"] == torch.__version__ and context["network"] == "template"
    assert onnx_context["onnxruntime"] == onnxruntime.__version__
    assert "onnxruntime" not in eager_context


def test_the_onnx_measurement_is_cached_apart_from_the_eager_one() -> None:
    genotype = _genotype(1)
    settings = LatencySettings(threads=1, repeats=2, warmup=0, backend="onnxruntime")
    first = measure_latency(genotype, SMALL, SHAPE, 10, settings)
    assert measure_latency(genotype, SMALL, SHAPE, 10, settings) == first
    eager = measure_latency(genotype, SMALL, SHAPE, 10, LatencySettings(threads=1, repeats=2, warmup=0))
    assert eager[1]["backend"] == "torch"


def test_a_run_configured_for_onnxruntime_records_its_latency(tmp_path: Path) -> None:
    table = synthetic_nb201_table(tmp_path / "t.csv")
    config = load_config(
        "configs/nb201-pareto.yaml",
        [
            f"evaluator.table={table}",
            "search.objectives=[{name: accuracy}, {name: latency_ms, direction: min}]",
            "search.latency={threads: 1, repeats: 2, warmup: 1, backend: onnxruntime}",
        ],
    )
    cell = arch_to_genotype("|nor_conv_1x1~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|")
    result = prepare_evaluator(config).evaluator(cell, EvalContext(seed=0))
    assert result.ok and result.metrics["latency_ms"] > 0
    context = result.metrics["latency_context"]
    assert context["backend"] == "onnxruntime" and context["network"] == "nb201"
    assert context["onnxruntime"] == onnxruntime.__version__ and context["input_shape"] == [3, 32, 32]


def test_without_onnxruntime_the_backend_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # an import of it now fails
    settings = LatencySettings(threads=1, repeats=1, warmup=0, backend="onnxruntime")
    with pytest.raises(InputError, match="onnxruntime is not installed"):
        measure_latency(_genotype(2), SMALL, SHAPE, 10, settings)
