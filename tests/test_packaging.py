"""An installed hiernas (a wheel, not this checkout) finds its bundled configs: built from a copy
of the checkout, installed into a folder of its own, run from an empty directory with only that
folder and the environment's dependencies on the path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the wheel is installed into (its ``bin/hiernas`` is the console script)."""
    base = tmp_path_factory.mktemp("packaging")
    source = base / "source"
    ignore = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".*cache*", "runs")
    shutil.copytree(ROOT, source, symlinks=True, ignore=ignore)
    wheels = base / "wheels"
    _pip("wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(wheels), str(source))
    (wheel,) = wheels.glob("hiernas-*.whl")
    target = base / "site"
    _pip("install", "--no-deps", "--no-compile", "--target", str(target), str(wheel))
    return target


def _pip(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def _hiernas(installed: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(installed),
        "HIERNAS_CACHE": str(cwd / "cache"),
        "CUDA_VISIBLE_DEVICES": "",
    }
    return subprocess.run(
        [str(installed / "bin" / "hiernas"), *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_the_wheel_ships_the_configs_and_runs_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    assert sorted(p.name for p in (installed / "hiernas" / "configs").iterdir()) == sorted(
        p.name for p in (ROOT / "configs").glob("*.yaml")
    )
    probe = subprocess.run(
        [sys.executable, "-c", "import hiernas; print(hiernas.__file__)"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(installed)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(probe.stdout.strip()).is_relative_to(installed)  # not this checkout
    # The bundled config as it is, trained for a few steps only: what is tested is that it is found.
    short = ("--set", "evaluator.steps=5")
    done = _hiernas(installed, tmp_path, "evolve", "digits", "--budget", "2", "--run-dir", "run", *short)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "best.json").is_file()


def test_the_wheel_runs_the_bundled_nb201_config(installed: Path, tmp_path: Path, nb201_table: Path) -> None:
    done = _hiernas(
        installed,
        tmp_path,
        *("evolve", "nb201", "--budget", "5", "--run-dir", "run", "--set", f"evaluator.table={nb201_table}"),
    )
    assert done.returncode == 0, done.stderr
    assert "5/5 evaluations" in done.stderr
