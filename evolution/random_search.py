"""Random search (Liu et al. 2018, section 3.3): every proposal is a fresh sample from the
initialisation; the best evaluated one wins. The baseline the paper found surprisingly strong."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evolution.evaluation import EvalResult
from evolution.seeding import python_rng
from evolution.strategy import Proposal, Told
from motifs import Space, sample


class RandomSearch:
    name = "random"

    def __init__(self, space: Space, *, seed: int, init_mutations: int = 1000) -> None:
        self.space, self.seed, self.init_mutations = space, seed, init_mutations
        self.asked = 0

    def ask(self) -> Proposal:
        genotype = sample(self.space, python_rng(self.seed, "ask", self.asked), self.init_mutations)
        self.asked += 1
        return Proposal(genotype, "init")

    def tell(
        self, proposal_id: int, proposal: Proposal, result: EvalResult, cached: bool = False, rung: int = 0
    ) -> None:
        """Nothing to learn: the journal keeps the best."""

    def reject(self, proposal: Proposal) -> None:
        """A duplicate costs nothing; the next ask draws a new sample."""

    def state_dict(self) -> dict[str, Any]:
        return {"asked": self.asked}

    def restore(self, state: Mapping[str, Any], history: Sequence[Told]) -> None:
        self.asked = state["asked"]
