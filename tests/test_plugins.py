"""A user's own primitives, plugged in through a config's ``plugins`` list (hiernas.plugins),
run through the CLI with the plug-in modules in tests/plugins/."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from motifs import Genotype

PLUGIN = "tests.plugins.my_primitives"
CONFIG = f"""plugins: [{PLUGIN}]
seed: 0
budget: 3
space:
  primitives: [identity, conv5x5]
  levels: [{{motifs: 2, nodes: 3}}, {{motifs: 1, nodes: 3}}]
  init_mutations: 200
network: {{channels: 4, cells_per_stage: 1, stages: 1}}
data: {{dataset: digits, validation: 0.2, augment: false}}
evaluator: {{kind: train, steps: 3, batch_size: 32}}
search: {{strategy: random, population: 2}}
executor: {{kind: local, workers: 2}}
"""
# Every edge a conv5x5, so every network built from it contains the plug-in's primitive.
GENOTYPE = {
    "format": "hiernas-genotype/1",
    "primitives": ["identity", "conv5x5"],
    "levels": [
        {"motifs": [[[0, 2, 0], [0, 0, 2], [0, 0, 0]], [[0, 1, 2], [0, 0, 0], [0, 0, 0]]]},
        {"motifs": [[[0, 1, 2], [0, 0, 1], [0, 0, 0]]]},
    ],
}


def _hiernas(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hiernas", *args], capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def genotype_file(tmp_path: Path) -> Path:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(GENOTYPE), encoding="utf-8")
    return path


def test_sample_and_describe_know_the_plugin_primitive(
    config: Path, genotype_file: Path, tmp_path: Path
) -> None:
    sampled = tmp_path / "sampled.json"
    result = _hiernas("sample", str(config), "--seed", "3", "-o", str(sampled))
    assert result.returncode == 0, result.stderr
    assert json.loads(sampled.read_text(encoding="utf-8"))["primitives"] == ["identity", "conv5x5"]

    result = _hiernas("describe", str(genotype_file), "--config", str(config), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    ops = {edge["op"] for motif in summary["live_edges"][0]["motifs"] for edge in motif["edges"]}
    assert ops == {"conv5x5"}
    # 5×5 kernels: C_in·C·25 weights per conv5x5, more than any built-in 3×3 network of this shape.
    assert summary["params"] > 0 and summary["template"]["channels"] == 4


def test_without_the_plugin_the_name_is_unknown(genotype_file: Path) -> None:
    result = _hiernas("describe", str(genotype_file))
    assert result.returncode == 2
    assert "unknown primitive 'conv5x5'" in result.stderr and "plugins" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("plugins", "message"),
    [
        ("[tests.plugins.no_such_module]", "plugins: cannot import 'tests.plugins.no_such_module'"),
        ("[tests.plugins.broken]", "plugins: importing 'tests.plugins.broken' failed: ValueError"),
        ("['os; rm']", "plugins[0]: 'os; rm' is not a module name"),
        ("tests.plugins.my_primitives", "plugins: expected a list of module names"),
    ],
)
def test_bad_plugins_are_one_line(tmp_path: Path, plugins: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(CONFIG.replace(f"plugins: [{PLUGIN}]", f"plugins: {plugins}"), encoding="utf-8")
    result = _hiernas("sample", str(path))
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_evolve_builds_the_plugin_primitive_in_worker_processes(config: Path, tmp_path: Path) -> None:
    """The local executor's spawned workers import the plug-in before building: an unknown
    primitive there would make every evaluation fail."""
    run_dir = tmp_path / "run"
    result = _hiernas("evolve", str(config), "--run-dir", str(run_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    with sqlite3.connect(run_dir / "journal.sqlite") as db:
        statuses = [row[0] for row in db.execute("SELECT status FROM evaluations WHERE final = 1")]
        genotypes = [
            Genotype.from_dict(json.loads(row[0]), registered_only=False)
            for row in db.execute("SELECT genotype FROM proposals")
        ]
    assert statuses == ["done"] * 3
    built = [
        g
        for g in genotypes
        if any(
            g.primitives[e.op - 1] == "conv5x5"
            for m in g.used_motifs()[0]
            for e in g.levels[0][m].live_edges()
        )
    ]
    assert built, "no evaluated network contained the plug-in's primitive"
