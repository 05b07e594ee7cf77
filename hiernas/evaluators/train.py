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
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import torch

from evolution.evaluation import EvalContext, EvalResult
from evolution.objectives import ACCURACY, Objective
from hiernas.config import DataConfig, NetworkConfig, RunConfig, TrainEvaluatorConfig, TrainingSettings
from hiernas.data.dataset import Dataset
from hiernas.data.device import DeviceImages, Normalise
from hiernas.data.split import Split, split_train_validation
from hiernas.errors import InputError
from hiernas.fit import FitData, TrainingDiverged, fit
from hiernas.training import Placement, process_settings, resolve_placement
from motifs import Genotype, Space


@dataclass(frozen=True, eq=False)
class _OnDevice:
    """The training and validation images of one device, and the normalisation fitted on the former."""

    train: DeviceImages
    validation: DeviceImages
    normalise: Normalise


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
        common = {
            "params": params,
            "flops": flops,
            "device": placement.describe(),
            "validation_images": len(data.validation),
        }
        fit_data = FitData(
            data.train,
            data.normalise,
            augment=self.data.augment,
            flip=dataset.flip if self.data.flip is None else self.data.flip,
            held_out=data.validation,
        )
        try:
            fitted = fit(model, fit_data, self.training, placement, seed=data_seed)
        except TrainingDiverged as error:
            return EvalResult.failed(
                str(error), steps=error.step, seconds=time.perf_counter() - started, **common
            )
        metrics = fitted.metrics
        fitness = metrics.pop("accuracy")
        return EvalResult.done(fitness, **metrics, seconds=time.perf_counter() - started, **common)

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
            self._on_device[key] = _OnDevice(
                train=DeviceImages.from_arrays(train_x, dataset.train_y[split.train], placement.device),
                validation=DeviceImages.from_arrays(
                    dataset.train_x[split.validation], dataset.train_y[split.validation], placement.device
                ),
                normalise=Normalise(train_x, placement.device, placement.channels_last),
            )
        return self._on_device[key]
