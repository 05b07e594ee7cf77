"""A warm start: a strategy whose first initial proposals are given genotypes (the best networks of
an earlier run) instead of random samples.

It wraps any strategy that proposes its initial individuals with origin "init" (evolution, random
search): each of the inner strategy's first initial proposals is swapped for the next seed, so the
seeds take places in the initial population and the rest of it is sampled as usual, from the same
random streams as without seeds. The inner strategy learns from the seeds' results like from any
other. How many seeds were proposed is part of the snapshot, so a resumed run never proposes them
again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evolution.evaluation import EvalResult
from evolution.strategy import Proposal, Strategy, Told
from motifs import Genotype

SEEDED_KEY = "warm_start_seeded"  # in the snapshot: how many seeds were proposed


class SeededStrategy:
    def __init__(self, inner: Strategy, seeds: Sequence[Genotype], source: Mapping[str, Any]) -> None:
        """``source``: what each seed proposal keeps in its ``extra["warm_start"]`` (the earlier
        run), besides the seed's rank there."""
        self.inner, self.seeds, self.source = inner, tuple(seeds), dict(source)
        self.name = inner.name
        self.seeded = 0

    def ask(self) -> Proposal | None:
        proposal = self.inner.ask()
        if proposal is None or proposal.origin != "init" or self.seeded >= len(self.seeds):
            return proposal
        rank = self.seeded
        self.seeded += 1
        return Proposal(self.seeds[rank], "init", extra={"warm_start": {**self.source, "rank": rank + 1}})

    def tell(
        self, proposal_id: int, proposal: Proposal, result: EvalResult, cached: bool = False, rung: int = 0
    ) -> None:
        self.inner.tell(proposal_id, proposal, result, cached, rung=rung)

    def reject(self, proposal: Proposal) -> None:
        self.inner.reject(proposal)

    def state_dict(self) -> dict[str, Any]:
        return {**self.inner.state_dict(), SEEDED_KEY: self.seeded}

    def restore(self, state: Mapping[str, Any], history: Sequence[Told]) -> None:
        self.seeded = int(state.get(SEEDED_KEY, 0))
        self.inner.restore({k: v for k, v in state.items() if k != SEEDED_KEY}, history)
