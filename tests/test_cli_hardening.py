"""Bad input, bounded resources and the ways a run ends, through the command line: each is one
line on stderr (exit 2 for bad input), never a traceback, never an unbounded amount of memory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evolution.executors.local import worker_limit
from tests.cli_helpers import run_cli
from tests.conftest import ROOT
from tests.engine_helpers import synthetic_nb201_table


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_nb201_table(tmp_path_factory.mktemp("table") / "nb201.csv")


def _one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    assert err.startswith("hiernas: error: ") and err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, err


def _billion_laughs() -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    return "\n".join([*lines, "seed: *a9", ""])


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# --- worker count --------------------------------------------------------------------------------


def test_more_local_workers_than_the_machine_holds_are_refused(
    table: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # the CPU limit, whatever this machine has
    limit, _ = worker_limit([], 1)
    run_dir = tmp_path / "run"
    local = ("--set", "executor.kind=local", "--set", f"evaluator.table={table}", "--run-dir", str(run_dir))
    code, _, err = run_cli("evolve", "nb201", *local, "--workers", "1000")
    _one_line_error(code, err, "executor.workers: 1000 local workers", f"holds {limit}", "oversubscribe=true")
    code, _, err = run_cli("evolve", "nb201", *local, "--workers", str(limit + 1))
    _one_line_error(code, err, f"holds {limit}")
    assert not run_dir.exists()  # refused before anything was created or started


def test_the_worker_limit_counts_gpus_and_memory() -> None:
    assert worker_limit(["0", "1"], 3)[0] <= 6
    assert worker_limit([], 1)[0] <= (os.cpu_count() or 1)


# --- unbounded inputs ----------------------------------------------------------------------------


def test_a_billion_laughs_config_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "laughs.yaml"
    config.write_text(_billion_laughs())
    for command in ("evolve", "sample"):
        code, _, err = run_cli(command, str(config))
        _one_line_error(code, err, f"{config}: expands to more than")


def test_a_billion_laughs_config_in_a_run_directory_is_refused_on_resume(table: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert (
        run_cli(
            "evolve", "nb201", "--budget", "5", "--run-dir", str(run_dir), "--set", f"evaluator.table={table}"
        )[0]
        == 0
    )
    (run_dir / "config.yaml").write_text(_billion_laughs())
    code, _, err = run_cli(
        "evolve", "nb201", "--budget", "8", "--run-dir", str(run_dir), "--set", f"evaluator.table={table}"
    )
    _one_line_error(code, err, "expands to more than")
    code, _, err = run_cli("status", str(run_dir))
    assert "Traceback" not in err and code in (0, 2), err


def test_deeply_nested_configs_and_genotypes_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "deep.yaml"
    config.write_text(f"seed: {_nested(50_000)}\n")
    code, _, err = run_cli("sample", str(config))
    _one_line_error(code, err, f"{config}: nested more than")
    for name in ("deep.json", "deep.yaml"):
        genotype = tmp_path / name
        genotype.write_text(
            json.dumps({"format": "hiernas-genotype/1"})[:-1] + f', "levels": {_nested(50_000)}}}'
        )
        for command in ("describe", "show"):
            code, _, err = run_cli(command, str(genotype))
            _one_line_error(code, err, f"{genotype}: nested more than")
    code, _, err = run_cli("sample", "nb201", "--set", f"seed={_nested(50_000)}")
    _one_line_error(code, err, "--set seed: nested more than")


# --- config values -------------------------------------------------------------------------------


def test_dedup_off_as_yaml_reads_it(tmp_path: Path) -> None:
    config = tmp_path / "off.yaml"
    config.write_text("space: {preset: nb201}\nsearch:\n  dedup: off\n")
    code, out, err = run_cli("sample", str(config))
    assert code == 0, err
    assert "levels" in out


@pytest.mark.parametrize(
    "override", ["budget=true", "search.population=false", "executor.timeout=true", "data.validation=true"]
)
def test_booleans_are_not_numbers(override: str) -> None:
    key = override.partition("=")[0]
    code, _, err = run_cli("sample", "nb201", "--set", override)
    _one_line_error(code, err, f"{key}: input should be a number, got")


@pytest.mark.parametrize(
    ("override", "key"),
    [("executor.workers=4", "executor.workers"), ("executor.timeout=60", "executor.timeout")],
)
def test_the_inline_executor_refuses_settings_it_cannot_honour(table: Path, override: str, key: str) -> None:
    code, _, err = run_cli("evolve", "nb201", "--set", f"evaluator.table={table}", "--set", override)
    _one_line_error(code, err, f"{key}: the inline executor", "executor.kind=local")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "search.strategy=annealing",
            "unknown strategy 'annealing' (known: evolution, pareto, random, local, bayesian, rl)",
        ),
        ("executor.kind=slurm", "unknown executor 'slurm' (known: inline, local, ray)"),
        ("evaluator.kind=oracle", "evaluator.kind: unknown evaluator kind 'oracle' (known: train, table"),
    ],
)
def test_unknown_names_list_the_registered_ones(override: str, message: str) -> None:
    code, _, err = run_cli("sample", "nb201", "--set", override)
    _one_line_error(code, err, message)


def test_sample_creates_the_output_folder(tmp_path: Path) -> None:
    output = tmp_path / "missing" / "dir" / "x.json"
    code, _, err = run_cli("sample", "nb201", "-o", str(output))
    assert code == 0, err
    assert json.loads(output.read_text())["format"].startswith("hiernas-genotype")


def test_sample_names_an_output_folder_it_cannot_create(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    code, _, err = run_cli("sample", "nb201", "-o", str(tmp_path / "file" / "x.json"))
    _one_line_error(code, err, "cannot be created")


# --- how a run ends ------------------------------------------------------------------------------


def _hiernas(*args: str, stderr: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with stderr.open("wb") as sink:  # a file, not a pipe: an unread pipe could stall the run
        return subprocess.Popen(
            [sys.executable, "-m", "hiernas", *args],
            stdout=subprocess.DEVNULL,
            stderr=sink,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        )


def test_sigterm_stops_a_run_like_ctrl_c(table: Path, tmp_path: Path) -> None:
    run_dir, log = tmp_path / "run", tmp_path / "stderr"
    endless = ("--budget", "1000000000", "--set", "search.dedup=off", "--set", f"evaluator.table={table}")
    process = _hiernas("evolve", "nb201", "--run-dir", str(run_dir), *endless, stderr=log)
    try:
        deadline = time.monotonic() + 300  # only against a hang: the run is paced by its own files
        while not (run_dir / "best.json").exists():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 143
    finally:
        if process.poll() is None:
            process.kill()
    err = log.read_text()
    assert err.rstrip("\n").splitlines()[-1] == "hiernas: interrupted", err
    assert "Traceback" not in err
    resumed = run_cli("status", str(run_dir), "--json")
    assert resumed[0] == 0, resumed[2]


def test_workers_that_keep_dying_end_the_run_with_one_line(table: Path, tmp_path: Path) -> None:
    # Every worker process exits as it starts (what a broken library in the workers looks like).
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import os, sys\nif '--multiprocessing-fork' in sys.orig_argv:\n    os._exit(1)\n"
    )
    log = tmp_path / "stderr"
    process = _hiernas(
        *("evolve", "nb201", "--run-dir", str(tmp_path / "run"), "--budget", "5"),
        *("--set", "executor.kind=local", "--set", f"evaluator.table={table}"),
        stderr=log,
        env={"PYTHONPATH": f"{hook}{os.pathsep}{ROOT}", "CUDA_VISIBLE_DEVICES": ""},
    )
    assert process.wait(timeout=300) == 1
    err = log.read_text()
    assert "Traceback" not in err, err
    assert err.rstrip("\n").splitlines()[-1].startswith("hiernas: error: worker processes keep dying"), err
