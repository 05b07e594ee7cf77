"""The training evaluator at successive-halving rungs (issue 13): continuing from a checkpoint ends
exactly where a straight run does, checkpoints are written whole or not at all, a bad one is a failed
result, low rungs are scored on a fixed validation subset, and the learning curve and TSE carry
across the continuation."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
import torch

from evolution.evaluation import EvalContext, EvalResult
from hiernas import training
from hiernas.config import config_from_dict
from hiernas.evaluators.train import TrainEvaluator
from hiernas.fit import CURVE_POINTS, load_checkpoint
from motifs import PRESETS, Genotype, sample

# 40 steps with the learning rate dropped after 30: a continuation from 13 crosses the drop.
SMALL = {"steps": 40, "batch_size": 32, "lr": 0.1, "lr_drop_at": [30], "eval_batch_size": 128}
LOW = 13


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # Bit-for-bit repeatable only for a fixed thread count (tests/test_train_evaluator.py).
    monkeypatch.setenv(training.THREADS_ENV, "1")


def _evaluator(**evaluator: object) -> TrainEvaluator:
    config = config_from_dict(
        {"network": {"channels": 8}, "data": {"dataset": "digits"}, "evaluator": {**SMALL, **evaluator}}
    )
    return TrainEvaluator.from_config(config)


@pytest.fixture(scope="module")
def evaluator() -> TrainEvaluator:
    return _evaluator(low_rung_validation=100)


@pytest.fixture(scope="module")
def genotype() -> Genotype:
    return sample(PRESETS["paper"], random.Random(0), 10)


def _run(evaluator: TrainEvaluator, genotype: Genotype, **context: object) -> EvalResult:
    return evaluator(genotype, EvalContext(seed=1, **context))  # type: ignore[arg-type]


def test_continuation_equals_a_straight_run(
    evaluator: TrainEvaluator, genotype: Genotype, tmp_path: Path
) -> None:
    straight = _run(evaluator, genotype, save_to=str(tmp_path / "straight.pt"))
    low = _run(evaluator, genotype, steps=LOW, save_to=str(tmp_path / "low.pt"))
    # Another context seed: everything a continuation depends on comes from the checkpoint.
    top = evaluator(
        genotype,
        EvalContext(
            seed=99, steps=40, resume_from=str(tmp_path / "low.pt"), save_to=str(tmp_path / "top.pt")
        ),
    )
    assert straight.ok and low.ok and top.ok, (straight.error, low.error, top.error)
    assert top.fitness == straight.fitness
    whole, continued = (load_checkpoint(tmp_path / f"{name}.pt", "cpu") for name in ("straight", "top"))
    assert whole["step"] == continued["step"] == 40
    for name, tensor in whole["model"].items():
        assert torch.equal(tensor, continued["model"][name]), name
    for key, state in whole["optimizer"]["state"].items():
        assert torch.equal(state["momentum_buffer"], continued["optimizer"]["state"][key]["momentum_buffer"])
    s, lo, t = straight.metrics, low.metrics, top.metrics
    assert (lo["steps"], lo["start_step"], t["steps"], t["start_step"], s["start_step"]) == (
        LOW,
        0,
        40,
        LOW,
        0,
    )
    # The curve and the TSE carried across the checkpoint: equal to the straight run's, bit for bit.
    # (train_loss is the mean of the last divergence-check window, which starts again at a resume.)
    assert t["tse"] == s["tse"] and t["loss_curve"] == s["loss_curve"]
    assert t["accuracy_curve"] == [[LOW, low.fitness, 100], [40, top.fitness, 288]]
    assert s["accuracy_curve"] == [[40, straight.fitness, 288]]
    # Run again from a checkpoint already at its rung (a kill after the save): the same result.
    again = _run(evaluator, genotype, resume_from=str(tmp_path / "top.pt"))
    assert again.ok and again.fitness == top.fitness and again.metrics["start_step"] == 40
    assert again.metrics["accuracy_curve"] == t["accuracy_curve"] and again.metrics["tse"] == s["tse"]


def test_learning_curve_and_tse_are_recorded(evaluator: TrainEvaluator, genotype: Genotype) -> None:
    low = _run(evaluator, genotype, steps=LOW)
    full = _run(evaluator, genotype)
    for result in (low, full):
        curve = result.metrics["loss_curve"]
        steps = result.metrics["steps"]
        assert 1 <= len(curve) <= CURVE_POINTS + 1 and curve[-1][0] == steps
        assert [point[0] for point in curve] == sorted({point[0] for point in curve})
        assert all(math.isfinite(loss) and loss > 0 for _, loss in curve)
        # The TSE is the sum of every step's loss: the windows' means times their widths.
        widths = [b - a for a, b in zip([0] + [p[0] for p in curve[:-1]], [p[0] for p in curve], strict=True)]
        assert result.metrics["tse"] == pytest.approx(
            sum(w * p[1] for w, p in zip(widths, curve, strict=True))
        )
    # A low rung's curve is the start of the full one (same seed), ending with its partial window.
    assert low.metrics["loss_curve"][:-1] == full.metrics["loss_curve"][: len(low.metrics["loss_curve"]) - 1]
    assert low.metrics["tse"] < full.metrics["tse"]


def test_low_rungs_use_the_fixed_validation_subset(evaluator: TrainEvaluator, genotype: Genotype) -> None:
    low = _run(evaluator, genotype, steps=LOW)
    again = _run(evaluator, sample(PRESETS["paper"], random.Random(1), 10), steps=LOW)
    top = _run(evaluator, genotype)
    assert (low.metrics["validation_images"], low.metrics["validation_full"]) == (100, False)
    assert (again.metrics["validation_images"], again.metrics["validation_full"]) == (100, False)
    assert (top.metrics["validation_images"], top.metrics["validation_full"]) == (288, True)
    for result, images in ((low, 100), (again, 100), (top, 288)):
        assert result.fitness is not None and (result.fitness * images) == pytest.approx(
            round(result.fitness * images)
        )
    # The digits hold out 288 images, fewer than the default subset: every rung then uses them all.
    default = _run(_evaluator(), genotype, steps=LOW)
    assert (default.metrics["validation_images"], default.metrics["validation_full"]) == (288, True)
    unset = _run(_evaluator(low_rung_validation=None), genotype, steps=LOW)
    assert unset.metrics["validation_images"] == 288


def test_a_bad_checkpoint_is_a_failed_result(
    evaluator: TrainEvaluator, genotype: Genotype, tmp_path: Path
) -> None:
    good = tmp_path / "low.pt"
    assert _run(evaluator, genotype, steps=LOW, save_to=str(good)).ok
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    other = sample(PRESETS["paper"], random.Random(5), 10)
    cases = [
        (genotype, {"resume_from": str(tmp_path / "missing.pt")}, "no checkpoint to continue from"),
        (genotype, {"resume_from": str(truncated)}, "unreadable checkpoint"),
        (other, {"resume_from": str(good)}, "not of this network"),
        (genotype, {"steps": 10, "resume_from": str(good)}, "past the rung's 10"),
        (genotype, {"steps": 41}, "not a rung of this evaluator"),
    ]
    for network, context, message in cases:
        result = _run(evaluator, network, save_to=str(tmp_path / "next.pt"), **context)
        assert not result.ok and result.error is not None and message in result.error, result.error
    longer = _evaluator(low_rung_validation=100, steps=50)
    result = _run(longer, genotype, resume_from=str(good))
    assert not result.ok and "of a 40-step training" in (result.error or "")
    assert not (tmp_path / "next.pt").exists()


def test_save_to_is_whole_or_nothing(
    evaluator: TrainEvaluator, genotype: Genotype, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A diverged training writes no checkpoint.
    diverged = _run(_evaluator(lr=1e6), genotype, save_to=str(tmp_path / "diverged.pt"))
    assert not diverged.ok and "diverged" in (diverged.error or "")
    assert list(tmp_path.iterdir()) == []
    # A write that fails part way leaves the previous file as it was and no partial file beside it.
    target = tmp_path / "rung.pt"
    target.write_bytes(b"the previous checkpoint")

    def fail(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("hiernas.run_dir.os.fsync", fail)
    result = _run(evaluator, genotype, steps=LOW, save_to=str(target))
    assert not result.ok and "cannot write the checkpoint (No space left on device)" in (result.error or "")
    assert [p.name for p in tmp_path.iterdir()] == [
        "rung.pt"
    ] and target.read_bytes() == b"the previous checkpoint"
