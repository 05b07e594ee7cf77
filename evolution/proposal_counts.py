"""The ask-side bookkeeping that local search and Bayesian optimisation share: how many proposals
were made (the seed of each random draw), how many of them were initial, and which networks are in
flight, by canonical key. This is the strategy snapshot the driver saves; the rest of such a
strategy's state is replayed from the journal's told results."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evolution.strategy import Proposal
from motifs.canonical import canonical_key


class ProposalCounts:
    """Mixin: a strategy with ``known`` (canonical keys told or rejected) and these counters."""

    asked: int
    initial_asked: int
    in_flight: dict[str, int]
    known: set[str]

    def _propose(self, proposal: Proposal, key: str) -> Proposal:
        self.asked += 1
        self.in_flight[key] = self.in_flight.get(key, 0) + 1
        return proposal

    def _settle(self, key: str) -> None:
        left = self.in_flight.get(key, 0) - 1
        if left > 0:
            self.in_flight[key] = left
        else:
            self.in_flight.pop(key, None)

    def reject(self, proposal: Proposal) -> None:
        """A duplicate the driver will not evaluate (dedup: resample): its network was evaluated
        before, so it is never proposed again; an initial proposal is drawn again."""
        key = canonical_key(proposal.genotype)
        self._settle(key)
        self.known.add(key)
        if proposal.origin == "init" and "restart" not in proposal.extra:
            self.initial_asked -= 1

    def state_dict(self) -> dict[str, Any]:
        return {"asked": self.asked, "initial_asked": self.initial_asked, "in_flight": dict(self.in_flight)}

    def _restore_counts(self, state: Mapping[str, Any]) -> None:
        self.asked, self.initial_asked = state["asked"], state["initial_asked"]
        self.in_flight = {str(k): int(v) for k, v in state["in_flight"].items()}
