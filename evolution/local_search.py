"""Local search (after White, Nolen & Savani 2020, "Local search is state of the art for neural
architecture search benchmarks"): after a random initial population, evaluate the 1-mutation
neighbours of the best architecture so far, and move to a neighbour as soon as it is better (first
improvement), until a local optimum.

``restart="random"`` (the paper's restart): the incumbent is the fittest network of the current
climb (the initial population, or a random restart and the neighbours evaluated since); when its
neighbourhood is exhausted, the next proposal is a fresh random sample that starts a new climb.
``restart="best"``: the incumbent is the fittest evaluated network whose neighbourhood still holds a
network neither evaluated nor in flight, so at a local optimum the climb goes on from the next-best
network. Neighbours are tried in a random order drawn per incumbent or, with ``search.predictor``,
the one the acquisition prefers first. With several workers, neighbours of an old climb still in
flight at a restart join the new climb when told.

Everything but the ask count and the networks in flight is a function of the told results, so a
resumed run, which replays the journal, proposes exactly what the uninterrupted run would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evolution.evaluation import EvalResult
from evolution.guided import refit
from evolution.predictor import ACQUISITIONS, FitnessPredictor, acquire
from evolution.proposal_counts import ProposalCounts
from evolution.seeding import numpy_rng, python_rng
from evolution.strategy import Proposal, Told
from motifs import Genotype, Mutation, Space, sample
from motifs.canonical import canonical_key

RESTARTS = ("best", "random")
Neighbour = tuple[Genotype, str, Mutation]  # the network, its canonical key, the mutation made


def neighbours(genotype: Genotype) -> list[Neighbour]:
    """Every network one mutation (motifs.mutation: one edge of one motif set to another op or
    none) away from ``genotype``, once each by canonical key, never ``genotype``'s own network;
    in a fixed order (level, motif, i, j, new op), the first mutation reaching a network kept."""
    seen = {canonical_key(genotype)}
    found: list[Neighbour] = []
    for k, level in enumerate(genotype.levels):
        ops = genotype.op_count(k)
        for m, motif in enumerate(level):
            for i in range(motif.nodes):
                for j in range(i + 1, motif.nodes):
                    old = motif.matrix[i][j]
                    for new in range(ops + 1):
                        if new == old:
                            continue
                        child = genotype.with_edge(k, m, i, j, new)
                        key = canonical_key(child)
                        if key not in seen:
                            seen.add(key)
                            found.append((child, key, Mutation(k + 2, m, i, j, old, new)))
    return found


class LocalSearch(ProposalCounts):
    name = "local"

    def __init__(
        self,
        space: Space,
        *,
        seed: int,
        population: int = 20,
        init_mutations: int = 1000,
        predictor: Mapping[str, Any] | None = None,
        restart: str = "random",
    ) -> None:
        """``predictor``: None for a random neighbour order; else ``acquisition``, ``beta``,
        ``trees``, ``target`` and ``start_after`` as guided evolution reads them (other keys of
        ``search.predictor`` do not apply and are ignored)."""
        if restart not in RESTARTS:
            raise ValueError(f"restart must be one of {', '.join(RESTARTS)}, got {restart!r}")
        self.space, self.seed, self.restart = space, seed, restart
        self.population_size, self.init_mutations = population, init_mutations
        self.predictor: FitnessPredictor | None = None
        if predictor is not None:
            self.acquisition = predictor.get("acquisition", "ucb")
            if self.acquisition not in ACQUISITIONS:
                raise ValueError(
                    f"acquisition must be one of {', '.join(ACQUISITIONS)}, got {self.acquisition!r}"
                )
            self.beta = float(predictor.get("beta", 1.0))
            self.start_after = int(predictor.get("start_after", 20))
            self.predictor = FitnessPredictor(
                space.primitives, trees=predictor.get("trees", 32), target=predictor.get("target", "raw")
            )
        self.asked = 0
        self.initial_asked = 0
        self.in_flight: dict[str, int] = {}  # canonical key -> proposals of it not yet told
        self._neighbourhoods: dict[str, list[Neighbour]] = {}  # derivable: a cache, never saved
        self._reset_history()

    def _reset_history(self) -> None:
        self.fitness: dict[str, float] = {}  # canonical key -> fitness of its successful result
        self.members: dict[str, tuple[int, Genotype]] = {}  # key -> (proposal id, genotype) of the first
        self.known: set[str] = set()  # keys told, failed ones included
        self.climb: set[str] = set()  # restart="random": the successful networks of this climb
        self.train_genotypes: list[Genotype] = []
        self.train_fitness: list[float] = []
        self.fitted_on = -1

    def ask(self) -> Proposal | None:
        if self.initial_asked < self.population_size or not self.fitness:
            if self.initial_asked >= self.population_size and self.in_flight:
                return None  # every result so far failed: wait for the initial ones in flight
            genotype = sample(self.space, python_rng(self.seed, "ask", self.asked), self.init_mutations)
            self.initial_asked += 1
            return self._propose(Proposal(genotype, "init"), canonical_key(genotype))
        climb = self.fitness if self.restart == "best" else self.climb
        for key in sorted(climb, key=lambda k: (-self.fitness[k], self.members[k][0])):
            fresh = [
                n for n in self._neighbourhood(key) if n[1] not in self.known and n[1] not in self.in_flight
            ]
            if not fresh and self.restart == "random":
                break  # the climb's best is a local optimum
            if fresh:
                child, child_key, record = fresh[self._choose(key, fresh)]
                return self._propose(
                    Proposal(child, "mutation", parent=self.members[key][0], mutation=record), child_key
                )
        # A local optimum (restart="random"), or every evaluated network's neighbourhood is exhausted.
        genotype = sample(self.space, python_rng(self.seed, "ask", self.asked), self.init_mutations)
        return self._propose(Proposal(genotype, "init", extra={"restart": True}), canonical_key(genotype))

    def _neighbourhood(self, key: str) -> list[Neighbour]:
        """The incumbent's neighbours, in the order they are tried without a predictor: shuffled
        by a stream named by the run seed and the incumbent's network."""
        if key not in self._neighbourhoods:
            found = neighbours(self.members[key][1])
            python_rng(self.seed, "neighbours", key).shuffle(found)
            self._neighbourhoods[key] = found
        return self._neighbourhoods[key]

    def _choose(self, key: str, fresh: list[Neighbour]) -> int:
        """Which of the unevaluated neighbours to propose: the first in the shuffled order, or the
        one the acquisition prefers once the predictor has ``start_after`` results."""
        if self.predictor is None or len(fresh) == 1 or len(self.train_fitness) < max(self.start_after, 2):
            return 0
        self.fitted_on = refit(
            self.predictor, self.train_genotypes, self.train_fitness, self.seed, self.fitted_on
        )
        prediction = self.predictor.predict([child for child, _, _ in fresh])
        return acquire(prediction, self.acquisition, numpy_rng(self.seed, "acquire", self.asked), self.beta)

    def tell(
        self, proposal_id: int, proposal: Proposal, result: EvalResult, cached: bool = False, rung: int = 0
    ) -> None:
        """``rung``: the multi-fidelity rung of the result; a network's first result, at whatever
        rung, is the fitness the climb compares."""
        key = canonical_key(proposal.genotype)
        self._settle(key)
        self._learn(proposal_id, proposal, result, key)

    def _learn(self, proposal_id: int, proposal: Proposal, result: EvalResult, key: str) -> None:
        if "restart" in proposal.extra:  # a new climb, from this network (if it is known: its result)
            self.climb = {key} if key in self.fitness else set()
        if key in self.known:
            return  # a cached answer, or a retry: the first result of a network is the one it has
        self.known.add(key)
        if result.ok:
            self.climb.add(key)
            self.fitness[key] = float(result.fitness)
            self.members[key] = (proposal_id, proposal.genotype)
            self.train_genotypes.append(proposal.genotype)
            self.train_fitness.append(float(result.fitness))

    def restore(self, state: Mapping[str, Any], history: Sequence[Told]) -> None:
        self._restore_counts(state)
        self._reset_history()
        for told in history:
            self._learn(told.proposal_id, told.proposal, told.result, canonical_key(told.proposal.genotype))
