"""What every executor does: run evaluation tasks on workers and hand back what finished."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Protocol

from evolution.evaluation import EvalContext, EvalResult, Evaluator
from motifs import Genotype


@dataclass(frozen=True, slots=True)
class Task:
    """One evaluation attempt. The genotype is plain frozen data: it pickles to about 600 bytes and
    needs no validation on arrival, since the driver built it."""

    evaluation_id: int
    genotype: Genotype
    seed: int
    # Successive halving only; see ``EvalContext``.
    steps: int | None = None
    resume_from: str | None = None
    save_to: str | None = None


@dataclass(frozen=True, slots=True)
class Completion:
    """A task that ended. ``lost``: its worker died or vanished; the driver may run it again."""

    evaluation_id: int
    result: EvalResult
    worker: str
    started: float
    ended: float
    lost: bool = False


class Executor(Protocol):
    """Runs up to ``capacity`` tasks at once."""

    capacity: int

    def submit(self, task: Task) -> str:
        """Start ``task`` on a free worker (the driver never submits more than ``capacity``);
        returns the worker's name."""

    def wait(self, timeout: float | None = None) -> list[Completion]:
        """Block until at least one task ends (or ``timeout`` seconds pass); return those that ended."""

    def close(self) -> None:
        """Stop every worker; tasks still running are abandoned (the journal re-runs them)."""


def run_task(evaluator: Evaluator, task: Task, device: str, worker: str) -> EvalResult:
    """Evaluate one task, turning anything the evaluator raises into a failed result with its
    reason, so that no fault of one genotype stops the search."""
    try:
        context = EvalContext(
            seed=task.seed,
            device=device,
            worker=worker,
            steps=task.steps,
            resume_from=task.resume_from,
            save_to=task.save_to,
        )
        result = evaluator(task.genotype, context)
        if not isinstance(result, EvalResult):
            return EvalResult.failed(f"evaluator returned {type(result).__name__}, not an EvalResult")
        return result
    except Exception as error:  # every fault of an evaluation is data, not a crash of the search
        return EvalResult.failed(describe_exception(error))


def describe_exception(error: BaseException) -> str:
    """One line for the journal: the kind of failure first, then where it happened."""
    text = " ".join(str(error).split()) or "(no message)"
    if "out of memory" in text.lower() and type(error).__name__ == "OutOfMemoryError":
        return f"CUDA out of memory: {text[:300]}"
    frames = traceback.extract_tb(error.__traceback__)
    where = f" (at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})" if frames else ""
    return f"{type(error).__name__}: {text[:500]}{where}"
