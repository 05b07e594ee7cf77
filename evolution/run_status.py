"""A search's running tally: what the progress display and ``hiernas evolve``'s summary show, kept
by the driver (``evolution.driver``) after every event."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from evolution.evaluation import EvalResult


@dataclass
class RunStatus:
    """What a progress display shows; updated after every event."""

    budget: int
    done: int = 0
    failed: int = 0
    cached: int = 0
    lost: int = 0
    in_flight: int = 0
    best_fitness: float | None = None
    best_proposal: int | None = None
    started: float = field(default_factory=time.time)
    finished_this_session: int = 0
    stopped: str | None = None  # why the run ended before its budget, if it did
    # Successive halving: the full budget's steps, and the training steps of finished evaluations.
    full_steps: int | None = None
    steps_spent: int = 0
    best_rung: int = 0

    @property
    def finished(self) -> int:
        """Finished evaluations (with successive halving: rung evaluations)."""
        return self.done + self.failed

    @property
    def used(self) -> float:
        """What the budget counts: finished evaluations, or full-budget equivalents (steps spent
        over the full steps) with successive halving."""
        return self.finished if self.full_steps is None else self.steps_spent / self.full_steps

    @property
    def per_minute(self) -> float:
        minutes = (time.time() - self.started) / 60
        return self.finished_this_session / minutes if minutes > 0 else 0.0

    def track_best(self, proposal_id: int, result: EvalResult, rung: int = 0) -> None:
        """The best so far: the highest rung first, then the fittest there (``Journal.top``)."""
        if result.ok and (
            self.best_fitness is None
            or rung > self.best_rung
            or (rung == self.best_rung and result.fitness > self.best_fitness)  # type: ignore[operator]
        ):
            self.best_fitness, self.best_proposal, self.best_rung = result.fitness, proposal_id, rung
