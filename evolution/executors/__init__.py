"""Executors by name: ``inline`` (the driver's process), ``local`` (worker processes), ``ray``.

Each is one factory registered in ``EXECUTORS``; it imports its executor when called, so reading
the names (the config's ``executor.kind``) loads no worker code.
"""

from __future__ import annotations

from collections.abc import Callable

from evolution.evaluation import Evaluator
from evolution.executors.base import Completion, Executor, Task
from evolution.registry import Registry

__all__ = ["EXECUTORS", "Completion", "Executor", "Task", "make_executor"]

# Each factory takes the evaluator and the keywords of make_executor.
EXECUTORS: Registry[Callable[..., Executor]] = Registry("executor")


@EXECUTORS.register("inline")
def _inline(evaluator: Evaluator, **_: object) -> Executor:
    from evolution.executors.inline import InlineExecutor

    return InlineExecutor(evaluator)


@EXECUTORS.register("local")
def _local(
    evaluator: Evaluator, *, workers: int, workers_per_gpu: int, timeout: float | None, **_: object
) -> Executor:
    from evolution.executors.local import LocalExecutor

    return LocalExecutor(evaluator, workers=workers, workers_per_gpu=workers_per_gpu, timeout=timeout)


@EXECUTORS.register("ray")
def _ray(
    evaluator: Evaluator,
    *,
    workers: int,
    workers_per_gpu: int,
    timeout: float | None,
    ray_address: str | None,
) -> Executor:
    from evolution.executors.ray import RayExecutor

    return RayExecutor(
        evaluator, workers=workers, workers_per_gpu=workers_per_gpu, timeout=timeout, address=ray_address
    )


def make_executor(
    kind: str,
    evaluator: Evaluator,
    *,
    workers: int = 1,
    workers_per_gpu: int = 1,
    timeout: float | None = None,
    ray_address: str | None = None,
) -> Executor:
    return EXECUTORS.get(kind)(
        evaluator, workers=workers, workers_per_gpu=workers_per_gpu, timeout=timeout, ray_address=ray_address
    )
