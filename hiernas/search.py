"""A configuration's search, without the command line around it: its strategy, and a whole run in
this process (what the strategy benchmarks time, run for run as ``hiernas evolve`` would)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evolution.driver import Driver, RunStatus
from evolution.evaluation import Evaluator
from evolution.executors.inline import InlineExecutor
from evolution.journal import FILENAME, Journal
from evolution.objectives import OBJECTIVES_KEY
from evolution.registry import make_strategy
from evolution.strategy import Strategy, Told
from hiernas.config import RunConfig
from hiernas.warm_start import seeded


def strategy_for(config: RunConfig, warm_start: dict[str, Any] | None = None) -> Strategy:
    """The strategy ``config.search`` names, over the configured space and seed; with a
    ``warm_start`` record (``hiernas.warm_start``), proposing its seeds first."""
    strategy = make_strategy(
        config.search.strategy,
        config.space.to_space(),
        config.seed,
        {**config.search.model_dump(), "init_mutations": config.space.init_mutations},
    )
    return strategy if warm_start is None else seeded(strategy, warm_start)


def run_inline(config: RunConfig, evaluator: Evaluator, run_dir: Path) -> tuple[RunStatus, list[Told]]:
    """A fresh run of ``config`` in ``run_dir`` with the inline executor: its final status and its
    history (every result in the order the strategy was told)."""
    journal = Journal.create(run_dir / FILENAME)
    try:
        journal.write_meta(OBJECTIVES_KEY, [objective.to_dict() for objective in evaluator.objectives])  # type: ignore[attr-defined]
        status = Driver(
            strategy_for(config),
            InlineExecutor(evaluator),
            journal,
            budget=config.budget,
            seed=config.seed,
            dedup=config.search.dedup,
            retry_failed=config.search.retry_failed,
        ).run()
        return status, journal.history()
    finally:
        journal.close()
