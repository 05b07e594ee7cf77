"""A configuration's search, without the command line around it: its strategy, and a whole run in
this process (what the strategy benchmarks time, run for run as ``hiernas evolve`` would)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evolution.driver import Driver
from evolution.evaluation import Evaluator
from evolution.executors.inline import InlineExecutor
from evolution.journal import FILENAME, Journal
from evolution.objectives import OBJECTIVES_KEY
from evolution.registry import make_strategy
from evolution.run_status import RunStatus
from evolution.strategy import Strategy, Told
from evolution.successive_halving import Fidelity
from hiernas.config import ConfigError, RunConfig
from hiernas.run_dir import CHECKPOINTS
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


def fidelity_for(config: RunConfig, evaluator: Evaluator | None = None) -> Fidelity | None:
    """The rungs of ``search.fidelity`` over the evaluator's full ``steps``, or None when it is
    unset; ``ConfigError`` (one line, exit 2) for values that make no ladder or an ``evaluator``
    that cannot train for a given number of steps and continue (its ``supports_fidelity``)."""
    settings = config.search.fidelity
    if settings is None:
        return None
    kind = config.evaluator.kind
    full = getattr(config.evaluator, "steps", None)
    if not hasattr(config.evaluator, "steps") or (
        evaluator is not None and getattr(evaluator, "supports_fidelity", False) is not True
    ):
        hint = (
            "set supports_fidelity = True on the function once it honours context.steps, "
            "resume_from and save_to"
            if kind == "python"
            else "remove search.fidelity"
        )
        raise ConfigError(
            f"search.fidelity: the {kind} evaluator cannot train for a given number of steps and "
            f"continue from a checkpoint ({hint})"
        )
    if full is None:
        raise ConfigError(
            f"search.fidelity: the {kind} evaluator has no evaluator.steps, the full budget the "
            f"rungs lead up to (set evaluator.steps)"
        )
    try:
        return Fidelity.ladder(settings.min_steps, settings.eta, full, settings.rank_by)
    except ValueError as error:
        raise ConfigError(f"search.fidelity: {error}") from None


def run_inline(config: RunConfig, evaluator: Evaluator, run_dir: Path) -> tuple[RunStatus, list[Told]]:
    """A fresh run of ``config`` in ``run_dir`` with the inline executor: its final status and its
    history (every result in the order the strategy was told)."""
    fidelity = fidelity_for(config, evaluator)
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
            fidelity=fidelity,
            checkpoints=run_dir / CHECKPOINTS,
        ).run()
        return status, journal.history()
    finally:
        journal.close()
