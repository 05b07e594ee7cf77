"""Asynchronous tournament-selection evolution (Liu et al. 2018, section 3.2), optionally aged.

An initial population of P individuals (identity chains diversified by random mutations) is
proposed first; after that, each free worker gets the mutated winner of a tournament over the
evaluated population, whose size is a fraction of the current population (the paper: 5%, at least
2). The population never shrinks, unless ``aging`` is on: then the oldest member is dropped once
there are more than P (regularised evolution, Real et al. 2019).

Why not ``deap.tools.selTournament``: it draws aspirants with ``random.choice`` from Python's global
generator, which a seeded, resumable run must not touch, and it needs DEAP ``creator`` fitness
classes (module globals that break pickling). The selection here is the same operator with the
run's own stream, and it draws aspirants without replacement, as the paper's "sample 5% of the
population" reads. Failed evaluations never join the population, so they never win.

A proposal answered from the cache (its network was evaluated before) is the same individual: the
paper's ever-growing population does not take it in twice, or the fittest network would crowd the
tournaments with copies of itself and the search would circle its exhausted neighbourhood. With
aging it does join again, as a young member: in regularised evolution that is how a good
architecture survives the aging (Real et al. 2019, section 2.1).

``neutral="join"`` makes every result join, cached or not, as in the paper, where every child is
trained and added. It matters for neutral mutations: about a quarter of the hierarchical space's
mutations change a dead edge or an unused motif, so the child builds its parent's network and is
answered from the cache. Dropped, such a child's hidden genes can never drift; joined, they can,
at the price of copies of good networks in the tournaments (benchmarks/RESULTS.md measures both).

With successive halving a member is told again at each rung it is promoted to; its entry is
updated in place to the highest rung's result. A tournament compares aspirants lexicographically,
by (rung reached, fitness at it): fitness after fewer training steps is not comparable with fitness
after more (it is mostly lower), and reaching a rung means having been in the top 1/eta of the rung
below, so a candidate at a higher rung is the better bet. Comparing at the highest rung two
aspirants share would need every member's whole ladder and is not a total order over a tournament
of more than two. Without fidelity every member is at rung 0 and this is the plain tournament. A
failed promotion leaves the member at the rung it reached.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from evolution.evaluation import EvalResult
from evolution.seeding import numpy_rng, python_rng
from evolution.strategy import Proposal, Told
from motifs import Genotype, Space, mutate, sample


class Population:
    """Members in the order they joined, with fitness in a numpy array so a tournament over
    100,000 members is a few vectorised operations."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.genotypes: list[Genotype] = []
        self._fitness = np.empty(1024)
        self._rung = np.zeros(1024, dtype=np.int64)
        self.index: dict[int, int] = {}  # member id -> its index (the latest, if it joined twice)
        self.start = 0  # members before this index aged out

    def __len__(self) -> int:
        return len(self.ids) - self.start

    def add(self, member_id: int, genotype: Genotype, fitness: float, rung: int = 0) -> None:
        n = len(self.ids)
        if n == len(self._fitness):
            self._fitness = np.resize(self._fitness, 2 * n)
            self._rung = np.resize(self._rung, 2 * n)
        self._fitness[n], self._rung[n] = fitness, rung
        self.index[member_id] = n
        self.ids.append(member_id)
        self.genotypes.append(genotype)

    def promote(self, member_id: int, fitness: float, rung: int) -> bool:
        """A member's result at a higher rung replaces its entry; False if it is no member."""
        n = self.index.get(member_id)
        if n is None or rung < self._rung[n]:
            return n is not None
        self._fitness[n], self._rung[n] = fitness, rung
        return True

    def drop_oldest(self) -> None:
        self.start += 1

    def tournament(self, rng: np.random.Generator, size: int) -> int:
        """Index of the best of ``size`` members drawn without replacement: the highest rung, then
        the fittest there (first drawn wins ties)."""
        aspirants = self.start + rng.choice(len(self), size=size, replace=False)
        rungs = self._rung[aspirants]
        aspirants = aspirants[rungs == rungs.max()]
        return int(aspirants[np.argmax(self._fitness[aspirants])])

    def best(self, k: int) -> np.ndarray:
        """Indices of the ``k`` fittest live members (first joined first among equals)."""
        fitness = self._fitness[self.start : len(self.ids)]
        return self.start + np.argsort(-fitness, kind="stable")[:k]


class TournamentEvolution:
    name = "evolution"

    def __init__(
        self,
        space: Space,
        *,
        seed: int,
        population: int = 200,
        tournament: float = 0.05,
        aging: bool = False,
        init_mutations: int = 1000,
        neutral: str = "drop",
    ) -> None:
        if neutral not in ("join", "drop"):
            raise ValueError(f"neutral must be 'join' or 'drop', got {neutral!r}")
        self.space, self.seed = space, seed
        self.population_size, self.tournament_fraction, self.aging = population, tournament, aging
        self.init_mutations, self.neutral = init_mutations, neutral
        self.population = self._new_population()
        self.asked = 0  # numbers the random stream of each ask
        self.initial_asked = 0
        self.pending = 0

    def _new_population(self) -> Population:
        return Population()

    def tournament_size(self) -> int:
        n = len(self.population)
        return min(n, max(2, round(self.tournament_fraction * n)))

    def ask(self) -> Proposal | None:
        if self.initial_asked < self.population_size or (not len(self.population) and not self.pending):
            # The initial population; also when every evaluation so far failed and none is
            # running, since there is nothing to select from.
            proposal = Proposal(
                sample(self.space, python_rng(self.seed, "ask", self.asked), self.init_mutations), "init"
            )
            self.initial_asked += 1
        elif not len(self.population):
            return None
        else:
            winner = self.population.tournament(
                numpy_rng(self.seed, "tournament", self.asked), self.tournament_size()
            )
            child, record = mutate(
                self.population.genotypes[winner], python_rng(self.seed, "ask", self.asked)
            )
            proposal = Proposal(child, "mutation", parent=self.population.ids[winner], mutation=record)
        self.asked += 1
        self.pending += 1
        return proposal

    def tell(
        self, proposal_id: int, proposal: Proposal, result: EvalResult, cached: bool = False, rung: int = 0
    ) -> None:
        if cached or rung == 0:  # a promotion's result is not an answer to an ask
            self.pending -= 1
        self._join(proposal_id, proposal, result, cached, rung)

    def _join(
        self, proposal_id: int, proposal: Proposal, result: EvalResult, cached: bool, rung: int = 0
    ) -> None:
        if not result.ok or (cached and not self.aging and self.neutral == "drop"):
            return
        if not cached and rung > 0 and self.population.promote(proposal_id, float(result.fitness), rung):
            return
        self.population.add(proposal_id, proposal.genotype, float(result.fitness), rung)
        if self.aging and len(self.population) > self.population_size:
            self.population.drop_oldest()

    def reject(self, proposal: Proposal) -> None:
        self.pending -= 1
        if proposal.origin == "init":
            self.initial_asked -= 1  # a duplicate does not count towards the initial population

    def state_dict(self) -> dict[str, Any]:
        return {"asked": self.asked, "initial_asked": self.initial_asked, "pending": self.pending}

    def restore(self, state: Mapping[str, Any], history: Sequence[Told]) -> None:
        self.asked, self.initial_asked, self.pending = (
            state["asked"],
            state["initial_asked"],
            state["pending"],
        )
        self.population = self._new_population()
        for told in history:
            self._join(told.proposal_id, told.proposal, told.result, told.cached, told.rung)
