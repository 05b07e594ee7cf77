"""``hiernas evolve``: run (or resume) a search and keep its run directory up to date."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from evolution.driver import Driver
from evolution.executors import make_executor
from evolution.objectives import OBJECTIVES_KEY
from evolution.run_status import RunStatus
from hiernas.config import ExecutorConfig, RunConfig, load_config
from hiernas.errors import InputError
from hiernas.evaluators.factory import prepare_evaluator
from hiernas.progress import SearchDisplay, status_line
from hiernas.run_dir import open_run, write_best, write_data_record
from hiernas.search import CHECKPOINTS, fidelity_for, strategy_for
from hiernas.warm_start import read_seeds, warm_start_record


def default_run_dir(source: str, config: RunConfig) -> Path:
    stem = Path(source).stem or "run"
    return Path("runs") / f"{stem}-{config.search.strategy}-s{config.seed}-{time.strftime('%Y%m%d-%H%M%S')}"


def run_evolve(
    source: str,
    *,
    run_dir: Path | None,
    overrides: Sequence[str],
    warm_start: Path | None = None,
    top: int | None = None,
) -> None:
    """``warm_start``: an earlier run whose best ``top`` distinct networks seed a new run
    (default: ``hiernas.warm_start.DEFAULT_TOP``, at most the initial population)."""
    config = load_config(source, overrides)
    check_worker_count(config.executor)
    fresh_seeds = read_seeds(warm_start, top, config) if warm_start is not None else None
    fidelity_for(config)  # bad rung values are refused before the evaluator loads its data
    prepared = prepare_evaluator(config)
    evaluator = prepared.evaluator
    fidelity = fidelity_for(config, evaluator)
    run_dir = run_dir or default_run_dir(source, config)
    journal, resumed, lock = open_run(run_dir, config)  # lock: this process is the run's one writer
    try:
        seeds = warm_start_record(journal, resumed, fresh_seeds)
    except InputError:
        journal.close()
        lock.release()
        raise
    journal.write_meta(OBJECTIVES_KEY, [objective.to_dict() for objective in evaluator.objectives])  # type: ignore[attr-defined]
    if prepared.data_record is not None:
        write_data_record(run_dir, prepared.data_record)
    console = Console(stderr=True, soft_wrap=True)
    console.print(
        f"{'resuming' if resumed else 'starting'} {config.search.strategy} search in {run_dir} "
        f"(budget {config.budget}, {config.executor.workers} {config.executor.kind} worker(s))"
    )
    if seeds is not None:
        console.print(
            f"initial population seeded with {len(seeds['seeds'])} network(s) of {seeds['run_dir']}"
        )
    strategy = strategy_for(config, seeds)
    executor = make_executor(
        config.executor.kind,
        evaluator,
        workers=config.executor.workers,
        workers_per_gpu=config.executor.workers_per_gpu,
        timeout=config.executor.timeout,
        ray_address=config.executor.ray_address,
    )
    best_written: list[int | None] = [None]

    def on_progress(status: RunStatus) -> None:
        display.update(status)
        if status.best_proposal is not None and status.best_proposal != best_written[0]:
            write_best(run_dir, journal.proposal(status.best_proposal).genotype)
            best_written[0] = status.best_proposal

    try:
        with SearchDisplay(config.search.strategy, config.budget, console=console) as display:
            driver = Driver(
                strategy,
                executor,
                journal,
                budget=config.budget,
                seed=config.seed,
                dedup=config.search.dedup,
                retry_failed=config.search.retry_failed,
                on_progress=on_progress,
                fidelity=fidelity,
                checkpoints=run_dir / CHECKPOINTS,
            )
            status = driver.run()
    finally:
        journal.close()
        lock.release()
    if status.stopped:
        console.print(f"stopped early: {status.stopped}")
    if fidelity is None:
        console.print(f"{status.finished}/{config.budget} evaluations · {status_line(status)}")
    else:
        console.print(
            f"{status.used:.2f}/{config.budget} full-budget equivalents ({status.steps_spent} training "
            f"steps, {status.finished} rung evaluations) · {status_line(status)}"
        )
    if status.best_fitness is not None:
        console.print(f"best fitness {status.best_fitness:.4f} → {run_dir / 'best.json'}")


def check_worker_count(executor: ExecutorConfig) -> None:
    """Refuse more local workers than this machine holds (each is a process with torch loaded):
    a mistyped worker count must not exhaust the machine before the first result."""
    if executor.kind != "local" or executor.oversubscribe:
        return
    from evolution.executors.local import visible_gpus, worker_limit

    limit, reason = worker_limit(visible_gpus(), executor.workers_per_gpu)
    if executor.workers > limit:
        raise InputError(
            f"executor.workers: {executor.workers} local workers, but this machine holds {limit} "
            f"({reason}); lower it, or --set executor.oversubscribe=true to start them anyway"
        )
