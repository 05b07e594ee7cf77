"""Genotypes that expand beyond the limits are refused before anything is built or drawn
(``motifs.size``; issue 15, "A tiny genotype can exhaust memory").

The children run under an address-space limit, so that code without the check fails with a
``MemoryError`` traceback instead of exhausting the machine: the check is what makes these fast.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from hiernas.drawing import flatten
from motifs import PRESETS, Genotype, Motif, sample
from motifs.files import save_genotype
from motifs.size import GenotypeTooLarge, Limits, check_size, densest, expansion

FORMAT = "hiernas-genotype/1"
MEMORY_LIMIT = 6 * 2**30  # torch alone reserves a few GiB of address space


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _hiernas(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hiernas", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        preexec_fn=_limit_memory,
        env={**os.environ, **(env or {})},
    )


def _dense(nodes: int, op: int) -> list[list[int]]:
    return [[op if j > i else 0 for j in range(nodes)] for i in range(nodes)]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sizes")
    # Twelve levels of one fully connected 4-node motif: 6^12 ≈ 2.2 billion primitives, in 936 bytes.
    deep = {"format": FORMAT, "primitives": ["identity"], "levels": [{"motifs": [_dense(4, 1)]}] * 12}
    # One 150-node motif with every edge an identity: concatenation doubles the width at every node.
    dense = {
        "format": FORMAT,
        "primitives": ["identity", "conv1x1"],
        "levels": [{"motifs": [_dense(150, 1)]}],
    }
    # The same with every edge a conv1x1: no doubling, but 11,175 convolutions reading ever wider
    # nodes, billions of weights at the paper's widths.
    convs = {**dense, "levels": [{"motifs": [_dense(150, 2)]}]}
    paths = {name: folder / f"{name}.json" for name in ("deep", "dense", "convs")}
    for name, data in (("deep", deep), ("dense", dense), ("convs", convs)):
        paths[name].write_text(json.dumps(data), encoding="utf-8")
    assert paths["deep"].stat().st_size < 1024
    return paths


COMMANDS = {
    "describe": lambda path, out: ["describe", str(path)],
    "show": lambda path, out: ["show", str(path), "-o", str(out / "drawing.svg")],
    "export": lambda path, out: ["export", str(path), "--format", "py", "-o", str(out / "export")],
    "train": lambda path, out: ["train", str(path), "digits", "-o", str(out / "trained")],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(
    ("name", "limit"),
    [
        ("deep", "HIERNAS_MAX_PRIMITIVE_EDGES"),
        ("dense", "HIERNAS_MAX_WIDTH_FACTOR"),
        ("convs", "HIERNAS_MAX_WIDTH_READ"),
    ],
)
def test_too_large_is_one_line_and_exit_2(
    files: dict[str, Path], tmp_path: Path, command: str, name: str, limit: str
) -> None:
    result = _hiernas(*COMMANDS[command](files[name], tmp_path))
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "genotype too large" in lines[0] and limit in lines[0] and str(files[name]) in lines[0]
    assert not any(tmp_path.iterdir())


def test_limits_are_configurable(files: dict[str, Path], tmp_path: Path) -> None:
    """A paper genotype (a few dozen primitive edges) is refused under a limit of 5, and a limit that
    is not a positive integer is named."""
    path = tmp_path / "paper.json"
    save_genotype(sample(PRESETS["hierarchical"], random.Random(0), 1000), path)
    result = _hiernas("describe", str(path), env={"HIERNAS_MAX_PRIMITIVE_EDGES": "5"})
    assert result.returncode == 2
    assert "more than the limit 5 (set HIERNAS_MAX_PRIMITIVE_EDGES" in result.stderr
    result = _hiernas("describe", str(files["deep"]), env={"HIERNAS_MAX_PRIMITIVE_EDGES": "ten"})
    assert result.returncode == 2
    assert result.stderr.strip().endswith(
        "HIERNAS_MAX_PRIMITIVE_EDGES: expected a positive integer, got 'ten'"
    )


def test_a_drawing_too_large_to_render_is_refused(tmp_path: Path) -> None:
    """45 nodes, all conv1x1: small enough to build, 1,980 edges to draw (limit 1,000)."""
    path = tmp_path / "wide.json"
    path.write_text(
        json.dumps(
            {"format": FORMAT, "primitives": ["identity", "conv1x1"], "levels": [{"motifs": [_dense(45, 2)]}]}
        ),
        encoding="utf-8",
    )
    result = _hiernas("show", str(path), "-o", str(tmp_path / "wide.svg"))
    assert result.returncode == 2
    assert "HIERNAS_MAX_DRAWN_EDGES" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "wide.svg").exists()


def test_a_space_too_large_is_refused_before_evolve_starts(tmp_path: Path) -> None:
    config = tmp_path / "deep.yaml"
    levels = "".join("\n    - {motifs: 1, nodes: 4}" for _ in range(10))
    config.write_text(f"space:\n  primitives: [identity, conv1x1]\n  levels:{levels}\n", encoding="utf-8")
    run_dir = tmp_path / "run"
    result = _hiernas("evolve", str(config), "--run-dir", str(run_dir), "--budget", "2")
    assert result.returncode == 2, result.stderr[-2000:]
    assert "genotype too large" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not run_dir.exists()


@pytest.mark.parametrize("preset", ["hierarchical", "flat", "nb201"])
def test_counts_match_the_flattened_cell(preset: str) -> None:
    for seed in range(6):
        genotype = sample(PRESETS[preset], random.Random(seed), 1000)
        graph = flatten(genotype)
        primitives = sum(1 for _, _, data in graph.edges(data=True) if data["kind"] == "primitive")
        size = expansion(genotype)
        assert (size.primitive_edges, size.nodes) == (primitives, graph.number_of_nodes())


def test_width_factor_of_a_dense_identity_motif() -> None:
    """Node j of an all-identity dense motif is 2^(j-1) times as wide as the input (j ≥ 1)."""
    genotype = Genotype(("identity",), ((Motif(tuple(map(tuple, _dense(6, 1)))),),))
    assert expansion(genotype).width_factor == 2**4


def test_the_presets_fit_the_default_limits() -> None:
    for space in PRESETS.values():
        check_size(densest(space), Limits())
    with pytest.raises(GenotypeTooLarge):
        check_size(densest(PRESETS["flat"]), Limits(width_factor=256))
