"""A run directory is data: nothing read from a journal or a file name may become code in an
exported ``.py`` file, which ``hiernas export`` runs for its self-check and users import."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from evolution.journal import FILENAME
from hiernas.cli import main
from motifs import PRESETS, sample
from motifs.files import save_genotype


def _cli(*args: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, err.getvalue()


def _payload(marker: Path) -> str:
    return f'"""\nimport os; os.system("touch {marker}")\n"""'


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A run whose winners export as hiernas's own template (a table run exports NB201's network,
    # which has no py form): the NB201 cell scored by a plug-in evaluator, in-process.
    base = tmp_path_factory.mktemp("safety")
    run = base / "run"
    code, err = _cli(
        "evolve", "nb201", "--run-dir", str(run), "--budget", "4", "--strategy", "random",
        "--set", "evaluator={kind: python, target: 'tests.plugins.my_evaluator:score'}",
        "--set", "executor.kind=inline",
    )  # fmt: skip
    assert code == 0, err
    return run


def _tampered(run_dir: Path, tmp_path: Path, sql: str, *args: object) -> Path:
    copy = tmp_path / "run"
    copy.mkdir()
    for name in ("config.yaml", FILENAME):
        (copy / name).write_bytes((run_dir / name).read_bytes())
    with sqlite3.connect(copy / FILENAME) as db:
        db.execute(sql, args)
    return copy


def test_a_key_carrying_code_is_refused(run_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    run = _tampered(run_dir, tmp_path, "UPDATE proposals SET key = ?", _payload(marker))
    code, err = _cli("export", str(run), "--format", "py", "-o", str(tmp_path / "out"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "malformed canonical key" in err, err
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_metrics_with_quotes_never_reach_code(run_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    metrics = json.dumps({'acc"""': _payload(marker), "x": "\\"})
    run = _tampered(run_dir, tmp_path, "UPDATE evaluations SET metrics = ?", metrics)
    out = tmp_path / "out"
    code, err = _cli("export", str(run), "--format", "py", "-o", str(out))
    assert code == 0, err
    (source,) = out.glob("*.py")
    subprocess.run([sys.executable, str(source)], check=True, cwd=tmp_path)
    assert not marker.exists()
    code, err = _cli("export", str(run), "--format", "json", "-o", str(tmp_path / "json"))
    assert code == 0, err
    assert not marker.exists()


def test_a_file_name_carrying_code_stays_text_in_the_docstring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a file name has no slash: the payload touches a relative path
    marker = tmp_path / "PWNED"
    name = _payload(Path("PWNED")) + "\\"
    genotype_file = tmp_path / f"{name}.json"
    save_genotype(sample(PRESETS["nb201"], random.Random(0), 20), genotype_file)
    out = tmp_path / "out"
    # An NB201 cell: its own network has no py export, so the search template is named.
    code, err = _cli("export", str(genotype_file), "--format", "py", "--template", "search", "-o", str(out))
    assert code == 0, err
    (source,) = out.glob("*.py")
    docstring = ast.get_docstring(ast.parse(source.read_text()), clean=False)
    assert docstring.startswith(f"{name}: a network found by hiernas")
    subprocess.run([sys.executable, str(source)], check=True, cwd=tmp_path)
    assert not marker.exists()
