"""The training evaluator on the digits: a few dozen steps, so each evaluation takes about a second."""

from __future__ import annotations

import math
import pickle
import random

import pytest
import torch

from evolution.evaluation import EvalContext
from hiernas import training
from hiernas.config import config_from_dict
from hiernas.errors import InputError
from hiernas.evaluators.train import TrainEvaluator
from motifs import PRESETS, Genotype, sample

SMALL = {"steps": 40, "batch_size": 32, "lr": 0.1, "lr_drop_at": [30], "eval_batch_size": 128}


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tiny networks on a shared 2-core machine: two OpenMP threads spin-waiting on each other were
    # measured 50x slower than one when another process held a core; results are also only
    # bit-for-bit repeatable for a fixed thread count.
    monkeypatch.setenv(training.THREADS_ENV, "1")


def _evaluator(data: dict[str, object] | None = None, **evaluator: object) -> TrainEvaluator:
    config = config_from_dict(
        {
            "network": {"channels": 8},
            "data": {"dataset": "digits", **(data or {})},
            "evaluator": {**SMALL, **evaluator},
        }
    )
    return TrainEvaluator.from_config(config)


@pytest.fixture(scope="module")
def evaluator() -> TrainEvaluator:
    return _evaluator()


@pytest.fixture(scope="module")
def genotype() -> Genotype:
    # 10 mutations: a few live convolutions, about 15 ms per step at batch 32 on one core.
    return sample(PRESETS["paper"], random.Random(0), 10)


def test_trains_and_reports_fitness_and_metrics(genotype: Genotype) -> None:
    # Without augmentation: a 1-pixel shift of an 8×8 digit makes 40 steps learn visibly slower.
    result = _evaluator({"augment": False})(genotype, EvalContext(seed=1))
    assert result.ok, result.error
    assert result.fitness is not None and 0 <= result.fitness <= 1
    m = result.metrics
    assert m["steps"] == 40 and m["validation_images"] == 288
    assert m["params"] > 0 and m["flops"] > 0
    assert math.isfinite(m["train_loss"]) and m["train_loss"] > 0
    assert m["train_images_per_s"] > 0 and m["seconds"] >= m["train_seconds"] > 0
    assert m["peak_memory_mb"] > 0 and m["device"].startswith("cpu")
    # It learned something: below the loss of a uniform guess over 10 classes.
    assert m["train_loss"] < math.log(10)


def test_same_seed_same_result_and_no_global_state_changed(
    evaluator: TrainEvaluator, genotype: Genotype
) -> None:
    rng_state, threads = torch.get_rng_state(), torch.get_num_threads()
    first = evaluator(genotype, EvalContext(seed=7))
    second = evaluator(genotype, EvalContext(seed=7))
    assert first.fitness == second.fitness
    assert first.metrics["train_loss"] == second.metrics["train_loss"]
    assert torch.equal(rng_state, torch.get_rng_state()) and torch.get_num_threads() == threads
    other = evaluator(genotype, EvalContext(seed=8))
    assert other.metrics["train_loss"] != first.metrics["train_loss"]


def test_divergence_is_a_failed_result(genotype: Genotype) -> None:
    result = _evaluator(lr=1e6)(genotype, EvalContext(seed=1))
    assert not result.ok
    assert result.error is not None and "diverged" in result.error
    assert result.metrics["steps"] <= training.CHECK_EVERY


def test_cuda_out_of_memory_is_a_failed_result(
    evaluator: TrainEvaluator, genotype: Genotype, monkeypatch: pytest.MonkeyPatch
) -> None:
    def out_of_memory(*args: object, **kwargs: object) -> None:
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr("hiernas.fit.train_step", out_of_memory)
    result = evaluator(genotype, EvalContext(seed=1))
    assert not result.ok and result.error is not None
    assert result.error.startswith("CUDA out of memory") and "2.00 GiB" in result.error


def test_pickles_without_its_data(evaluator: TrainEvaluator, genotype: Genotype) -> None:
    expected = evaluator(genotype, EvalContext(seed=3))
    payload = pickle.dumps(evaluator)
    assert len(payload) < 10_000, "the loaded data must stay behind"
    copy = pickle.loads(payload)
    assert copy(genotype, EvalContext(seed=3)).fitness == expected.fitness


def test_thread_count_from_the_environment_is_restored(
    genotype: Genotype, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = []
    real_step = training.train_step

    def spy(*args: object, **kwargs: object) -> torch.Tensor:
        seen.append(torch.get_num_threads())
        return real_step(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("hiernas.fit.train_step", spy)
    monkeypatch.setenv(training.THREADS_ENV, "1")
    before = torch.get_num_threads()
    assert _evaluator(steps=2)(genotype, EvalContext(seed=1)).ok
    assert set(seen) == {1} and torch.get_num_threads() == before


def test_validate_reports_bad_data_settings_up_front() -> None:
    missing = config_from_dict({"data": {"dataset": "folder", "path": "/nonexistent/set"}})
    with pytest.raises(InputError, match="does not exist"):
        TrainEvaluator.from_config(missing).validate()
    with pytest.raises(InputError, match=r"batch_size: 2000 is more than the 1150"):
        _evaluator(batch_size=2000).validate()
    record = _evaluator().data_record()
    assert record["split"]["train"] == 1150 and record["split"]["validation"] == 288
    assert len(record["split"]["sha256"]) == 64 and record["dataset"]["name"] == "digits"


def test_learning_rate_schedules() -> None:
    from hiernas.config import TrainingSettings
    from hiernas.schedule import lr_factor

    paper = TrainingSettings()  # 5000 steps, lr x 0.1 after 4000
    assert lr_factor(0, paper) == 1 and lr_factor(3999, paper) == 1
    assert lr_factor(4000, paper) == pytest.approx(0.1)
    two = TrainingSettings(steps=100, lr_drop_at=(50, 80), lr_drop_factor=0.5)
    assert [lr_factor(s, two) for s in (49, 50, 79, 80)] == [1, 0.5, 0.5, 0.25]
    cosine = TrainingSettings(steps=100, schedule="cosine", warmup_steps=10)
    assert [lr_factor(s, cosine) for s in (0, 4, 9)] == [0.1, 0.5, 1.0]
    assert lr_factor(10, cosine) == 1 and lr_factor(55, cosine) == pytest.approx(0.5)
    assert lr_factor(99, cosine) < 0.01
    assert lr_factor(7, TrainingSettings(schedule="constant")) == 1
