"""Evaluators by ``evaluator.kind``: the fitness function a run hands to its executor."""

from __future__ import annotations

from collections.abc import Callable

from evolution.evaluation import Evaluator
from hiernas.config import RunConfig
from hiernas.plugins import PluginEvaluator
from motifs.size import check_size, densest


def _train(config: RunConfig) -> Evaluator:
    from hiernas.evaluators.train import TrainEvaluator

    return TrainEvaluator.from_config(config)


def _table(config: RunConfig) -> Evaluator:
    from hiernas.evaluators.table import TableEvaluator

    return TableEvaluator.from_config(config.evaluator)  # type: ignore[arg-type]


EVALUATORS: dict[str, Callable[[RunConfig], Evaluator]] = {"train": _train, "table": _table}


def build_evaluator(config: RunConfig) -> Evaluator:
    """The evaluator, checked before any search starts: a missing data set, table or column is
    reported once, as bad input, rather than as a failure of every genotype."""
    space = config.space.to_space()
    # A space whose largest genotype would exhaust memory is refused before the first proposal.
    check_size(densest(space))
    evaluator = EVALUATORS[config.evaluator.kind](config)
    evaluator.validate(space)  # type: ignore[attr-defined]
    return PluginEvaluator(evaluator, config.plugins) if config.plugins else evaluator
