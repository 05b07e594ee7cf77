"""``hiernas evolve`` with executor.kind=ray starts its own local Ray instance and stops it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is the optional extra hiernas[ray]")

from hiernas.cli import main  # noqa: E402
from tests.engine_helpers import synthetic_nb201_table  # noqa: E402


def test_evolve_on_a_local_ray_instance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = synthetic_nb201_table(tmp_path / "nb201.csv")
    run_dir = tmp_path / "run"
    code = main(
        [
            "evolve",
            "nb201",
            "--run-dir",
            str(run_dir),
            "--budget",
            "12",
            "--workers",
            "2",
            "--set",
            f"evaluator.table={table}",
            "--set",
            "executor.kind=ray",
        ]
    )
    assert code == 0
    assert not ray.is_initialized()  # the instance it started is shut down again
    capsys.readouterr()
    assert main(["status", str(run_dir), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["done"] == 12 and summary["budget"] == 12
    assert summary["best"]["metrics"]["arch"].startswith("|")
