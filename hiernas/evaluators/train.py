"""The training evaluator: the fitness of a genotype is its validation accuracy after a short,
fixed training in the small search template (Liu et al. 2018, section 4.1: 5000 steps of batch 256,
SGD with momentum 0.9, lr 0.1 divided by 10 after 4000 steps, weight decay 3e-4).

Fitness is a fraction in [0, 1] (correct / validation images), not a percentage.

The evaluator is pickled to worker processes and Ray actors, so it carries only its three config
sections; the data set is loaded on the first call in each process and kept there (``__getstate__``
leaves it behind). Everything random is seeded from ``EvalContext.seed`` through explicit
generators, and the global torch RNG is left exactly as found, so on CPU a genotype trained twice
with the same seed gets the same fitness bit for bit.

Training is ``hiernas.fit.fit``, the loop final training uses too. Faults that belong to a genotype
are results, not exceptions: a loss that turns NaN/inf (``TrainingDiverged``) and a CUDA
out-of-memory error both return ``EvalResult.failed`` with the reason, so one bad architecture never
stops a search.

Successive halving (issue 13) hands a rung through the context: train to ``context.steps`` of the
full ``steps`` (whose learning-rate schedule applies at every rung), continue from the checkpoint at
``context.resume_from``, and write the checkpoint reached to ``context.save_to`` (atomically, and
only for a done result). A continuation 0→a→b therefore ends exactly where a straight 0→b run does
(tests/test_rungs.py). A missing, damaged or foreign checkpoint is a failed result naming it. Below
the full step count the fitness is measured on a fixed, stratified subset of the validation images
(``low_rung_validation``): a low rung only has to rank candidates for promotion, and on CIFAR-10 a
10,000-image pass cost more than the 30 training steps it scored.

Metrics of a done result, besides the model's size and timings: ``steps`` (reached),
``start_step`` (0, or where it continued from), ``train_loss``, ``tse`` and ``loss_curve``
(``hiernas.fit``), ``validation_images``, ``validation_full`` and ``accuracy_curve``: one
``[steps, accuracy, validation_images]`` per rung this candidate's checkpoints went through, this one
last.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np
import torch

from evolution.evaluation import EvalContext, EvalResult
from evolution.objectives import ACCURACY, Objective
from hiernas.config import DataConfig, NetworkConfig, RunConfig, TrainEvaluatorConfig, TrainingSettings
from hiernas.data.dataset import Dataset
from hiernas.data.device import DeviceImages, Normalise
from hiernas.data.split import Split, split_train_validation, validation_subset
from hiernas.errors import InputError
from hiernas.fit import Checkpoint, FitData, TrainingDiverged, fit, load_checkpoint, save_checkpoint
from hiernas.training import Placement, process_settings, resolve_placement
from motifs import Genotype, Space
from motifs.canonical import canonical_key

# The evaluator's own entry in a checkpoint: which network and schedule it belongs to, and the
# validation accuracy at each rung so far.
_SEARCH = "search"


@dataclass(frozen=True, eq=False)
class _OnDevice:
    """The training and validation images of one device, and the normalisation fitted on the former.
    ``low_rung``: the validation subset of rungs below the full step count (``validation`` itself
    when the subset would be all of it)."""

    train: DeviceImages
    validation: DeviceImages
    normalise: Normalise
    low_rung: DeviceImages


def derived_seeds(seed: int) -> tuple[int, int]:
    """Independent seeds for weight initialisation and for the data order/augmentation, so that
    changing one stream (say, the batch size) does not shift the other."""
    init, data = np.random.SeedSequence(seed).generate_state(2)
    return int(init), int(data)


class TrainEvaluator:
    """``(genotype, context) -> EvalResult``: train in the search template, score on validation."""

    objectives: tuple[Objective, ...] = (ACCURACY,)
    supports_fidelity = True  # honours EvalContext.steps, resume_from and save_to (search.fidelity)

    def __init__(
        self,
        data: DataConfig,
        network: NetworkConfig,
        training: TrainingSettings,
        *,
        dataset: Dataset | None = None,
    ) -> None:
        """``dataset``: an already loaded set to use instead of loading ``data`` (benchmarks on
        synthetic images). It stays in this process: a pickled copy loads ``data`` again."""
        self.data = data
        self.network = network
        self.training = training
        self._dataset: Dataset | None = dataset
        self._split: Split | None = None
        self._on_device: dict[str, _OnDevice] = {}

    @classmethod
    def from_config(cls, config: RunConfig) -> Self:
        if not isinstance(config.evaluator, TrainEvaluatorConfig):
            raise InputError(f"evaluator.kind: expected 'train', got {config.evaluator.kind!r}")
        return cls(config.data, config.network, config.evaluator)

    def __repr__(self) -> str:
        return (
            f"TrainEvaluator(data={self.data.dataset!r}, steps={self.training.steps}, "
            f"batch_size={self.training.batch_size})"
        )

    def __getstate__(self) -> dict[str, Any]:
        # Only the settings travel; each process loads (from the cache) and places its own data.
        return {"data": self.data, "network": self.network, "training": self.training}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.data, self.network, self.training = state["data"], state["network"], state["training"]
        self._dataset, self._split, self._on_device = None, None, {}

    # --- before a search ------------------------------------------------------------------------

    def validate(self, space: Space | None = None) -> None:
        """Load the data and check the split, batch size and device once, before any search starts,
        so that a missing data set is one line of bad input rather than a failure per genotype.
        Loading here also fills the cache for the worker processes. ``space`` is not checked: any
        genotype can be trained."""
        _, split = self._host_data()
        resolve_placement(self.training)
        if self.training.batch_size > len(split.train):
            raise InputError(
                f"evaluator.batch_size: {self.training.batch_size} is more than the {len(split.train)} "
                "training images left after the validation split"
            )

    def data_record(self) -> dict[str, Any]:
        """What a run directory should record about the data: the set, its settings and the split
        (sizes, seed and a checksum of the index lists)."""
        dataset, split = self._host_data()
        return {"dataset": dataset.describe(), "split": split.record(), "config": self.data.model_dump()}

    # --- one evaluation -------------------------------------------------------------------------

    def __call__(self, genotype: Genotype, context: EvalContext) -> EvalResult:
        started = time.perf_counter()
        try:
            placement = resolve_placement(self.training, context.device)
        except InputError as error:
            return EvalResult.failed(str(error))
        failure: str | None = None
        with process_settings(placement):
            try:
                return self._train(genotype, context, placement, started)
            except torch.cuda.OutOfMemoryError as error:
                failure = "CUDA out of memory: " + " ".join(str(error).split())[:300]
        # Outside the except block, so the traceback (and the tensors its frames hold) is gone.
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return EvalResult.failed(failure, seconds=time.perf_counter() - started, device=str(placement.device))

    def _train(
        self, genotype: Genotype, context: EvalContext, placement: Placement, started: float
    ) -> EvalResult:
        from hiernas.network import build_network
        from hiernas.network_size import count_parameters, flops_per_image

        full = self.training.steps
        target = full if context.steps is None else context.steps
        if not 1 <= target <= full:
            return EvalResult.failed(f"steps: {target} is not a rung of this evaluator (1..{full} steps)")
        dataset, _ = self._host_data()
        data = self._device_data(placement)
        channels, height, width = dataset.image_shape
        init_seed, data_seed = derived_seeds(context.seed)
        # Built on the CPU under a private copy of the global RNG: the caller's stream is untouched
        # and the initial weights depend on the seed only, whichever device trains them.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(init_seed)
            model = build_network(genotype, self.network, channels, dataset.num_classes)
            params = count_parameters(model)
            flops = flops_per_image(model, (channels, height, width))
        model = model.to(placement.device, memory_format=placement.memory_format)
        full_validation = target == full
        held_out = data.validation if full_validation else data.low_rung
        common = {
            "params": params,
            "flops": flops,
            "device": placement.describe(),
            "validation_images": len(held_out),
            "validation_full": len(held_out) == len(data.validation),
        }
        key = canonical_key(genotype)
        start: Checkpoint | None = None
        if context.resume_from is not None:
            try:
                start = self._resume(Path(context.resume_from), key, target, model, placement)
            except InputError as error:
                return EvalResult.failed(str(error), seconds=time.perf_counter() - started, **common)
        fit_data = FitData(
            data.train,
            data.normalise,
            augment=self.data.augment,
            flip=dataset.flip if self.data.flip is None else self.data.flip,
            held_out=held_out,
        )
        try:
            fitted = fit(
                model, fit_data, self.training, placement, seed=data_seed, start=start, stop_at=target
            )
        except TrainingDiverged as error:
            return EvalResult.failed(
                str(error), steps=error.step, seconds=time.perf_counter() - started, **common
            )
        metrics = fitted.metrics
        fitness = metrics.pop("accuracy")
        # A checkpoint already at this rung (a rung run again after a kill) is not a rung before it.
        earlier = [] if start is None else [r for r in start[_SEARCH]["accuracy_curve"] if r[0] < target]
        rungs = [*earlier, [metrics["steps"], fitness, len(held_out)]]
        metrics["start_step"] = 0 if start is None else int(start["step"])
        metrics["accuracy_curve"] = rungs
        if context.save_to is not None:
            checkpoint = {**fitted.checkpoint, _SEARCH: {"key": key, "steps": full, "accuracy_curve": rungs}}
            try:
                save_checkpoint(Path(context.save_to), checkpoint)
            except OSError as error:
                return EvalResult.failed(
                    f"{context.save_to}: cannot write the checkpoint ({error.strerror or type(error).__name__})",
                    **metrics,
                    seconds=time.perf_counter() - started,
                    **common,
                )
        return EvalResult.done(fitness, **metrics, seconds=time.perf_counter() - started, **common)

    def _resume(
        self, path: Path, key: str, target: int, model: torch.nn.Module, placement: Placement
    ) -> Checkpoint:
        """The checkpoint at ``path``, checked to belong to this network and schedule and to lie
        before ``target``; ``InputError`` naming the file otherwise."""
        if not path.is_file():
            raise InputError(f"{path}: no checkpoint to continue from")
        start = load_checkpoint(path, placement.device)
        search = start.get(_SEARCH)
        if not isinstance(search, dict) or search.get("key") != key:
            raise InputError(f"{path}: the checkpoint is not of this network")
        if search.get("steps") != self.training.steps:
            raise InputError(
                f"{path}: the checkpoint is of a {search.get('steps')}-step training, "
                f"not of this evaluator's {self.training.steps}"
            )
        if not 0 <= int(start["step"]) <= target:
            raise InputError(f"{path}: the checkpoint is at step {start['step']}, past the rung's {target}")
        try:
            model.load_state_dict(start["model"])
        except RuntimeError as error:  # other network settings (channels, cells per stage)
            raise InputError(
                f"{path}: the checkpoint's weights do not fit this network ({str(error).splitlines()[0]})"
            ) from None
        return start

    # --- data, once per process ------------------------------------------------------------------

    def _host_data(self) -> tuple[Dataset, Split]:
        if self._dataset is None:
            from hiernas.data.load import load_dataset

            self._dataset = load_dataset(self.data)
        if self._split is None:
            labels = self._dataset.train_y
            self._split = split_train_validation(labels, self.data.validation, self.data.split_seed)
        return self._dataset, self._split

    def _device_data(self, placement: Placement) -> _OnDevice:
        key = str(placement.device)
        if key not in self._on_device:
            dataset, split = self._host_data()
            train_x = dataset.train_x[split.train]
            validation = DeviceImages.from_arrays(
                dataset.train_x[split.validation], dataset.train_y[split.validation], placement.device
            )
            low_rung = validation
            count = getattr(self.training, "low_rung_validation", None)  # TrainEvaluatorConfig only
            if count is not None and count < len(split.validation):
                # Seeded by the split's seed: every candidate of every run with these data settings
                # is ranked on the same images.
                subset = validation_subset(split, dataset.train_y, count, self.data.split_seed)
                low_rung = DeviceImages.from_arrays(
                    dataset.train_x[subset], dataset.train_y[subset], placement.device
                )
            self._on_device[key] = _OnDevice(
                train=DeviceImages.from_arrays(train_x, dataset.train_y[split.train], placement.device),
                validation=validation,
                normalise=Normalise(train_x, placement.device, placement.channels_last),
                low_rung=low_rung,
            )
        return self._on_device[key]
