"""Bayesian optimisation over networks: a Gaussian process on slot codes, expected improvement.

After ``population`` random networks, each ask proposes the network of highest expected
improvement (Jones et al. 1998) over the best fitness so far, under the Gaussian process of
evolution/gaussian_process.py, among a candidate pool:

- the whole space when it holds at most ``pool`` genotypes (NAS-Bench-201's 15,625), so nothing
  can hide from the model;
- otherwise ``pool`` random networks, drawn once from the run seed, plus the one-mutation
  neighbours of the ``parents`` fittest networks so far, where the model can refine.

With ``target="rank"`` (the default) the model learns the fitnesses' normal scores instead of the
fitnesses: a Gaussian likelihood fits them, where raw accuracies are skewed by a tail of broken
networks that inflates the scale and flattens the differences among the best (the Gaussian copula
transform of Salinas et al. 2020; HEBO's output warping is the same idea with a power transform;
benchmarks/RESULTS.md, "Sixth round").

Networks already evaluated or in flight (by canonical key) are never proposed. The model's
relevances and noise are learned at the same result counts guided evolution refits at
(``fit_size``), on those first results with a generator derived from the seed and the count; the
posterior then takes in every result. Everything is a function of the seed and the told results,
so a resumed run proposes exactly what the uninterrupted one would. With successive halving a
network's first result is the one the model learns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import norm, rankdata

from evolution.evaluation import EvalResult
from evolution.gaussian_process import CategoricalGP
from evolution.guided import fit_size
from evolution.local_search import neighbours
from evolution.proposal_counts import ProposalCounts
from evolution.seeding import numpy_rng, python_rng
from evolution.slot_encoding import slot_codes
from evolution.strategy import Proposal, Told
from motifs import Genotype, Space, sample
from motifs.canonical import canonical_key
from motifs.enumeration import all_genotypes, space_size


class BayesianOptimisation(ProposalCounts):
    name = "bayesian"

    def __init__(
        self,
        space: Space,
        *,
        seed: int,
        population: int = 20,
        init_mutations: int = 1000,
        pool: int = 20000,
        parents: int = 5,
        starts: int = 3,
        target: str = "rank",
    ) -> None:
        if pool < 1 or parents < 0 or starts < 1:
            raise ValueError(
                f"pool and starts must be >= 1 and parents >= 0, got {pool}, {parents}, {starts}"
            )
        if target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
        self.space, self.seed = space, seed
        self.population_size, self.init_mutations = population, init_mutations
        self.pool_size, self.parents, self.to_target = pool, parents, TARGETS[target]
        self.whole_space = space_size(space) <= pool  # the pool is the space: no neighbours to add
        self.model = CategoricalGP(starts)
        self.asked = 0
        self.initial_asked = 0
        self.in_flight: dict[str, int] = {}
        self._pool: Candidates | None = None  # derivable, never saved
        self._near: tuple[tuple[int, ...], Candidates] | None = None  # the parents' neighbours, by parents
        self._reset_history()

    def _reset_history(self) -> None:
        self.known: set[str] = set()  # canonical keys told, failures included
        self.train_genotypes: list[Genotype] = []
        self.train_codes: list[np.ndarray] = []
        self.train_fitness: list[float] = []
        self.optimised_on = -1

    def ask(self) -> Proposal | None:
        if self.initial_asked < self.population_size or len(self.train_fitness) < 2:
            if self.initial_asked >= self.population_size and self.in_flight:
                return None  # the initial results are not in yet (or all failed so far)
            self.initial_asked += 1
            return self._random()
        genotypes, keys, codes = self._candidates()
        fresh = [k for k, key in enumerate(keys) if key not in self.known and key not in self.in_flight]
        if not fresh:
            return self._random(restart=True)  # the whole pool is known: widen at random
        target = self._fit()
        mean, std = self.model.predict(codes[fresh])
        best = float(target.max())
        z = (mean - best) / std
        improvement = (mean - best) * norm.cdf(z) + std * norm.pdf(z)
        pick = fresh[int(np.argmax(improvement))]
        return self._propose(Proposal(genotypes[pick], "model"), keys[pick])

    def _random(self, restart: bool = False) -> Proposal:
        genotype = sample(self.space, python_rng(self.seed, "ask", self.asked), self.init_mutations)
        extra = {"restart": True} if restart else {}
        return self._propose(Proposal(genotype, "init", extra=extra), canonical_key(genotype))

    def _fit(self) -> np.ndarray:
        """Condition the model on every result (relearning its hyperparameters on the refit
        schedule); returns the targets it learned."""
        size = fit_size(len(self.train_fitness))
        codes, fitness = np.stack(self.train_codes), np.asarray(self.train_fitness)
        if size != self.optimised_on:
            # The first `size` results alone, warped among themselves: what a resumed run sees too.
            self.model.optimise(
                codes[:size], self.to_target(fitness[:size]), numpy_rng(self.seed, "gp", size)
            )
            self.optimised_on = size
        target = self.to_target(fitness)
        self.model.condition(codes, target)
        return target

    def _candidates(self) -> Candidates:
        """The pool (built once), plus the neighbours of the fittest networks when it is sampled
        (made again only when the fittest change)."""
        if self._pool is None:
            if self.whole_space:
                listed = all_genotypes(self.space)
            else:
                rng = python_rng(self.seed, "pool")
                listed = (sample(self.space, rng, self.init_mutations) for _ in range(self.pool_size))
            self._pool = _distinct((genotype, canonical_key(genotype)) for genotype in listed)
        if self.whole_space or not self.parents:
            return self._pool
        order = sorted(range(len(self.train_fitness)), key=lambda k: -self.train_fitness[k])[: self.parents]
        parents = tuple(order)
        if self._near is None or self._near[0] != parents:
            near = ((child, key) for k in parents for child, key, _ in neighbours(self.train_genotypes[k]))
            self._near = parents, _distinct(near)
        (genotypes, keys, codes), (near_genotypes, near_keys, near_codes) = self._pool, self._near[1]
        return genotypes + near_genotypes, keys + near_keys, np.concatenate([codes, near_codes])

    def tell(
        self, proposal_id: int, proposal: Proposal, result: EvalResult, cached: bool = False, rung: int = 0
    ) -> None:
        key = canonical_key(proposal.genotype)
        self._settle(key)
        self._learn(proposal, result, key)

    def _learn(self, proposal: Proposal, result: EvalResult, key: str) -> None:
        if key in self.known:
            return  # a cached answer, a retry or a later rung: a network's first result counts
        self.known.add(key)
        if result.ok:
            self.train_genotypes.append(proposal.genotype)
            self.train_codes.append(slot_codes(proposal.genotype))
            self.train_fitness.append(float(result.fitness))

    def restore(self, state: Mapping[str, Any], history: Sequence[Told]) -> None:
        self._restore_counts(state)
        self._reset_history()
        for told in history:
            self._learn(told.proposal, told.result, canonical_key(told.proposal.genotype))


def normal_scores(values: np.ndarray) -> np.ndarray:
    """Φ⁻¹((rank − ½) / n) of each value, ties sharing their mean rank: a monotone map of any
    sample onto standard normal quantiles."""
    return norm.ppf((rankdata(values) - 0.5) / len(values))


# What the model learns of the fitnesses: their normal scores, or the fitnesses themselves.
TARGETS = {"rank": normal_scores, "raw": np.asarray}


# Candidate networks: genotypes, their canonical keys and their slot codes, row for row.
Candidates = tuple[list[Genotype], list[str], np.ndarray]


def _distinct(keyed: Iterable[tuple[Genotype, str]]) -> Candidates:
    """The first genotype of each network (by its canonical key, given), its key, and its codes."""
    kept: dict[str, Genotype] = {}
    for genotype, key in keyed:
        kept.setdefault(key, genotype)
    listed = list(kept.values())
    codes = np.stack([slot_codes(g) for g in listed]) if listed else np.zeros((0, 0), dtype=np.int16)
    return listed, list(kept), codes
