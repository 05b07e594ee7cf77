"""A pareto run killed (SIGKILL) and resumed through the CLI, and its front exported."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_kill_resume import _evolve, _finished, _running, _wait_for

from evolution.front import front_indices

CONFIG = """
seed: 5
budget: {budget}
space: {{preset: hierarchical, init_mutations: 30}}
network: {{channels: 4, cells_per_stage: 1, stages: 1}}
evaluator: {{kind: python, target: "plugins.my_evaluator:gated", settings: {{gate: "{gate}"}}}}
search:
  strategy: pareto
  population: 4
  tournament: 0.5
  objectives: [{{name: accuracy}}, {{name: params, direction: min}}]
executor: {{kind: inline, workers: 1}}
"""


@pytest.mark.slow
def test_a_killed_pareto_run_resumes_and_exports_its_front(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    config = tmp_path / "pareto.yaml"
    config.write_text(CONFIG.format(budget=10, gate=gate))
    run_dir = tmp_path / "run"
    kept: dict = {}
    for kill, allowed in enumerate((3, 2)):
        process = _evolve(config, run_dir)
        for token in range(allowed):
            (gate / f"grant-{process.pid}-{token}").touch()
        target = len(kept) + allowed
        _wait_for(lambda target=target: len(_finished(run_dir)) >= target, process, f"{target} results")
        _wait_for(
            lambda pid=process.pid: _running(run_dir) > 0 and any(gate.glob(f"waiting-{pid}-*")),
            process,
            "an evaluation in flight",
        )
        process.send_signal(signal.SIGKILL)
        process.wait()
        now = _finished(run_dir)
        assert len(now) == target, f"kill {kill}"
        assert {p: now[p] for p in kept} == kept
        kept = now
    (gate / "open").touch()
    final = _evolve(config, run_dir)
    _, stderr = final.communicate(timeout=600)
    assert final.returncode == 0, stderr.decode()
    results = _finished(run_dir)
    assert len(results) == 10 and {p: results[p] for p in kept} == kept

    def cli(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "hiernas", *args], capture_output=True, text=True, check=True
        ).stdout

    summary = json.loads(cli("status", str(run_dir), "--json", "--top", "100"))
    points = [(e["fitness"], -e["metrics"]["params"]) for e in summary["top"]]
    expected = {points[i] for i in front_indices(points)}
    assert {(m["objectives"]["accuracy"], -m["objectives"]["params"]) for m in summary["front"]} == expected

    written = cli("export", str(run_dir), "--front", "--format", "json", "-o", str(tmp_path / "out")).split()
    genotype_files = [p for p in written if not p.endswith("ranking.json")]
    assert len(genotype_files) == len(summary["front"])
    for position, (path, member) in enumerate(zip(genotype_files, summary["front"], strict=False), start=1):
        name = Path(path).name
        assert name.startswith(f"front{position}-accuracy{member['objectives']['accuracy']:.4g}-params")
        assert json.loads(Path(path).read_text())["levels"] == member["genotype"]["levels"]
    ranking = json.loads((tmp_path / "out" / "ranking.json").read_text())
    assert [g["proposal"] for g in ranking["genotypes"]] == [m["proposal"] for m in summary["front"]]
