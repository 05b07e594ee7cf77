"""Every bundled config loads by its name, and the CPU CIFAR-10 config points at the shared copy
with the settings its comments promise."""

from __future__ import annotations

from pathlib import Path

import pytest

from hiernas.config import bundled_configs, load_config
from motifs.data_files import load_yaml

ROOT = Path(__file__).resolve().parent.parent


def _needs_table(name: str) -> bool:
    data = load_yaml((ROOT / "configs" / f"{name}.yaml").read_text(encoding="utf-8"))
    return data.get("evaluator", {}).get("kind") == "table"


def test_every_file_in_configs_is_bundled() -> None:
    assert bundled_configs() == sorted(p.stem for p in (ROOT / "configs").glob("*.yaml"))
    assert "cifar-cpu" in bundled_configs()


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "configs").glob("*.yaml")))
def test_every_bundled_config_loads_by_name(name: str) -> None:
    # Table configs name no table (it is not part of the project); any path passes loading.
    overrides = ["evaluator.table=table.csv"] if _needs_table(name) else []
    config = load_config(name, overrides)
    assert config.budget >= 1


def test_the_cpu_cifar_config_reads_the_shared_copy_from_the_project_root() -> None:
    config = load_config("cifar-cpu")
    assert config.data.dataset == "cifar10"
    assert config.data.path is not None
    assert (ROOT / config.data.path).resolve() == (ROOT.parent / "shared/data/cifar10-jpeg.tar.gz").resolve()
    # A validation subset, small batches on CPU, one worker per core of a 2-core machine.
    assert config.data.validation == 2000
    assert config.evaluator.eval_batch_size == 128
    assert config.executor.workers == 2
    # Smaller than the paper's search (configs/cifar.yaml) in every training dimension.
    paper = load_config("cifar")
    assert (
        config.evaluator.steps * config.evaluator.batch_size
        < paper.evaluator.steps * paper.evaluator.batch_size
    )
    assert config.network.channels < paper.network.channels
