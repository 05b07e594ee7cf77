"""The representation, the journal, ``hiernas status`` and ``hiernas report`` never load torch.

Each check runs in a fresh interpreter in which ``import torch`` fails (``sys.modules['torch'] =
None``), so anything that reaches torch, however indirectly, raises ``ImportError`` there.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine_helpers import synthetic_nb201_table

BLOCK_TORCH = "import sys; sys.modules['torch'] = None; "
CLI_WITHOUT_TORCH = BLOCK_TORCH + "from hiernas.cli import main; sys.exit(main(sys.argv[1:]))"


def _without_torch(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def table_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished five-evaluation NB201 table run, made by the real ``hiernas evolve``."""
    folder = tmp_path_factory.mktemp("torch-free")
    table = synthetic_nb201_table(folder / "table.csv")
    run_dir = folder / "run"
    subprocess.run(
        [
            *(sys.executable, "-m", "hiernas", "evolve", "nb201", "--run-dir", str(run_dir)),
            *("--budget", "5", "--strategy", "random", "--set", f"evaluator.table={table}"),
        ],
        capture_output=True,
        timeout=300,
        check=True,
    )
    return run_dir


def test_the_block_is_effective() -> None:
    """What does build networks still needs torch, so a pass below means torch was not touched."""
    result = _without_torch(BLOCK_TORCH + "import motifs.assembly")
    assert result.returncode != 0
    assert "import of torch halted" in result.stderr


def test_representation_and_journal_import_without_torch() -> None:
    code = BLOCK_TORCH + (
        "import motifs, motifs.mutation, motifs.canonical, motifs.space, motifs.files, "
        "motifs.validation, motifs.primitives, evolution.journal; print(sorted(motifs.primitives.PRIMITIVES))"
    )
    result = _without_torch(code)
    assert result.returncode == 0, result.stderr
    assert "identity" in result.stdout and "sepconv3x3" in result.stdout


def test_status_without_torch(table_run: Path) -> None:
    result = _without_torch(CLI_WITHOUT_TORCH, "status", str(table_run), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["done"] == 5 and summary["best"]["genotype"]["format"] == "hiernas-genotype/1"


def test_report_without_torch(table_run: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    result = _without_torch(CLI_WITHOUT_TORCH, "report", str(table_run), "-o", str(page))
    assert result.returncode == 0, result.stderr
    assert page.is_file() and (tmp_path / "report-best.png").is_file()
    assert "<html" in page.read_text(encoding="utf-8")
