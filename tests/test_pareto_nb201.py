"""NB201's own network (the one its table was measured on): published sizes, and measured latency."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from engine_helpers import synthetic_nb201_table

from evolution.evaluation import EvalContext
from hiernas.config import NetworkConfig, load_config
from hiernas.evaluators.factory import prepare_evaluator
from hiernas.latency import LatencySettings, measure_latency
from hiernas.nb201 import arch_to_genotype
from hiernas.nb201_network import build_nb201_network, nb201_size

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
CONVS = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
# Dong & Yang's published CIFAR-10 sizes: the smallest and the largest network of the benchmark.
PUBLISHED = {NONE: 73_306, CONVS: 1_531_546}


@pytest.mark.parametrize("arch", list(PUBLISHED))
def test_parameters_are_the_published_ones(arch: str) -> None:
    params, flops = nb201_size(arch_to_genotype(arch), (3, 32, 32), 10)
    assert params == PUBLISHED[arch]
    # NB201 lists 220.11 MFLOPs (multiply-adds) for the largest; hiernas counts 2 FLOPs per one.
    if arch == CONVS:
        assert flops / 2 / 1e6 == pytest.approx(220.11, abs=0.01)


def test_dead_edges_are_computed_and_sized() -> None:
    # Node 1's 3×3 convolution feeds nothing (1→2 and 1→3 are none): NB201 still trains it.
    dead = arch_to_genotype("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|skip_connect~0|none~1|skip_connect~2|")
    assert nb201_size(dead, (3, 32, 32), 10)[0] > PUBLISHED[NONE]
    model = build_nb201_network(dead, 3, 100)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 100)


def test_latency_is_measured_with_its_context() -> None:
    genotype = arch_to_genotype(CONVS)
    settings = LatencySettings(threads=1, repeats=3, warmup=1)
    milliseconds, context = measure_latency(genotype, NetworkConfig(), (3, 32, 32), 10, settings, nb201=True)
    assert milliseconds > 0
    assert context["threads"] == 1 and context["batch"] == 1 and context["network"] == "nb201"
    assert context["torch"] == torch.__version__ and context["input_shape"] == [3, 32, 32]
    # Cached by network: the same call returns the same measurement.
    assert (
        measure_latency(genotype, NetworkConfig(), (3, 32, 32), 10, settings, nb201=True)[0] == milliseconds
    )


def test_a_table_run_records_nb201_sizes_and_latency(tmp_path: Path) -> None:
    table = synthetic_nb201_table(tmp_path / "t.csv")
    config = load_config(
        "configs/nb201-pareto.yaml",
        [
            f"evaluator.table={table}",
            "search.objectives=[{name: accuracy}, {name: latency_ms, direction: min}]",
            "search.latency.repeats=2",
        ],
    )
    result = prepare_evaluator(config).evaluator(arch_to_genotype(NONE), EvalContext(seed=0))
    assert result.ok and result.metrics["params"] == PUBLISHED[NONE]
    assert result.metrics["latency_ms"] > 0 and result.metrics["latency_context"]["repeats"] == 2


def test_a_table_run_exports_nb201s_network(tmp_path: Path) -> None:
    table = synthetic_nb201_table(tmp_path / "t.csv")
    run_dir = tmp_path / "run"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "hiernas", *args], capture_output=True, text=True)

    made = cli(
        "evolve",
        "configs/nb201-pareto.yaml",
        "--run-dir",
        str(run_dir),
        "--budget",
        "6",
        "--set",
        f"evaluator.table={table}",
    )
    assert made.returncode == 0, made.stderr
    exported = cli("export", str(run_dir), "--front", "--format", "torchscript", "-o", str(tmp_path / "out"))
    assert exported.returncode == 0, exported.stderr
    assert (
        "NAS-Bench-201 network (stem 16, 3 stages of 5 cells, residual reductions), 3x32x32"
        in exported.stderr
    )
    first = Path(exported.stdout.split()[0])
    match = re.search(r"params([0-9.]+(?:e[+-]\d+)?)", first.name)
    assert match, first.name
    params = float(match.group(1))
    model = torch.jit.load(str(first))
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 10)
    assert abs(sum(p.numel() for p in model.parameters()) - params) <= params * 1e-3  # name shows 4 digits
    refused = cli("export", str(run_dir), "--front", "--format", "py", "-o", str(tmp_path / "py"))
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
