"""Evaluators by ``evaluator.kind``: the fitness function a run hands to its executor.

A kind is its settings model in ``hiernas.config`` (registered in ``EVALUATOR_SETTINGS``, which
the config validates against) and one builder here, registered under the same name::

    @EVALUATORS.register("table")
    def _table(config: RunConfig) -> Prepared: ...

A builder checks what it can before any search starts (a missing data set, table or column is
reported once, as bad input, rather than as a failure of every genotype) and imports its evaluator
when called, so naming the kinds loads no torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evolution.evaluation import Evaluator
from evolution.registry import Registry
from hiernas.plugins import PluginEvaluator
from motifs.size import check_size, densest

if TYPE_CHECKING:
    from hiernas.config import RunConfig


@dataclass(frozen=True)
class Prepared:
    """An evaluator ready for a search."""

    evaluator: Evaluator
    # What the run directory records (data.json) about the data the fitness is measured on.
    data_record: dict[str, Any] | None = None


EVALUATORS: Registry[Callable[[RunConfig], Prepared]] = Registry("evaluator kind")


@EVALUATORS.register("train")
def _train(config: RunConfig) -> Prepared:
    from hiernas.evaluators.train import TrainEvaluator

    evaluator = TrainEvaluator.from_config(config)
    evaluator.validate()
    return Prepared(evaluator, evaluator.data_record())


@EVALUATORS.register("table")
def _table(config: RunConfig) -> Prepared:
    from hiernas.evaluators.table import TableEvaluator

    evaluator = TableEvaluator.from_config(config.evaluator, config.network)  # type: ignore[arg-type]
    evaluator.validate(config.space.to_space())
    return Prepared(evaluator)


@EVALUATORS.register("python")
def _python(config: RunConfig) -> Prepared:
    from hiernas.evaluators.python import PythonEvaluator

    evaluator = PythonEvaluator.from_config(config.evaluator, config.network)  # type: ignore[arg-type]
    evaluator.validate(config.space.to_space())
    return Prepared(evaluator)


def prepare_evaluator(config: RunConfig) -> Prepared:
    """The evaluator, checked before any search starts: a missing data set, table or column is
    reported once, as bad input, rather than as a failure of every genotype."""
    # A space whose largest genotype would exhaust memory is refused before the first proposal.
    check_size(densest(config.space.to_space()))
    prepared = EVALUATORS.get(config.evaluator.kind)(config)
    from hiernas.evaluators.objectives import for_search

    prepared = Prepared(for_search(config, prepared.evaluator, prepared.data_record), prepared.data_record)
    if config.plugins:
        return Prepared(PluginEvaluator(prepared.evaluator, config.plugins), prepared.data_record)
    return prepared


def build_evaluator(config: RunConfig) -> Evaluator:
    return prepare_evaluator(config).evaluator
