"""Asynchronous multi-objective evolution: tournament selection by Pareto rank, then crowding.

The loop is ``TournamentEvolution``'s (Liu et al. 2018, section 3.2: an initial population of P
diversified identity chains, then each free worker gets the mutated winner of a tournament over
the evaluated population, optionally aged as in Real et al. 2019). Only the tournament's order
differs: aspirants are compared as NSGA-II's crowded-comparison operator compares them (Deb et al.
2002, section III-C), by non-dominated rank within the current population, then by crowding
distance within their front, so selection pushes the whole front outward and spreads along it
instead of climbing one number. There are no generations and no environmental selection: a result
joins the population when it arrives, which is what lets the search run asynchronously, survive a
kill (the population is rebuilt from the journal's history) and use the same dedup as every other
strategy.

Ranks come from DEAP (``evolution.front``). A result that breaks a constraint ranks behind every
feasible member (Deb's constraint domination, simplified: infeasible members are ordered by how
many bounds they break); a failed result (including a cheap constraint refused before training)
never joins. Aspirants are drawn with the run's own numpy stream, never the global generator.

Successive halving: as in ``TournamentEvolution``, a promoted member's entry is replaced by its
result at the higher rung, and aspirants are compared by rung reached first (higher wins), then by
rank and crowding. Ranks are computed over the whole population, whose members may sit at
different rungs; the rung comes first so that a short-trained member's values never beat a
full-budget one's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from evolution.evaluation import EvalResult
from evolution.front import (
    Bound,
    crowding_distances,
    measured,
    objective_values,
    pareto_ranks,
    to_wvalues,
    violations,
)
from evolution.objectives import Objective
from evolution.strategy import Proposal
from evolution.tournament import TournamentEvolution
from motifs import Genotype, Space


class ParetoPopulation:
    """Members in joining order with their wvalues; ranks and crowding recomputed after a change."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.genotypes: list[Genotype] = []
        self.wvalues: list[tuple[float, ...]] = []
        self.broken: list[int] = []  # constraints each member breaks
        self.rungs: list[int] = []
        self.index: dict[int, int] = {}  # member id -> its index (the latest, if it joined twice)
        self.start = 0  # members before this index aged out
        self._order: list[tuple[int, float]] | None = None

    def __len__(self) -> int:
        return len(self.ids) - self.start

    def add(
        self, member_id: int, genotype: Genotype, wvalues: tuple[float, ...], broken: int, rung: int = 0
    ) -> None:
        self.index[member_id] = len(self.ids)
        self.ids.append(member_id)
        self.genotypes.append(genotype)
        self.wvalues.append(wvalues)
        self.broken.append(broken)
        self.rungs.append(rung)
        self._order = None

    def promote(self, member_id: int, wvalues: tuple[float, ...], broken: int, rung: int) -> bool:
        """A member's result at a higher rung replaces its entry; False if it is no member."""
        n = self.index.get(member_id)
        if n is None or rung < self.rungs[n]:
            return n is not None
        self.wvalues[n], self.broken[n], self.rungs[n] = wvalues, broken, rung
        self._order = None
        return True

    def drop_oldest(self) -> None:
        self.start += 1
        self._order = None

    def order(self) -> list[tuple[int, float]]:
        """(rank, crowding) per live member: feasible members by Pareto rank; infeasible ones after
        them, fewer broken constraints first, crowding 0."""
        if self._order is None:
            live = range(self.start, len(self.ids))
            feasible = [i for i in live if not self.broken[i]]
            ranks = pareto_ranks([self.wvalues[i] for i in feasible])
            crowding = crowding_distances([self.wvalues[i] for i in feasible], ranks)
            worst = max(ranks, default=-1) + 1
            order = {i: (worst + self.broken[i], 0.0) for i in live}
            order.update((i, (r, c)) for i, r, c in zip(feasible, ranks, crowding, strict=True))
            self._order = [order[i] for i in live]
        return self._order

    def tournament(self, rng: Any, size: int) -> int:
        """Index of the best of ``size`` members drawn without replacement: highest rung, then
        lowest rank, then largest crowding distance; the first drawn wins ties."""
        aspirants = rng.choice(len(self), size=size, replace=False)
        return self.start + int(min(aspirants, key=self._precedence()))

    def best(self, k: int) -> np.ndarray:
        """Indices of the ``k`` live members a tournament ranks first (first joined first among equals)."""
        return self.start + np.asarray(sorted(range(len(self)), key=self._precedence())[:k], dtype=int)

    def _precedence(self) -> Callable[[int], tuple[int, int, float]]:
        """Sort key of a live member (by its offset from ``start``): highest rung, then lowest rank,
        then largest crowding distance."""
        order, rungs, start = self.order(), self.rungs, self.start
        return lambda a: (-rungs[start + a], order[a][0], -order[a][1])


class ParetoEvolution(TournamentEvolution):
    """``TournamentEvolution``'s ask, tell and resume (the same seeded streams), over a population
    ranked by non-domination instead of fitness."""

    name = "pareto"

    def __init__(
        self,
        space: Space,
        *,
        seed: int,
        objectives: Sequence[Objective],
        constraints: Sequence[Bound] = (),
        population: int = 200,
        tournament: float = 0.05,
        aging: bool = False,
        init_mutations: int = 1000,
    ) -> None:
        if not objectives:
            raise ValueError("pareto search needs at least one objective")
        self.objectives, self.constraints = tuple(objectives), tuple(constraints)
        super().__init__(
            space,
            seed=seed,
            population=population,
            tournament=tournament,
            aging=aging,
            init_mutations=init_mutations,
        )

    def _new_population(self) -> ParetoPopulation:  # type: ignore[override]
        return ParetoPopulation()

    def _join(
        self, proposal_id: int, proposal: Proposal, result: EvalResult, cached: bool, rung: int = 0
    ) -> None:
        # As in TournamentEvolution (neutral="drop"): a cached result is the same individual again,
        # and joins only with aging, as a young copy that lets a good network survive.
        if not result.ok or (cached and not self.aging):
            return
        values = objective_values(result.fitness, result.metrics, self.objectives)
        if values is None:
            return  # an objective was not measured: nothing to rank it by
        broken = len(violations(measured(result.fitness, result.metrics, self.objectives), self.constraints))
        wvalues = to_wvalues(values, self.objectives)
        if not cached and rung > 0 and self.population.promote(proposal_id, wvalues, broken, rung):
            return
        self.population.add(proposal_id, proposal.genotype, wvalues, broken, rung)
        if self.aging and len(self.population) > self.population_size:
            self.population.drop_oldest()
