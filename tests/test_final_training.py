"""``hiernas train`` through the real CLI on the digits, with a tiny template and budget: outputs,
refusal of a folder that belongs to another training, and resumption after SIGKILL."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from hiernas.cli import EXIT_BAD_INPUT, EXIT_OK, main
from hiernas.training import THREADS_ENV
from motifs import PRESETS, sample
from motifs.files import save_genotype

ROOT = Path(__file__).resolve().parent.parent
# 1438 digits / batch 32 = 44 steps per epoch; 8 channels, 1 cell per stage keeps a step at a few ms.
TINY = [
    "evaluation_template.channels=8",
    "evaluation_template.cells_per_stage=1",
    "final.batch_size=32",
    "final.lr=0.05",
]


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # One thread everywhere: CPU kernels are then bit-for-bit repeatable across processes, and tiny
    # networks do not pay for OpenMP threads waiting on each other on a shared machine.
    monkeypatch.setenv(THREADS_ENV, "1")


@pytest.fixture
def genotype_file(tmp_path: Path) -> Path:
    path = tmp_path / "g.json"
    save_genotype(sample(PRESETS["paper"], random.Random(1), 10), path)
    return path


def _train(genotype: Path, out: Path, *overrides: str) -> int:
    args = ["train", str(genotype), "paper", "-o", str(out)]
    for override in (*TINY, *overrides):
        args += ["--set", override]
    return main(args)


def test_train_writes_weights_metrics_genotype_and_config(
    genotype_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert _train(genotype_file, out, "final.steps=60") == EXIT_OK
    assert sorted(p.name for p in out.iterdir()) == [
        "config.yaml",
        "genotype.json",
        "metrics.json",
        "model.pt",
    ]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 60 and metrics["resumed_at"] == []
    assert 0 <= metrics["test_accuracy"] <= 1 and metrics["params"] > 0 and metrics["flops"] > 0
    assert metrics["dataset"]["train"] == 1438  # train + validation: the split is for the search only
    weights = torch.load(out / "model.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in weights.values())
    assert "test accuracy" in capsys.readouterr().err

    # Done already: the same command reports and does nothing.
    assert _train(genotype_file, out, "final.steps=60") == EXIT_OK
    assert "nothing to do" in capsys.readouterr().err
    # The folder belongs to this config and genotype: anything else is refused.
    assert _train(genotype_file, out, "final.steps=61") == EXIT_BAD_INPUT
    assert "final.steps" in capsys.readouterr().err
    other = tmp_path / "other.json"
    save_genotype(PRESETS["paper"].initial(), other)
    assert _train(other, out, "final.steps=60") == EXIT_BAD_INPUT
    assert "different genotype" in capsys.readouterr().err


# ``hiernas train`` with one thing changed, for the test only: after writing its first checkpoint
# the training says so (the file named by argv[1]) and waits for its SIGKILL, so that the kill lands
# mid-training however fast the machine is.
PAUSED_AFTER_FIRST_CHECKPOINT = """
import signal, sys
from pathlib import Path
import hiernas.final_training as final_training
from hiernas.cli import main

marker, save = Path(sys.argv[1]), final_training.save_checkpoint

def save_then_wait(path, value):
    save(path, value)
    if path.name == final_training.CHECKPOINT_FILE:
        marker.touch()
        while True:
            signal.pause()

final_training.save_checkpoint = save_then_wait
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.slow
def test_a_killed_training_resumes_where_its_checkpoint_left_off(genotype_file: Path, tmp_path: Path) -> None:
    """SIGKILL after the first epoch's checkpoint, then the same command: it continues from the
    checkpoint and ends with the same weights as a training that was never interrupted."""
    steps = ["final.steps=176"]
    killed = tmp_path / "killed"
    marker = tmp_path / "checkpointed"
    command = [sys.executable, "-c", PAUSED_AFTER_FIRST_CHECKPOINT, str(marker)]
    command += ["train", str(genotype_file), "paper", "-o", str(killed)]
    for override in (*TINY, *steps):
        command += ["--set", override]
    process = subprocess.Popen(command, cwd=ROOT, env=os.environ, stdout=subprocess.DEVNULL)
    # No time limit of its own: the training waits at its first checkpoint until it is killed.
    while not marker.exists():
        assert process.poll() is None, "the training ended before its first checkpoint"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    checkpoint = killed / "checkpoint.pt"
    stopped_at = torch.load(checkpoint, weights_only=True)["step"]
    assert stopped_at == 44  # the first epoch's checkpoint
    assert not (killed / "metrics.json").exists()

    assert _train(genotype_file, killed, *steps) == EXIT_OK
    metrics = json.loads((killed / "metrics.json").read_text())
    assert metrics["steps"] == 176 and metrics["resumed_at"] == [stopped_at]
    assert not checkpoint.exists()

    straight = tmp_path / "straight"
    assert _train(genotype_file, straight, *steps) == EXIT_OK
    resumed_weights = torch.load(killed / "model.pt", weights_only=True)
    straight_weights = torch.load(straight / "model.pt", weights_only=True)
    for name, value in straight_weights.items():
        assert torch.equal(value, resumed_weights[name]), name
    assert json.loads((straight / "metrics.json").read_text())["test_accuracy"] == metrics["test_accuracy"]
