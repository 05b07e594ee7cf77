"""Tournament evolution guided by a fitness predictor (BANANAS, White et al. 2021; NPENAS, Wei et al.
2022): each ask makes many children and proposes the one a model of the results so far prefers.

Until ``start_after`` results are in (and during the initial population) it asks exactly as
TournamentEvolution does. After that, each ask makes ``candidates`` children, each 1 to ``mutations``
mutations of a tournament winner (or, with ``parents`` = k, of one of the k fittest members, as
BANANAS mutates the best), drops the children whose network was already evaluated (their result is
known, so proposing one would spend an ask on nothing), and proposes the child the acquisition
prefers. With the defaults the first candidate is drawn from the same streams as the unguided child
of that ask.

With successive halving the predictor learns from each network's first result only (rung 0, which
every candidate has, so all its training targets were measured at the same budget); promotions
reach the tournament (``TournamentEvolution``) but not the model.

The predictor is refitted only when enough new results arrived since the last fit (``fit_size``),
on the successful fresh results in the order the run was told them, with a generator derived from the run seed and
the number of those results. A resumed run replays the journal's history into the same training
set and so proposes exactly what the uninterrupted run would: nothing about the model is saved.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from evolution.evaluation import EvalResult
from evolution.predictor import ACQUISITIONS, FitnessPredictor, acquire
from evolution.seeding import numpy_rng, python_rng
from evolution.strategy import Proposal, Told
from evolution.tournament import TournamentEvolution
from motifs import Genotype, Space, mutate
from motifs.canonical import canonical_key


def fit_size(results: int) -> int:
    """How many of the first results the model is fitted on: all of them up to 31, then in steps of
    1/16 of their number (a refit after every 2nd result at 32, every 9th at 150). A fresh result
    then moves the model as much as a refit costs, and a 150-evaluation table run refits about 40
    times instead of 130. A function of the count alone, so a resumed run fits the same sets."""
    return results - results % max(1, results // 16)


def refit(
    predictor: FitnessPredictor, genotypes: list[Genotype], fitness: list[float], seed: int, fitted_on: int
) -> int:
    """Fit ``predictor`` on the first ``fit_size`` results unless it is already fitted on that many
    (``fitted_on``); returns the count it is fitted on. Its generator is derived from the seed and
    the count, so a resumed run fits the same model."""
    size = fit_size(len(fitness))
    if fitted_on != size:
        predictor.fit(genotypes[:size], fitness[:size], numpy_rng(seed, "predictor", size))
    return size


class GuidedEvolution(TournamentEvolution):
    name = "evolution"

    def __init__(
        self,
        space: Space,
        *,
        seed: int,
        candidates: int = 100,
        acquisition: str = "ucb",
        start_after: int = 20,
        beta: float = 1.0,
        trees: int = 32,
        parents: int = 0,
        mutations: int = 1,
        target: str = "raw",
        **evolution: Any,
    ) -> None:
        if acquisition not in ACQUISITIONS:
            raise ValueError(f"acquisition must be one of {', '.join(ACQUISITIONS)}, got {acquisition!r}")
        if parents < 0 or mutations < 1:
            raise ValueError(f"parents must be >= 0 and mutations >= 1, got {parents} and {mutations}")
        super().__init__(space, seed=seed, **evolution)
        self.candidates, self.acquisition = candidates, acquisition
        self.start_after, self.beta = start_after, beta
        self.parents, self.mutations = parents, mutations
        self.predictor = FitnessPredictor(space.primitives, trees=trees, target=target)
        self._reset_training()

    def _reset_training(self) -> None:
        self.train_genotypes: list[Genotype] = []
        self.train_fitness: list[float] = []
        self.evaluated: set[str] = set()
        self.fitted_on = -1

    def ask(self) -> Proposal | None:
        if (
            self.initial_asked < self.population_size
            or not len(self.population)
            or len(self.train_genotypes) < max(self.start_after, 2)
        ):
            return super().ask()
        self._refit()
        tournaments = numpy_rng(self.seed, "tournament", self.asked)
        mutations = python_rng(self.seed, "ask", self.asked)
        children, first = self._children(tournaments, mutations, self._best(self.parents))
        if not children and self.parents:
            # The best few's neighbourhoods are exhausted: widen to tournament winners.
            children, first = self._children(tournaments, mutations, None)
        if not children:
            children = [first]  # every candidate's network is known: the cache answers it for free
        pick = self._choose([child for child, _, _ in children]) if len(children) > 1 else 0
        child, winner, record = children[pick]
        self.asked += 1
        self.pending += 1
        return Proposal(child, "mutation", parent=self.population.ids[winner], mutation=record)

    def _refit(self) -> None:
        self.fitted_on = refit(
            self.predictor, self.train_genotypes, self.train_fitness, self.seed, self.fitted_on
        )

    def _choose(self, children: list[Genotype]) -> int:
        """The index of the child the acquisition prefers."""
        prediction = self.predictor.predict(children)
        return acquire(prediction, self.acquisition, numpy_rng(self.seed, "acquire", self.asked), self.beta)

    def _best(self, k: int) -> np.ndarray | None:
        """Population indices of the ``k`` members the population ranks first (the fittest; for
        pareto, a tournament's order), or None for tournament selection (k = 0)."""
        return self.population.best(k) if k else None

    def _children(
        self, tournaments: np.random.Generator, mutations: random.Random, parents: np.ndarray | None
    ) -> tuple[list[tuple[Genotype, int, Any]], tuple[Genotype, int, Any]]:
        """``candidates`` children whose networks are new (each at most once), and the first child
        made. A child is 1 to ``mutations`` successive mutations of a tournament winner, or of one
        of ``parents`` drawn uniformly (BANANAS' mutations of the best, White et al. 2021, 4.2);
        its record is the last mutation's."""
        children: list[tuple[Genotype, int, Any]] = []
        keys: set[str] = set()
        made: set[Genotype] = set()  # the same child drawn again: no second canonical form
        first = None
        for _ in range(self.candidates):
            if parents is None:
                winner = self.population.tournament(tournaments, self.tournament_size())
            else:
                winner = int(parents[int(tournaments.integers(len(parents)))])
            child, record = mutate(self.population.genotypes[winner], mutations)
            for _ in range(1, mutations.randint(1, self.mutations) if self.mutations > 1 else 1):
                child, record = mutate(child, mutations)
            first = first or (child, winner, record)
            if child in made:
                continue
            made.add(child)
            key = canonical_key(child)
            if key not in self.evaluated and key not in keys:
                keys.add(key)
                children.append((child, winner, record))
        assert first is not None
        return children, first

    def tell(
        self, proposal_id: int, proposal: Proposal, result: EvalResult, cached: bool = False, rung: int = 0
    ) -> None:
        super().tell(proposal_id, proposal, result, cached, rung)
        self._learn(proposal, result, cached)

    def _learn(self, proposal: Proposal, result: EvalResult, cached: bool) -> None:
        key = canonical_key(proposal.genotype)
        if cached or key in self.evaluated:
            return
        self.evaluated.add(key)
        if result.ok:
            self.train_genotypes.append(proposal.genotype)
            self.train_fitness.append(float(result.fitness))

    def restore(self, state: Mapping[str, Any], history: Sequence[Told]) -> None:
        super().restore(state, history)
        self._reset_training()
        for told in history:
            self._learn(told.proposal, told.result, told.cached)
