"""Malformed configs and genotype files, generated: each gets exit 2 and one line that names the
problem, never a traceback, and an existing run directory is left exactly as it was."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hiernas.cli import main
from hiernas.config import RunConfig
from motifs import PRESETS, sample
from tests.engine_helpers import run_table_search, synthetic_nb201_table

VALID_CONFIG: dict[str, Any] = RunConfig().to_dict()
VALID_GENOTYPE: dict[str, Any] = sample(PRESETS["hierarchical"], random.Random(0), 300).to_dict()

# Leaves of the config by kind, for corruptions that are invalid by construction.
NUMBERS = [
    "budget",
    "space.init_mutations",
    "network.channels",
    "network.cells_per_stage",
    "network.stages",
    "data.validation",
    "evaluator.steps",
    "evaluator.batch_size",
    "evaluator.lr",
    "evaluator.momentum",
    "evaluator.weight_decay",
    "search.population",
    "search.tournament",
    "executor.workers",
    "executor.workers_per_gpu",
    "final.steps",
    "search.rl.hidden",
    "search.rl.lr",
]
CHOICES = [
    "network.merge",
    "data.dataset",
    "evaluator.schedule",
    "evaluator.device",
    "evaluator.precision",
    "search.strategy",
    "search.dedup",
    "executor.kind",
    "final.schedule",
]
FLAGS = ["data.augment", "search.aging", "evaluator.nesterov", "evaluator.compile"]
SECTIONS = ["space", "network", "data", "evaluator", "search", "executor", "final", "search.rl"]
NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=3, max_size=12)


def _set(data: dict, dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        data = data[part]
    data[leaf] = value


@st.composite
def bad_configs(draw: st.DrawFn) -> str:
    """YAML text of a config with exactly one kind of defect."""
    data = copy.deepcopy(VALID_CONFIG)
    kind = draw(
        st.sampled_from(
            [
                "unknown key",
                "wrong type",
                "unknown name",
                "out of range",
                "bad flag",
                "not a section",
                "bad level",
                "broken yaml",
                "not a mapping",
                "unknown primitive",
            ]
        )
    )
    if kind == "broken yaml":
        text = yaml.safe_dump(data)
        cut = draw(st.integers(10, len(text) - 10))
        return text[:cut] + draw(st.sampled_from([": [unclosed\n", "\tbad: tab\n", "{{{\n", "- - :\n  x"]))
    if kind == "not a mapping":
        return yaml.safe_dump(draw(st.sampled_from([[1, 2], "text", 3.5])))
    if kind == "unknown key":
        section = draw(st.sampled_from(["", *SECTIONS]))
        key = draw(NAMES.filter(lambda k: k not in {"preset", "kind", "table", "fitness"}))
        target = data
        for part in filter(None, section.split(".")):
            target = target[part]
        if key in target:
            key += "_x"
        target[key] = draw(st.integers())
    elif kind == "wrong type":
        _set(data, draw(st.sampled_from(NUMBERS)), draw(st.sampled_from(["many", [1, 2], {"a": 1}, "1.2.3"])))
    elif kind == "unknown name":
        _set(data, draw(st.sampled_from(CHOICES)), draw(NAMES))
    elif kind == "out of range":
        _set(
            data,
            draw(st.sampled_from([n for n in NUMBERS if n != "data.validation"])),
            draw(st.integers(-99, 0)),
        )
    elif kind == "bad flag":
        _set(data, draw(st.sampled_from(FLAGS)), draw(st.sampled_from(["maybe", [True], 7])))
    elif kind == "not a section":
        _set(data, draw(st.sampled_from(SECTIONS)), draw(st.sampled_from([5, "abc", [1, 2]])))
    elif kind == "bad level":
        level = draw(
            st.sampled_from(
                [
                    {"motifs": 2},
                    {"nodes": 4},
                    {"motifs": 0, "nodes": 4},
                    {"motifs": 3, "nodes": 1},
                    [4, 4],
                    {"motifs": 2, "nodes": 4, "size": 3},
                ]
            )
        )
        data["space"]["levels"][draw(st.integers(0, 1))] = level
    else:
        data["space"]["primitives"][draw(st.integers(0, 5))] = draw(NAMES)
    return yaml.safe_dump(data, sort_keys=False)


@st.composite
def bad_genotypes(draw: st.DrawFn) -> str:
    """JSON text of a genotype file with exactly one kind of defect."""
    data = copy.deepcopy(VALID_GENOTYPE)
    level = draw(st.integers(0, 1))
    motifs = data["levels"][level]["motifs"]
    m = draw(st.integers(0, len(motifs) - 1))
    n = len(motifs[m])
    i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
    kind = draw(
        st.sampled_from(
            [
                "broken json",
                "format",
                "missing key",
                "unknown key",
                "primitive",
                "below diagonal",
                "out of range",
                "wrong type",
                "short row",
                "not square",
                "two cells",
                "empty levels",
            ]
        )
    )
    if kind == "broken json":
        text = json.dumps(data)
        return text[: draw(st.integers(1, len(text) - 2))]
    if kind == "format":
        data["format"] = draw(st.sampled_from(["hiernas-genotype/2", "", None, 1]))
    elif kind == "missing key":
        del data[draw(st.sampled_from(["format", "primitives", "levels"]))]
    elif kind == "unknown key":
        data[draw(NAMES)] = 1
    elif kind == "primitive":
        data["primitives"][draw(st.integers(0, 5))] = draw(st.sampled_from(["conv7x7", "", 3, None]))
    elif kind == "below diagonal":
        a, b = max(i, j), min(i, j)
        motifs[m][a][b] = draw(st.integers(1, 6))
    elif kind == "out of range":
        limit = 6 if level == 0 else len(data["levels"][0]["motifs"])
        motifs[m][min(i, n - 2)][n - 1] = draw(st.sampled_from([limit + 1, limit + 50, -1]))
    elif kind == "wrong type":
        motifs[m][min(i, n - 2)][n - 1] = draw(st.sampled_from([1.5, "1", None, [1], True]))
    elif kind == "short row":
        motifs[m][i] = motifs[m][i][:-1]
    elif kind == "not square":
        motifs[m].append([0] * n)
    elif kind == "two cells":
        data["levels"][-1]["motifs"].append(data["levels"][-1]["motifs"][0])
    else:
        data["levels"] = []
    return json.dumps(data)


def _run_cli(args: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(args)
    return code, err.getvalue()


def _fingerprint(directory: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(directory)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("run")
    table = synthetic_nb201_table(root / "nb201.csv")
    run_dir = root / "run"
    run_table_search(run_dir, table, budget=20)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(VALID_CONFIG))
    return run_dir


def test_malformed_configs(tmp_path: Path, finished_run: Path) -> None:
    before = _fingerprint(finished_run)
    tried: list[str] = []

    @settings(max_examples=60)
    @given(bad_configs())
    def check(text: str) -> None:
        path = tmp_path / "bad.yaml"
        path.write_text(text)
        for args in (["evolve", str(path), "--run-dir", str(finished_run)], ["sample", str(path)]):
            code, err = _run_cli(args)
            assert code == 2, (text, err)
            assert err.count("\n") == 1 and err.startswith("hiernas: error: "), err
            assert "Traceback" not in err
        tried.append(text)

    check()
    assert len(set(tried)) >= 50
    assert _fingerprint(finished_run) == before


@pytest.mark.parametrize(
    ("override", "message"),
    [
        # int(inf) in the split was an OverflowError traceback.
        ("data.validation=.inf", "data.validation: input should be a finite number, got inf"),
        ("search.predictor.beta=.inf", "search.predictor.beta: input should be a finite number, got inf"),
        ("search.rl.lr=.inf", "search.rl.lr: input should be a finite number, got inf"),
        ("evaluator.weight_decay=.nan", "evaluator.weight_decay: input should be a finite number, got nan"),
    ],
)
def test_non_finite_numbers_are_one_line(tmp_path: Path, override: str, message: str) -> None:
    code, err = _run_cli(["evolve", "digits", "--run-dir", str(tmp_path / "run"), "--set", override])
    assert (code, err) == (2, f"hiernas: error: {message}\n")
    assert not (tmp_path / "run").exists()


def test_malformed_genotype_files(tmp_path: Path) -> None:
    tried: list[str] = []

    # Derandomised hypothesis repeats its simplest draws (a truncated "{"): ask for more, count distinct.
    @settings(max_examples=150)
    @given(bad_genotypes())
    def check(text: str) -> None:
        path = tmp_path / "bad.json"
        path.write_text(text)
        for command in ("describe", "show"):
            code, err = _run_cli([command, str(path)])
            assert code == 2, (text, err)
            assert err.count("\n") == 1 and err.startswith(f"hiernas: error: {path}: "), err
        tried.append(text)

    check()
    assert len(set(tried)) >= 50
