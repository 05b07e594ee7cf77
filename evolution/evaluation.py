"""What the search asks of an evaluator, and what it gets back.

``evolution`` never trains anything itself: the application hands it an evaluator, a picklable
callable ``(genotype, context) -> EvalResult``, which executors run in the driver's process, in
worker processes or in Ray actors. Evaluators should report their own faults as failed results; an
exception that escapes one is caught by the executor and recorded the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from motifs import Genotype

Status = Literal["done", "failed"]


@dataclass(frozen=True, slots=True)
class EvalContext:
    """Where and how one evaluation runs."""

    # Derived from the run seed and the proposal, so a re-run of the same proposal trains the same.
    seed: int
    # "cpu" or "cuda": an executor pins a worker to one GPU before torch starts, so "cuda" is enough.
    device: str = "cpu"
    worker: str = "inline"
    # Successive halving (``search.fidelity``): train to ``steps`` (None: the evaluator's full
    # budget), continuing from the checkpoint at ``resume_from`` when given, and write the checkpoint
    # reached to ``save_to`` (atomically) when given, so that a promotion can continue it.
    steps: int | None = None
    resume_from: str | None = None
    save_to: str | None = None


@dataclass(frozen=True, slots=True)
class EvalResult:
    """The outcome of one evaluation. ``fitness`` is higher-is-better and finite when done."""

    status: Status
    fitness: float | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None

    def __post_init__(self) -> None:
        if self.status == "done" and (self.fitness is None or not math.isfinite(self.fitness)):
            raise ValueError(f"a done result needs a finite fitness, got {self.fitness!r}")
        if self.status == "failed" and not self.error:
            raise ValueError("a failed result needs an error text")

    @classmethod
    def done(cls, fitness: float, **metrics: Any) -> EvalResult:
        """A finished evaluation; a non-finite fitness becomes a failed result instead."""
        if not math.isfinite(fitness):
            return cls.failed(f"fitness is not finite ({fitness})", **metrics)
        return cls("done", float(fitness), metrics)

    @classmethod
    def failed(cls, error: str, **metrics: Any) -> EvalResult:
        return cls("failed", None, metrics, error)

    @property
    def ok(self) -> bool:
        return self.status == "done"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "fitness": self.fitness,
            "metrics": dict(self.metrics),
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvalResult:
        return cls(data["status"], data.get("fitness"), dict(data.get("metrics") or {}), data.get("error"))


class Evaluator(Protocol):
    """A picklable callable that scores one genotype. Heavy state (data sets) should be loaded
    lazily on the first call, so that pickling the evaluator to a worker stays cheap."""

    def __call__(self, genotype: Genotype, context: EvalContext) -> EvalResult: ...
