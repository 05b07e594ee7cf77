"""``hiernas describe`` of an NB201 cell through the real CLI: sized in NAS-Bench-201's own network
(Dong & Yang 2020), the network its table was measured on, not in the hierarchical search template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from engine_helpers import synthetic_nb201_table

from hiernas.cli import main
from hiernas.config import NetworkConfig
from hiernas.nb201 import arch_to_genotype
from hiernas.nb201_network import nb201_size
from hiernas.network import build_network
from hiernas.network_size import count_parameters
from motifs.files import load_genotype, save_genotype

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
CONVS = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
# Dong & Yang's published CIFAR-10 sizes: the smallest and the largest network of the benchmark.
PUBLISHED = {NONE: 73_306, CONVS: 1_531_546}


def _describe(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["describe", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _cell(tmp_path: Path, arch: str) -> Path:
    path = tmp_path / "cell.json"
    save_genotype(arch_to_genotype(arch), path)
    return path


@pytest.mark.parametrize("arch", list(PUBLISHED))
def test_an_nb201_cell_is_sized_in_nb201s_network(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, arch: str
) -> None:
    summary = _describe(capsys, str(_cell(tmp_path, arch)))
    assert summary["network"] == "nb201" and summary["template"] is None
    assert summary["params"] == PUBLISHED[arch]
    assert summary["input_shape"] == [3, 32, 32] and summary["classes"] == 10
    assert summary["nb201"]["arch"] == arch
    assert summary["nb201"]["stage_channels"] == [16, 32, 64] and summary["nb201"]["cells_per_stage"] == 5
    if arch == CONVS:  # NB201 lists 220.11 M multiply-adds for it; hiernas counts 2 FLOPs per one
        assert summary["flops"] / 2 / 1e6 == pytest.approx(220.11, abs=0.01)


def test_the_plain_output_names_nb201s_network(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["describe", str(_cell(tmp_path, CONVS))]) == 0
    out = capsys.readouterr().out
    assert "NAS-Bench-201 network (stem 16, 3 stages of 5 cells, residual reductions), 3x32x32" in out
    assert f"arch      {CONVS}" in out and "params    1,531,546" in out


def test_a_template_config_sizes_the_cell_in_its_template(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "template.yaml"
    config.write_text("space: {preset: nb201}\ndata: {dataset: cifar10}\n")
    summary = _describe(capsys, str(_cell(tmp_path, CONVS)), "--config", str(config))
    assert summary["network"] == "template" and summary["template"]["channels"] == 16
    model = build_network(arch_to_genotype(CONVS), NetworkConfig(), 3, 10)
    assert summary["params"] == count_parameters(model) != PUBLISHED[CONVS]


def test_a_table_run_and_its_config_describe_nb201s_network(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    table = synthetic_nb201_table(tmp_path / "t.csv")
    run = tmp_path / "run"
    made = ["evolve", "configs/nb201-pareto.yaml", "--run-dir", str(run), "--budget", "6"]
    assert main([*made, "--set", f"evaluator.table={table}"]) == 0
    capsys.readouterr()
    best = load_genotype(run / "best.json")
    expected = nb201_size(best, (3, 32, 32), 10)[0]
    # The run directory: its best.json in its own config.yaml (a table run).
    summary = _describe(capsys, str(run))
    assert summary["network"] == "nb201" and summary["params"] == expected
    assert summary["dataset"] == "cifar10"
    # A table config given explicitly sizes any NB201 cell in NB201's network, too.
    table_config = ("--config", "nb201", "--set", f"evaluator.table={table}")
    assert _describe(capsys, str(_cell(tmp_path, NONE)), *table_config)["params"] == PUBLISHED[NONE]


def test_a_run_without_a_winner_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["describe", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{tmp_path / 'best.json'}: no such file" in err


def test_a_bare_cell_is_exported_as_nb201s_network(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``hiernas export`` builds the network ``describe`` sizes: NB201's own for a bare cell, the
    search template when one is asked for; ``--format py`` (hiernas's templates only) says so."""
    import torch

    cell, out = _cell(tmp_path, CONVS), tmp_path / "out"
    assert main(["export", str(cell), "--format", "torchscript", "-o", str(out)]) == 0
    module = torch.jit.load(str(out / "cell.torchscript.pt"))
    assert sum(p.numel() for p in module.parameters()) == PUBLISHED[CONVS]
    assert "NAS-Bench-201 network" in capsys.readouterr().err

    searched = tmp_path / "searched"
    args = ["export", str(cell), "--format", "torchscript", "--template", "search", "-o", str(searched)]
    assert main(args) == 0
    capsys.readouterr()
    module = torch.jit.load(str(searched / "cell.torchscript.pt"))
    assert (
        sum(p.numel() for p in module.parameters())
        == _describe(capsys, str(cell), "--config", "paper", "--set", "data.dataset=cifar10")["params"]
    )

    assert main(["export", str(cell), "--format", "py", "-o", str(tmp_path / "py")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "--template search" in lines[0]
