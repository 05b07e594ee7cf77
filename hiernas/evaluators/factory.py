"""Evaluators by ``evaluator.kind``: the fitness function a run hands to its executor."""

from __future__ import annotations

from collections.abc import Callable

from evolution.evaluation import Evaluator
from hiernas.config import RunConfig


def _train(config: RunConfig) -> Evaluator:
    from hiernas.evaluators.train import TrainEvaluator

    return TrainEvaluator.from_config(config)


def _table(config: RunConfig) -> Evaluator:
    from hiernas.evaluators.table import TableEvaluator

    return TableEvaluator.from_config(config.evaluator, config.network)  # type: ignore[arg-type]


def _python(config: RunConfig) -> Evaluator:
    from hiernas.evaluators.python import PythonEvaluator

    return PythonEvaluator.from_config(config.evaluator, config.network)  # type: ignore[arg-type]


EVALUATORS: dict[str, Callable[[RunConfig], Evaluator]] = {
    "train": _train,
    "table": _table,
    "python": _python,
}


def build_evaluator(config: RunConfig) -> Evaluator:
    """The evaluator, checked before any search starts: a missing data set, table or column is
    reported once, as bad input, rather than as a failure of every genotype."""
    evaluator = EVALUATORS[config.evaluator.kind](config)
    evaluator.validate(config.space.to_space())  # type: ignore[attr-defined]
    return evaluator
