"""Executors by name: ``inline`` (the driver's process), ``local`` (worker processes), ``ray``."""

from __future__ import annotations

from evolution.evaluation import Evaluator
from evolution.executors.base import Completion, Executor, Task

__all__ = ["EXECUTORS", "Completion", "Executor", "Task", "make_executor"]

EXECUTORS = ("inline", "local", "ray")


def make_executor(
    kind: str,
    evaluator: Evaluator,
    *,
    workers: int = 1,
    workers_per_gpu: int = 1,
    timeout: float | None = None,
    ray_address: str | None = None,
) -> Executor:
    if kind == "inline":
        from evolution.executors.inline import InlineExecutor

        return InlineExecutor(evaluator)
    if kind == "local":
        from evolution.executors.local import LocalExecutor

        return LocalExecutor(evaluator, workers=workers, workers_per_gpu=workers_per_gpu, timeout=timeout)
    if kind == "ray":
        from evolution.executors.ray import RayExecutor

        return RayExecutor(
            evaluator, workers=workers, workers_per_gpu=workers_per_gpu, timeout=timeout, address=ray_address
        )
    raise ValueError(f"unknown executor {kind!r} (known: {', '.join(EXECUTORS)})")
