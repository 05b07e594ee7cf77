"""``hiernas.fit``: stopping at step k, checkpointing, reloading into a fresh model and continuing
gives exactly the weights of one uninterrupted run; divergence is one error everywhere."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from hiernas.config import NetworkConfig, TrainingSettings
from hiernas.data.device import DeviceImages, Normalise
from hiernas.errors import InputError
from hiernas.fit import FitData, TrainingDiverged, fit, load_checkpoint, save_checkpoint
from hiernas.network import build_network
from hiernas.training import Placement
from motifs import PRESETS, sample
from tests.torch_helpers import one_thread, seeded_weights

CPU = Placement(torch.device("cpu"), "fp32")
# 40 images in batches of 8: 5 steps per epoch, so step 7 is mid-epoch and 12 crosses two epochs.
SETTINGS = TrainingSettings(
    steps=12, batch_size=8, lr=0.1, schedule="cosine", warmup_steps=2, eval_batch_size=16, device="cpu"
)
NETWORK = NetworkConfig(channels=4, cells_per_stage=2, stages=2)


@pytest.fixture(autouse=True)
def _one_thread() -> object:
    with one_thread():
        yield


@pytest.fixture(scope="module")
def data() -> FitData:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(40, 3, 8, 8), dtype=np.uint8)
    y = rng.integers(0, 3, size=40).astype(np.int64)
    images = DeviceImages.from_arrays(x, y, "cpu")
    return FitData(images, Normalise(x, "cpu", True), augment=True, flip=True, held_out=images)


def _model(init_seed: int) -> torch.nn.Module:
    genotype = sample(PRESETS["hierarchical"], random.Random(3), 30)
    with seeded_weights(init_seed):
        model = build_network(genotype, NETWORK, 3, 3)
    return model.to(memory_format=CPU.memory_format)


def test_checkpoint_and_resume_equals_an_uninterrupted_run(data: FitData, tmp_path: Path) -> None:
    whole = _model(0)
    straight = fit(whole, data, SETTINGS, CPU, seed=5)

    first = _model(0)
    part = fit(first, data, SETTINGS, CPU, seed=5, stop_at=7)
    assert part.checkpoint["step"] == 7 and part.metrics["steps"] == 7
    path = tmp_path / "k.pt"
    save_checkpoint(path, part.checkpoint)
    # A fresh model with other initial weights, and another data seed: everything must come from
    # the checkpoint, read as data only.
    fresh = _model(1)
    resumed = fit(fresh, data, SETTINGS, CPU, seed=99, start=load_checkpoint(path, "cpu"))

    assert resumed.metrics["steps"] == straight.metrics["steps"] == 12
    expected, got = whole.state_dict(), fresh.state_dict()
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.equal(expected[name], got[name]), name
    moments = straight.checkpoint["optimizer"]["state"], resumed.checkpoint["optimizer"]["state"]
    for key in moments[0]:
        assert torch.equal(moments[0][key]["momentum_buffer"], moments[1][key]["momentum_buffer"])
    assert resumed.metrics["accuracy"] == straight.metrics["accuracy"]
    # The learning curve and the TSE travel in the checkpoint: the same as the straight run's.
    assert resumed.metrics["tse"] == straight.metrics["tse"]
    assert resumed.metrics["loss_curve"] == straight.metrics["loss_curve"]
    assert part.metrics["loss_curve"] == straight.metrics["loss_curve"][:7]
    assert torch.equal(straight.checkpoint["data"]["generator"], resumed.checkpoint["data"]["generator"])


def test_periodic_checkpoints_are_handed_over_at_their_steps(data: FitData) -> None:
    seen: list[int] = []
    fit(
        _model(0),
        data,
        SETTINGS,
        CPU,
        seed=5,
        checkpoint_every=5,
        on_checkpoint=lambda c: seen.append(c["step"]),
    )
    assert seen == [5, 10]


def test_divergence_raises_one_error_and_hands_over_no_checkpoint(data: FitData) -> None:
    wild = SETTINGS.model_copy(update={"lr": 1e8, "warmup_steps": 0})
    saved: list[int] = []
    with pytest.raises(TrainingDiverged, match="training diverged: mean loss") as raised:
        fit(
            _model(0),
            data,
            wild,
            CPU,
            seed=5,
            checkpoint_every=4,
            on_checkpoint=lambda c: saved.append(c["step"]),
        )
    assert 1 <= raised.value.step <= 4 and saved == []


def test_a_foreign_or_damaged_checkpoint_is_refused(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="unreadable checkpoint"):
        load_checkpoint(damaged, "cpu")
    other = tmp_path / "other.pt"
    torch.save({"format": 1, "step": 3}, other)
    with pytest.raises(InputError, match="not a checkpoint of this hiernas version"):
        load_checkpoint(other, "cpu")
