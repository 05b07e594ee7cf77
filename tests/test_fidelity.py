"""``hiernas fidelity``: the rank statistics against scipy's (ties included), a table's columns and a
trained sample through the command line, bad input, and a resumed measurement that trains nothing
twice."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.stats

from evolution.loss_score import final_loss
from hiernas.rank_agreement import agreement, average_ranks, kendall_tau, spearman_rho, top_indices
from hiernas.run_lock import LOCK_FILE, RunLock
from tests.cli_helpers import run_cli
from tests.conftest import ROOT


def _same(ours: float | None, theirs: float) -> bool:
    if ours is None or math.isnan(ours):
        return math.isnan(theirs)
    return math.isclose(ours, theirs, rel_tol=1e-12, abs_tol=1e-12)


@pytest.mark.parametrize("n", [2, 3, 17, 400])
@pytest.mark.parametrize("levels", [None, 3, 8])  # None: no ties; else values rounded to few levels
def test_statistics_equal_scipy(n: int, levels: int | None) -> None:
    rng = np.random.default_rng(n * 31 + (levels or 0))
    x = rng.normal(size=n)
    y = x + rng.normal(size=n)
    if levels is not None:
        x, y = np.round(x * levels / 4), np.round(y * levels / 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns on a constant input (n=2 with ties)
        tau, rho = scipy.stats.kendalltau(x, y).statistic, scipy.stats.spearmanr(x, y).statistic
    assert _same(kendall_tau(x, y), tau)
    assert _same(spearman_rho(x, y), rho)
    np.testing.assert_array_equal(average_ranks(x), scipy.stats.rankdata(x))


def test_constant_scores_have_no_correlation() -> None:
    assert math.isnan(kendall_tau(np.ones(5), np.arange(5.0)))
    assert math.isnan(spearman_rho(np.arange(5.0), np.ones(5)))


def _write_table(path: Path, rows: list[tuple[float, float, float]]) -> Path:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["arch", "cheap", "mid", "full"])
        for index, row in enumerate(rows):
            writer.writerow([f"a{index}", *row])
    return path


def test_table_mode_reports_scipy_figures(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    full = np.round(rng.normal(70, 5, size=60), 1)
    mid = np.round(full + rng.normal(0, 2, size=60), 0)  # rounding makes ties
    cheap = np.round(full + rng.normal(0, 8, size=60), 0)
    table = _write_table(tmp_path / "t.csv", list(zip(cheap, mid, full, strict=True)))
    code, out, err = run_cli("fidelity", str(table), "--columns", "cheap,mid,full", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["reference"] == "full"
    by_column = {entry["column"]: entry for entry in report["agreement"]}
    assert set(by_column) == {"cheap", "mid"}
    best = np.argsort(-full, kind="stable")[:6]  # 10% of 60
    for name, values in (("cheap", cheap), ("mid", mid)):
        entry = by_column[name]
        assert entry["rows"] == 60 and entry["top_k"] == 6
        assert _same(entry["kendall_tau"], scipy.stats.kendalltau(values, full).statistic)
        assert _same(entry["spearman_rho"], scipy.stats.spearmanr(values, full).statistic)
        assert _same(entry["top_kendall_tau"], scipy.stats.kendalltau(values[best], full[best]).statistic)
        their_top = set(np.argsort(-values, kind="stable")[:6].tolist())
        assert entry["top_k_overlap"] == len(their_top & set(best.tolist())) / 6
    code, out, _ = run_cli("fidelity", str(table), "--columns", "cheap,full")
    assert code == 0 and "cheap" in out and "kendall" in out


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    # Spreadsheets save UTF-8 CSV with a byte-order mark: the first column was then named
    # '\ufeffarch' and --columns arch was refused as an unknown column.
    table = tmp_path / "t.csv"
    table.write_bytes(b"\xef\xbb\xbfcheap,full\n1,2\n2,1\n3,3\n")
    code, out, err = run_cli("fidelity", str(table), "--columns", "cheap,full", "--json")
    assert code == 0, err
    assert json.loads(out)["agreement"][0]["rows"] == 3


def test_table_mode_needs_no_torch(tmp_path: Path) -> None:
    table = _write_table(tmp_path / "t.csv", [(1, 2, 3), (2, 1, 4), (3, 3, 5)])
    code = (
        "import sys; sys.modules['torch'] = None; from hiernas.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "fidelity", str(table), "--columns", "cheap,full", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["agreement"][0]["kendall_tau"] == 1.0


def test_top_k_and_its_tau() -> None:
    reference = np.array([10.0, 9, 8, 7, 6, 5, 4, 3, 2, 1])
    cheap = np.array([1.0, 9, 8, 7, 6, 5, 4, 3, 2, 10])  # swaps the best and the worst
    figures = agreement("cheap", cheap, reference, top_fraction=0.3)
    assert figures.top_k == 3
    assert list(top_indices(cheap, 3)) == [9, 1, 2]
    assert figures.top_k_overlap == pytest.approx(2 / 3)
    assert figures.top_kendall_tau == pytest.approx(scipy.stats.kendalltau([1, 9, 8], [10, 9, 8]).statistic)


def test_nb201_validation_against_test(nb201_table: Path) -> None:
    code, out, err = run_cli(
        "fidelity", str(nb201_table), "--columns", "cifar10-val-12ep,cifar10-test-12ep", "--json"
    )
    assert code == 0, err
    (entry,) = json.loads(out)["agreement"]
    columns = {"cifar10-val-12ep": [], "cifar10-test-12ep": []}  # type: dict[str, list[float]]
    with nb201_table.open(newline="") as file:
        for row in csv.DictReader(file):
            for name, values in columns.items():
                values.append(float(row[name]))
    val, test = np.array(columns["cifar10-val-12ep"]), np.array(columns["cifar10-test-12ep"])
    assert entry["rows"] == 15625
    assert _same(entry["kendall_tau"], scipy.stats.kendalltau(val, test).statistic)
    assert _same(entry["spearman_rho"], scipy.stats.spearmanr(val, test).statistic)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["missing.csv", "--columns", "cheap,full"], "no such table"),
        (["t.csv", "--columns", "cheap,nope"], "no column 'nope'"),
        (["bad.csv", "--columns", "cheap,full"], "row 3, column 'cheap'"),
        (["t.csv", "--columns", "cheap"], "at least two"),
        # DictReader silently kept the last of two equally named columns.
        (["dup.csv", "--columns", "cheap,full"], "the header names column 'cheap' 2 times"),
        (["t.csv"], "give --columns"),
        (["t.csv", "--columns", "cheap,full", "--budgets", "1,2"], "give --columns"),
        (["digits", "--budgets", "5,x"], "'x' is not a whole number"),
        (["digits", "--budgets", "5,5"], "at least two different"),
        (["nb201", "--budgets", "5,10", "--set", "evaluator.table=TABLE"], "no training steps"),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, args: list[str], fragment: str) -> None:
    _write_table(tmp_path / "t.csv", [(1, 2, 3), (2, 3, 4)])
    (tmp_path / "bad.csv").write_text("arch,cheap,mid,full\na,1,1,1\nb,high,2,2\n")
    (tmp_path / "dup.csv").write_text("arch,cheap,cheap,full\na,1,9,1\nb,2,8,2\n")
    resolved = [
        str(tmp_path / a) if a.endswith(".csv") else a.replace("TABLE", str(tmp_path / "t.csv")) for a in args
    ]
    code, _, err = run_cli("fidelity", *resolved)
    assert code == 2, err
    assert err.startswith("hiernas: error: ") and err.count("\n") == 1, err
    assert fragment in err, err


TINY = [
    *("--set", "network.channels=4", "--set", "evaluator.batch_size=16"),
    *("--set", "evaluator.warmup_steps=0", "--set", "space.init_mutations=20"),
]


COMMAND = (sys.executable, "-m", "hiernas", "fidelity", "digits", "--budgets", "2,4")


def _measure(folder: Path, sample: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HIERNAS_THREADS": "1"}
    return subprocess.run(
        [*COMMAND, "--sample", str(sample), "-o", str(folder), "--json", *TINY],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def _records(folder: Path) -> list[dict]:
    lines = (folder / "results.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b""  # every record ends its line
    return [json.loads(line) for line in lines[:-1]]


def test_training_mode_resumes_without_retraining(tmp_path: Path) -> None:
    folder = tmp_path / "fidelity"
    first = _measure(folder, 2)
    assert first.returncode == 0, first.stderr
    records = _records(folder)
    assert sorted((r["sample"], r["steps"]) for r in records) == [(0, 2), (0, 4), (1, 2), (1, 4)]
    assert all(r["status"] == "done" and 0 <= r["fitness"] <= 1 for r in records)
    report = json.loads(first.stdout)
    assert report["reference"] == "4" and report["agreement"][0]["rows"] == 2
    # The smaller budget ranked by its training loss (lower better) against the largest's fitness.
    (by_loss,) = report["loss_agreement"]
    assert by_loss["column"] == "2" and by_loss["rows"] == 2
    losses = [final_loss(r["metrics"]) for r in records if r["steps"] == 2]
    fitness = [r["fitness"] for r in records if r["steps"] == 4]
    assert all(loss is not None for loss in losses)
    assert by_loss == agreement("2", -np.array(losses), np.array(fitness)).to_dict()
    # A kill in the middle of a write leaves a partial last line: it is cut off, not misread.
    with (folder / "results.jsonl").open("ab") as file:
        file.write(b'{"sample": 2, "key": "')
    second = _measure(folder, 3)
    assert second.returncode == 0, second.stderr
    again = _records(folder)
    assert again[:4] == records  # nothing finished was trained again
    assert sorted((r["sample"], r["steps"]) for r in again[4:]) == [(2, 2), (2, 4)]
    assert second.stderr.count("→") == 2, second.stderr
    assert json.loads(second.stdout)["agreement"][0]["rows"] == 3
    # Other settings in the same folder would mix incomparable results: refused.
    code, _, err = run_cli("fidelity", "digits", "--budgets", "2,4", "-o", str(folder))
    assert code == 2 and "another config or seed" in err, err
    # A folder written before a setting existed (here search.retry_failed, taken out as if the
    # folder were older) resumes with that setting's default: nothing is trained again.
    settings = json.loads((folder / "fidelity.json").read_text())
    del settings["config"]["search"]["retry_failed"]
    (folder / "fidelity.json").write_text(json.dumps(settings))
    third = _measure(folder, 3)
    assert third.returncode == 0, third.stderr
    assert _records(folder) == again


STEPPED = """
seed: 5
space: {preset: hierarchical, init_mutations: 20}
evaluator: {kind: python, target: "tests.plugins.rung_evaluator:stepped", steps: 27}
"""


def _stepped_measure(config: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    """The python plug-in evaluator of the halving tests: a measurement in about a second."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    return subprocess.run(
        [*COMMAND[:4], str(config), *("--budgets", "3,9", "--sample", "2", "-o", str(folder))],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A config and a finished measurement of it, to copy and damage."""
    where = tmp_path_factory.mktemp("measured")
    config = where / "stepped.yaml"
    config.write_text(STEPPED)
    first = _stepped_measure(config, where / "fidelity")
    assert first.returncode == 0, first.stderr
    return config, where / "fidelity"


@pytest.mark.parametrize(
    "damage",
    [
        {"fitness": "abc"},  # float("abc") crashed the summary after the resume
        {"fitness": None},
        {"fitness": math.nan},
        {"status": "bogus"},
        {"steps": 3.7},  # was read as 3
        {"steps": math.inf},  # int(inf): OverflowError
        {"metrics": [1, 2]},  # .get on a list crashed the loss score
        {"key": [1]},
    ],
)
def test_a_damaged_result_is_refused_in_one_line(
    tmp_path: Path, measured: tuple[Path, Path], damage: dict
) -> None:
    # A results.jsonl may come from someone else: a record the summary cannot read is refused
    # before anything is trained, naming the file and the line, and the file is left as it was.
    config, original = measured
    folder = tmp_path / "fidelity"
    shutil.copytree(original, folder)
    records = _records(folder)
    lines = [json.dumps({**records[0], **damage}), *map(json.dumps, records[1:])]
    (folder / "results.jsonl").write_text("\n".join(lines) + "\n")
    before = (folder / "results.jsonl").read_bytes()
    again = _stepped_measure(config, folder)
    assert again.returncode == 2, again.stderr
    path = folder / "results.jsonl"
    assert (
        again.stderr
        == f"hiernas: error: {path}: line 1 is not a fidelity result; remove the line or the folder\n"
    )
    assert (folder / "results.jsonl").read_bytes() == before


def test_an_output_that_is_not_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("mine\n")
    for output, fragment in (
        (tmp_path / "file", "exists and is not a folder"),
        (tmp_path / "file" / "sub", "cannot create the folder"),
    ):
        code, _, err = run_cli("fidelity", "digits", "--budgets", "2,4", "-o", str(output), *TINY)
        assert code == 2, err
        assert err.startswith(f"hiernas: error: {output}: {fragment}") and err.count("\n") == 1, err
    assert (tmp_path / "file").read_text() == "mine\n"


def test_a_second_measurement_on_a_locked_folder_is_refused(
    tmp_path: Path, measured: tuple[Path, Path]
) -> None:
    # Two measurements in one folder appended to one results file, each training what it found
    # missing; now the folder has a writer lock, as a run directory has. The lock is held here by
    # a RunLock of this process (flock locks of two opens conflict within one process too).
    config, original = measured
    folder = tmp_path / "fidelity"
    shutil.copytree(original, folder)
    before = sorted((path.name, path.read_bytes()) for path in folder.iterdir() if path.name != LOCK_FILE)
    with RunLock(folder):
        code, out, err = run_cli(
            "fidelity", str(config), "--budgets", "3,9", "--sample", "3", "-o", str(folder)
        )
    assert code == 2, err
    assert out == "" and err.count("\n") == 1, err
    refusal = f"hiernas: error: {folder}: another hiernas fidelity is writing this measurement (host "
    assert err.startswith(refusal), err
    assert f"pid {os.getpid()}" in err and err.rstrip().endswith("or use another -o folder"), err
    assert (
        sorted((path.name, path.read_bytes()) for path in folder.iterdir() if path.name != LOCK_FILE)
        == before
    )
    # A lock file that no one holds (a writer ended or died) is no reason to call a folder not empty.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    RunLock(fresh).acquire().release()
    assert _stepped_measure(config, fresh).returncode == 0
    assert len(_records(fresh)) == 4


@pytest.mark.parametrize(
    ("preset", "sample", "fragment"),
    [
        # sampled without end (100 draws per genotype asked for), silently
        ("hierarchical", 10**12, "--sample: 1000000000000 genotypes; at most 100,000"),
        # NB201's cell holds 5**6 genotypes: the space ran out only after 1.6 million draws (hours)
        ("nb201", 15_626, "--sample: 15626 genotypes, but the space holds only 15,625"),
        # isomorphic cells and dead edges: 15,625 genotypes are 8,765 architectures (876,600 draws first)
        ("nb201", 8_766, "--sample: 8766 architectures, but the space's 15,625 genotypes make only 8,765"),
    ],
)
def test_a_sample_that_cannot_be_served_is_refused_at_once(
    tmp_path: Path, preset: str, sample: int, fragment: str
) -> None:
    config = tmp_path / "stepped.yaml"
    config.write_text(STEPPED.replace("preset: hierarchical", f"preset: {preset}"))
    folder = tmp_path / "fidelity"
    code, out, err = run_cli(
        "fidelity", str(config), "--budgets", "3,9", "--sample", str(sample), "-o", str(folder)
    )
    assert code == 2, err
    assert out == "" and err.startswith(f"hiernas: error: {fragment}") and err.count("\n") == 1, err
    assert not folder.exists()
