"""The ask/tell interface every search strategy implements (PyGlove's ``DNAGenerator`` shape).

The driver asks for a proposal whenever a worker is free and tells the strategy each result as it
arrives; there are no generations. With successive halving (``evolution.successive_halving``) a
proposal is told once per rung it reaches: first at rung 0, then after each promotion, with the
rung; a cached answer is told once, with the rung of the result it reuses. A strategy's state is two parts: what can be derived from the
journal (every result it was told, in order), which ``restore`` replays, and a small snapshot
(``state_dict``) that the driver writes in the same transaction as each event, so a killed run
resumes exactly where it was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from evolution.evaluation import EvalResult
from motifs import Genotype, Mutation

# "model": chosen by a predictive model from a pool (Bayesian optimisation), not derived from a parent.
Origin = Literal["init", "mutation", "controller", "model"]


@dataclass(frozen=True, slots=True)
class Proposal:
    """A genotype a strategy wants evaluated, and where it came from."""

    genotype: Genotype
    origin: Origin
    # The proposal id of the parent (mutation) and what the mutation changed.
    parent: int | None = None
    mutation: Mutation | None = None
    # Strategy-specific facts to keep with the proposal (e.g. the controller's decisions).
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Told:
    """One result the strategy was told: the journal replays these, in order, on resume."""

    proposal_id: int
    proposal: Proposal
    result: EvalResult
    # True when the result was reused from an earlier evaluation of the same network.
    cached: bool = False
    # Successive halving: the rung the result was measured at (0: the first, or the only one).
    rung: int = 0


class Strategy(Protocol):
    name: str

    def ask(self) -> Proposal | None:
        """The next proposal, or None to wait for a result first (never None with nothing in flight)."""

    def tell(
        self, proposal_id: int, proposal: Proposal, result: EvalResult, cached: bool = False, rung: int = 0
    ) -> None:
        """A proposal's final result at ``rung``: a fresh evaluation, or (``cached``) the result of
        an earlier evaluation of the same network. Called again for the same proposal when it is
        promoted to a higher rung (successive halving); the first call is at rung 0 or cached."""

    def reject(self, proposal: Proposal) -> None:
        """The driver will not evaluate ``proposal`` (its architecture was seen before; dedup: resample)."""

    def state_dict(self) -> dict[str, Any]:
        """A small snapshot: everything not derivable from the told history."""

    def restore(self, state: Mapping[str, Any], history: Sequence[Told]) -> None:
        """Rebuild from a snapshot and every result told before it was taken."""
