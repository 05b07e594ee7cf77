"""Pareto evolution guided by predictors: one model per objective, children ranked on the front.

``ParetoEvolution``'s population and tournaments, with ``GuidedEvolution``'s asks: after
``start_after`` results each ask makes ``candidates`` new children and proposes the one whose
predicted objectives rank best against the front measured so far. Each objective has its own tree
ensemble (evolution/predictor.py), fitted on the objective's higher-is-better values (DEAP's
wvalues); the acquisition (ucb, thompson or mean) turns each prediction into one optimistic,
sampled or expected value per objective. The children's predicted vectors and the front of every
feasible result so far are ranked together by non-domination, and the child of lowest rank wins,
then the one of largest crowding distance (NSGA-II's crowded comparison, Deb et al. 2002): a child
predicted to extend the front, and where the front is sparse.

As in ``GuidedEvolution``, the models learn each network's first result (rung 0 under successive
halving, so every value they compare was measured at the same budget), are refitted on the result
count's schedule with generators derived from the seed, and are rebuilt from the journal on resume.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from evolution.evaluation import EvalResult
from evolution.front import (
    crowding_distances,
    measured,
    objective_values,
    pareto_ranks,
    to_wvalues,
    violations,
)
from evolution.guided import GuidedEvolution, fit_size
from evolution.pareto import ParetoEvolution
from evolution.predictor import FitnessPredictor, scores
from evolution.seeding import numpy_rng
from evolution.strategy import Proposal
from motifs import Genotype, Space
from motifs.canonical import canonical_key

Vector = tuple[float, ...]


class GuidedPareto(GuidedEvolution, ParetoEvolution):
    name = "pareto"

    def __init__(
        self, space: Space, *, seed: int, trees: int = 32, target: str = "raw", **settings: Any
    ) -> None:
        super().__init__(space, seed=seed, trees=trees, target=target, **settings)
        self.predictors = [self.predictor] + [
            FitnessPredictor(space.primitives, trees=trees, target=target) for _ in self.objectives[1:]
        ]

    def _reset_training(self) -> None:
        super()._reset_training()
        self.train_values: list[Vector] = []
        self.front: list[Vector] = []  # the non-dominated feasible first results

    def _learn(self, proposal: Proposal, result: EvalResult, cached: bool) -> None:
        key = canonical_key(proposal.genotype)
        if cached or key in self.evaluated:
            return
        self.evaluated.add(key)
        values = objective_values(result.fitness, result.metrics, self.objectives) if result.ok else None
        if values is None:
            return  # failed, or an objective not measured: nothing to learn from
        wvalues = to_wvalues(values, self.objectives)
        self.train_genotypes.append(proposal.genotype)
        self.train_values.append(wvalues)
        if not violations(measured(result.fitness, result.metrics, self.objectives), self.constraints):
            self.front = extend_front(self.front, wvalues)

    def _refit(self) -> None:
        size = fit_size(len(self.train_values))
        if size == self.fitted_on:
            return
        values = np.asarray(self.train_values[:size])
        for j, predictor in enumerate(self.predictors):
            predictor.fit(
                self.train_genotypes[:size], values[:, j], numpy_rng(self.seed, "predictor", j, size)
            )
        self.fitted_on = size

    def _choose(self, children: list[Genotype]) -> int:
        rng = numpy_rng(self.seed, "acquire", self.asked)
        predicted = np.stack(
            [scores(p.predict(children), self.acquisition, rng, self.beta) for p in self.predictors], axis=1
        )
        return best_against_front(predicted, self.front)


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    return all(x >= y for x, y in zip(a, b, strict=True)) and tuple(a) != tuple(b)


def extend_front(front: list[Vector], point: Vector) -> list[Vector]:
    """``front`` with ``point`` added if nothing on it dominates or equals it (what it dominates leaves)."""
    if any(q == point or dominates(q, point) for q in front):
        return front
    return [q for q in front if not dominates(point, q)] + [point]


def best_against_front(predicted: np.ndarray, front: Sequence[Vector]) -> int:
    """The candidate (row of ``predicted``, higher-is-better values) of lowest non-dominated rank
    among the candidates and ``front`` together, then of largest crowding distance; first of equals."""
    points = [tuple(float(v) for v in row) for row in predicted] + list(front)
    ranks = pareto_ranks(points)
    crowding = crowding_distances(points, ranks)
    return min(range(len(predicted)), key=lambda i: (ranks[i], -crowding[i]))
