"""The user's own evaluator: ``evaluator: {kind: python, target: "package.module:function"}``.

The function is imported from the user's environment (``importlib.import_module``) when a run
starts, by the name the user's configuration gives; nothing in a run directory is ever imported. It
is called as ``function(genotype, context)``, plus ``module=`` (the genotype's network built in the
search template, ``hiernas.network.build_network``, fresh for each call) when its signature has a
parameter named ``module``. ``context`` (``PluginContext``) holds the seed, the device, the worker,
the step budget and ``settings``.

Successive halving (``search.fidelity``) needs an evaluator that can train for a given number of
steps and continue from a checkpoint. A function declares that it can with an attribute,
``function.supports_fidelity = True``; it is then called with ``context.steps`` set to the rung's
steps, ``context.resume_from`` (a checkpoint to continue from, or None: from scratch) and
``context.save_to`` (where to write the checkpoint reached, atomically, or None at the top rung).

It returns a dict of metrics holding at least the first declared objective (``objectives`` in the
configuration, default ``accuracy``, a fraction to maximise). The result's fitness is that value,
negated when the objective is minimised (the search always maximises fitness). Every metric is
recorded; ``params`` and ``flops`` of the network in the template are added when the function does
not report them. A raised exception, a missing objective or a non-finite value is a failed result
with the reason: one bad architecture (or bug) never stops the search.

Worker processes receive the target's name and import the function themselves.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from evolution.evaluation import EvalContext, EvalResult
from evolution.objectives import Objective
from hiernas.config import NetworkConfig
from hiernas.errors import InputError
from hiernas.evaluators.size import network_size
from motifs.genotype import Genotype
from motifs.space import Space

if TYPE_CHECKING:
    from hiernas.config import PythonEvaluatorConfig


@dataclass(frozen=True, slots=True)
class PluginContext:
    """What a user's evaluator is told about one evaluation."""

    seed: int
    device: str
    worker: str
    steps: int | None
    settings: Mapping[str, Any] = field(default_factory=dict)
    # Successive halving only (module docstring).
    resume_from: str | None = None
    save_to: str | None = None


def resolve_target(target: str) -> Callable[..., Any]:
    """The function ``package.module:function`` names; ``InputError`` (one line) when it cannot be
    imported or is not callable."""
    module_name, sep, name = target.partition(":")
    if not sep or not module_name or not name:
        raise InputError(f"evaluator.target: expected 'package.module:function', got {target!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise InputError(f"evaluator.target: cannot import {module_name!r} ({error})") from None
    function = getattr(module, name, None)
    if not callable(function):
        raise InputError(f"evaluator.target: module {module_name!r} has no function {name!r}")
    return function


class PythonEvaluator:
    """``(genotype, context) -> EvalResult`` by calling the user's function (module docstring)."""

    def __init__(
        self,
        target: str,
        objectives: tuple[Objective, ...],
        *,
        network: NetworkConfig | None = None,
        steps: int | None = None,
        settings: Mapping[str, Any] | None = None,
        input_shape: tuple[int, int, int] = (3, 32, 32),
        classes: int = 10,
    ) -> None:
        if not objectives:
            raise InputError("evaluator.objectives: declare at least one objective")
        self.target, self.objectives = target, tuple(objectives)
        self.network = network or NetworkConfig()
        self.steps, self.settings = steps, dict(settings or {})
        self.input_shape, self.classes = tuple(input_shape), classes
        self._function: Callable[..., Any] | None = None

    @classmethod
    def from_config(cls, config: PythonEvaluatorConfig, network: NetworkConfig) -> PythonEvaluator:
        objectives = tuple(Objective(o.name, o.direction, o.unit) for o in config.objectives)
        return cls(
            config.target,
            objectives,
            network=network,
            steps=config.steps,
            settings=config.settings,
            input_shape=config.input_shape,
            classes=config.classes,
        )

    def __repr__(self) -> str:
        return f"PythonEvaluator({self.target!r})"

    def __getstate__(self) -> dict[str, Any]:
        # The function travels by name: each process imports it from its own environment.
        return {key: value for key, value in self.__dict__.items() if key != "_function"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._function = None

    @property
    def supports_fidelity(self) -> bool:
        """Whether the function honours the steps and checkpoints of successive halving."""
        return getattr(self._resolve(), "supports_fidelity", False) is True

    def validate(self, space: Space | None = None) -> None:
        """Import the target before a run starts: a wrong name is one line of bad input (exit 2)."""
        self._resolve()

    def __call__(self, genotype: Genotype, context: EvalContext) -> EvalResult:
        function = self._resolve()
        plugin_context = PluginContext(
            context.seed,
            context.device,
            context.worker,
            self.steps if context.steps is None else context.steps,
            self.settings,
            context.resume_from,
            context.save_to,
        )
        first = self.objectives[0]
        try:
            extra: dict[str, Any] = {}
            if "module" in inspect.signature(function).parameters:
                extra["module"] = self._module(genotype, context.seed)
            metrics = function(genotype, plugin_context, **extra)
        except Exception as error:  # the user's code: any fault is this genotype's failed result
            return EvalResult("failed", None, {}, f"{type(error).__name__}: {error}")
        if not isinstance(metrics, Mapping):
            return EvalResult(
                "failed", None, {}, f"{self.target} returned {type(metrics).__name__}, not a dict"
            )
        metrics = {str(key): value for key, value in metrics.items()}
        value = metrics.get(first.name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            reason = (
                f"{self.target} returned no finite number for the objective {first.name!r} (got {value!r})"
            )
            return EvalResult("failed", None, metrics, reason)
        if "params" not in metrics or "flops" not in metrics:
            params, flops = network_size(genotype, self.network, self.input_shape, self.classes)  # type: ignore[arg-type]
            metrics.setdefault("params", params)
            metrics.setdefault("flops", flops)
        fitness = float(value) if first.direction == "max" else -float(value)
        return EvalResult("done", fitness, metrics)

    def _resolve(self) -> Callable[..., Any]:
        if self._function is None:
            self._function = resolve_target(self.target)
        return self._function

    def _module(self, genotype: Genotype, seed: int) -> Any:
        """A fresh network for the function to train, initialised from the evaluation's seed."""
        import torch

        from hiernas.network import build_network

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return build_network(genotype, self.network, self.input_shape[0], self.classes)
