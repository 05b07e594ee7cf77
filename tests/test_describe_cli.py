"""``hiernas describe`` through the real CLI: key, live edges, parameters and FLOPs."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from hiernas.cli import main
from hiernas.config import NetworkConfig
from hiernas.network import build_network
from hiernas.network_size import count_parameters, flops_per_image
from motifs import PRESETS, Genotype, sample
from motifs.canonical import canonical_key
from motifs.files import save_genotype

ROOT = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def genotype() -> Genotype:
    return sample(PRESETS["hierarchical"], random.Random(11), 300)


@pytest.fixture
def genotype_file(tmp_path: Path, genotype: Genotype) -> Path:
    path = tmp_path / "g.json"
    save_genotype(genotype, path)
    return path


def describe_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["describe", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_matches_the_search_network(
    capsys: pytest.CaptureFixture[str], genotype: Genotype, genotype_file: Path
) -> None:
    summary = describe_json(capsys, str(genotype_file))
    model = build_network(genotype, NetworkConfig(), 3, 10)
    assert summary["key"] == canonical_key(genotype)
    assert summary["params"] == count_parameters(model)
    assert summary["flops"] == flops_per_image(model, (3, 32, 32))
    assert summary["input_shape"] == [3, 32, 32] and summary["classes"] == 10
    assert summary["template"] == {"channels": 16, "cells_per_stage": 1, "stages": 3, "merge": "concat"}


def test_live_edges_are_listed_per_level_for_used_motifs(
    capsys: pytest.CaptureFixture[str], genotype: Genotype, genotype_file: Path
) -> None:
    levels = describe_json(capsys, str(genotype_file))["live_edges"]
    assert [level["level"] for level in levels] == [2, 3]
    (cell,) = levels[1]["motifs"]
    cell_edges = genotype.cell.live_edges()
    assert [(e["src"], e["dst"], e["op"]) for e in cell["edges"]] == [
        (e.src, e.dst, f"m{e.op}") for e in cell_edges
    ]
    # Exactly the level-2 motifs the cell names, each with its live edges by primitive name.
    assert [m["motif"] for m in levels[0]["motifs"]] == sorted({e.op for e in cell_edges})
    for motif in levels[0]["motifs"]:
        live = genotype.levels[0][motif["motif"] - 1].live_edges()
        assert [e["op"] for e in motif["edges"]] == [genotype.primitives[e.op - 1] for e in live]


def test_config_and_overrides_choose_network_and_input(
    capsys: pytest.CaptureFixture[str], genotype: Genotype, genotype_file: Path, tmp_path: Path
) -> None:
    config = tmp_path / "digits.yaml"
    config.write_text("network: {channels: 8, stages: 2}\ndata: {dataset: digits}\n")
    summary = describe_json(capsys, str(genotype_file), "--config", str(config), "--set", "network.merge=sum")
    model = build_network(genotype, NetworkConfig(channels=8, stages=2, merge="sum"), 1, 10)
    assert summary["input_shape"] == [1, 8, 8]
    assert summary["params"] == count_parameters(model)
    assert summary["flops"] == flops_per_image(model, (1, 8, 8))


def test_folder_data_assumes_ten_classes_and_says_so(
    capsys: pytest.CaptureFixture[str], genotype_file: Path
) -> None:
    args = ["--set", "data.dataset=folder", "--set", "data.path=images"]
    assert describe_json(capsys, str(genotype_file), *args)["classes_assumed"] is True
    assert main(["describe", str(genotype_file), *args]) == 0
    assert "10 classes (assumed)" in capsys.readouterr().out


def test_human_output_is_compact(
    capsys: pytest.CaptureFixture[str], genotype: Genotype, genotype_file: Path
) -> None:
    assert main(["describe", str(genotype_file)]) == 0
    out = capsys.readouterr().out
    assert canonical_key(genotype) in out
    assert f"{count_parameters(build_network(genotype, NetworkConfig(), 3, 10)):,}" in out
    assert "level 3 cell:" in out
    assert all(len(line) <= 100 for line in out.splitlines())


def test_broken_genotype_file_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.json"
    data = sample(PRESETS["flat"], random.Random(0), 5).to_dict()
    data["levels"][0]["motifs"][0][3][1] = 2  # below the diagonal
    broken.write_text(json.dumps(data))
    assert main(["describe", str(broken)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hiernas: error:") and "broken.json" in lines[0]


def test_subprocess_json(genotype: Genotype, genotype_file: Path) -> None:
    # One real process: the module entry point, the output stream and the exit code end to end.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "hiernas", "describe", str(genotype_file), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["key"] == canonical_key(genotype)
    assert summary["params"] == count_parameters(build_network(genotype, NetworkConfig(), 3, 10))
    assert summary["flops"] > 0
