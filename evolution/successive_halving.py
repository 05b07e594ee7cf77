"""Asynchronous successive halving (ASHA; Li et al. 2020, "A System for Massively Parallel
Hyperparameter Tuning", section 3.2 and Algorithm 2): the rungs and the promotion decision.

A candidate is first trained for ``min_steps`` (rung 0). The rungs are ``min_steps``,
``min_steps·eta``, ``min_steps·eta²``, … while below the evaluator's full ``steps``, then the full
``steps`` itself. Whenever a worker is free, ``Halving.promotion`` names the best candidate of the
highest rung that has one in its top ⌊n/eta⌋ (n: the done results at that rung) and has not been
promoted from it yet; failing that, the driver asks the strategy for a new candidate at rung 0. It
never waits for a rung to fill (Algorithm 2's ``get_job``), so with few results a rung promotes
nothing, and the first promotion out of a rung happens at its eta-th result.

A rung's results are ranked by fitness (``rank_by: "fitness"``, the default), or by the training-loss
score ``evolution.loss_score.final_loss`` of each result's recorded metrics, lower first
(``rank_by: "loss"``): at low rungs that ranks architectures far better than the validation
accuracy of a network still at its initial learning rate (benchmarks/RESULTS.md, "Ranking low
rungs by training loss"). A done result whose metrics give no loss score (an evaluator that records
no ``loss_curve``) ranks after every result that has one: such an evaluator's candidates are then
promoted in the order their results arrived, never ahead of a scored one.

A failed result never promotes. Ties go to the result recorded first. The state is derived entirely
from the journal's evaluation rows (which proposal has a done result at which rung, with its fitness
and metrics, and which proposals were started at which rung), so a resumed run rebuilds it exactly
and keeps no state of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from evolution.loss_score import final_loss

RankBy = Literal["fitness", "loss"]


@dataclass(frozen=True, slots=True)
class Fidelity:
    """The rungs (training steps, increasing; the last is the evaluator's full budget), eta, and
    what a rung's results are ranked by for promotion."""

    rungs: tuple[int, ...]
    eta: int
    rank_by: RankBy = "fitness"

    @classmethod
    def ladder(cls, min_steps: int, eta: int, full_steps: int, rank_by: RankBy = "fitness") -> Fidelity:
        """``min_steps``, ``min_steps·eta``, … while below ``full_steps``, then ``full_steps``;
        ValueError (one line) for values that make no ladder."""
        if eta < 2:
            raise ValueError(f"eta must be at least 2, got {eta}")
        if min_steps < 1:
            raise ValueError(f"min_steps must be at least 1, got {min_steps}")
        if min_steps >= full_steps:
            raise ValueError(f"min_steps {min_steps} must be below the evaluator's full steps {full_steps}")
        rungs = []
        steps = min_steps
        while steps < full_steps:
            rungs.append(steps)
            steps *= eta
        if rank_by not in ("fitness", "loss"):
            raise ValueError(f"rank_by must be fitness or loss, got {rank_by!r}")
        return cls((*rungs, full_steps), eta, rank_by)

    @property
    def full_steps(self) -> int:
        return self.rungs[-1]

    @property
    def top(self) -> int:
        """The index of the last rung (the full budget), from which nothing is promoted."""
        return len(self.rungs) - 1

    def cost(self, rung: int, *, continued: bool = True) -> int:
        """Training steps one evaluation at ``rung`` costs: the difference to the rung below when
        it continues that rung's checkpoint, all its steps when it starts from scratch."""
        below = self.rungs[rung - 1] if rung > 0 and continued else 0
        return self.rungs[rung] - below


class Halving:
    """Which candidate to promote next. Fed with ``start`` (an evaluation at a rung was created,
    whatever became of it) and ``record`` (a final result at a rung)."""

    def __init__(self, fidelity: Fidelity) -> None:
        self.fidelity = fidelity
        rungs = len(fidelity.rungs)
        # Per rung: proposal -> the promotion sort key of its done result (lower first, see
        # ``_rank_key``), in the order the results were recorded.
        self.results: list[dict[int, tuple[int, float]]] = [{} for _ in range(rungs)]
        self.failed: list[set[int]] = [set() for _ in range(rungs)]
        # Per rung: proposals that have (or had) an evaluation there: promoted, or new at rung 0.
        self.started: list[set[int]] = [set() for _ in range(rungs)]

    def start(self, proposal_id: int, rung: int) -> None:
        self.started[rung].add(proposal_id)

    def record(
        self, proposal_id: int, rung: int, fitness: float | None, metrics: Mapping[str, Any] | None = None
    ) -> None:
        """A final result; ``fitness`` None for a failed one, which never promotes. ``metrics``: the
        result's, read for the loss score when ranking by loss."""
        self.started[rung].add(proposal_id)
        if fitness is None:
            self.failed[rung].add(proposal_id)
        else:
            self.results[rung][proposal_id] = self._rank_key(fitness, metrics or {})

    def _rank_key(self, fitness: float, metrics: Mapping[str, Any]) -> tuple[int, float]:
        """Lower promotes first: (0, -fitness), or (0, loss score) and (1, 0) without one."""
        if self.fidelity.rank_by == "fitness":
            return 0, -fitness
        loss = final_loss(metrics)
        return (1, 0.0) if loss is None else (0, loss)

    def promotable(self, rung: int) -> list[int]:
        """The candidates of ``rung``'s top ⌊n/eta⌋ not yet promoted from it, best first."""
        if rung >= self.fidelity.top:
            return []
        results = self.results[rung]
        best = sorted(results, key=results.__getitem__)  # stable: earlier first on ties
        above = self.started[rung + 1]
        return [p for p in best[: len(results) // self.fidelity.eta] if p not in above]

    def promotion(self) -> tuple[int, int] | None:
        """(proposal, the rung to promote it to) from the highest rung that has a candidate, or
        None: then a new candidate should start at rung 0."""
        for rung in reversed(range(self.fidelity.top)):
            candidates = self.promotable(rung)
            if candidates:
                return candidates[0], rung + 1
        return None

    def reached(self, proposal_id: int) -> int | None:
        """The highest rung at which ``proposal_id`` has a done result, or None."""
        for rung in reversed(range(len(self.results))):
            if proposal_id in self.results[rung]:
                return rung
        return None
