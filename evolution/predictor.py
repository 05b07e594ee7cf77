"""A fitness predictor learned from the results so far, and the acquisition that uses it.

The model is an ensemble of randomised regression trees (scikit-learn's ExtraTreesRegressor) over
the path encoding (evolution.path_encoding). Why trees and not BANANAS' MLP ensemble: with the 20 to
150 results a table run or a short training run has, trees need no learning-rate, epoch or width
tuning, fit in milliseconds without torch, are invariant to the scale of path counts, and their
spread across members is a usable uncertainty (White et al. 2021b, "How powerful are performance
predictors in NAS?", found tree ensembles among the strongest predictors at small training sizes).
benchmarks/predictor_quality.py measures the Kendall τ this achieves.

Every fit draws from a generator derived from the run seed and the number of results it was fitted
on, so a resumed run, which refits on the journal's history, predicts exactly as the uninterrupted
one did: no model state is ever saved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from evolution.path_encoding import PathEncoder
from motifs import Genotype

ACQUISITIONS = ("ucb", "thompson", "mean")
TARGETS = ("raw", "rank")


@dataclass(frozen=True, slots=True)
class Prediction:
    """Per candidate: the ensemble's mean and spread, and every member's prediction (members × n)."""

    mean: np.ndarray
    std: np.ndarray
    members: np.ndarray


class FitnessPredictor:
    """Predicted fitness with an uncertainty, for genotypes of one space."""

    def __init__(self, primitives: Sequence[str], *, trees: int = 32, target: str = "raw") -> None:
        if target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
        self.encoder = PathEncoder(primitives)
        self.trees, self.target = trees, target
        self._trees: list = []
        self._columns = np.zeros(0, dtype=int)

    @property
    def fitted(self) -> bool:
        return bool(self._trees)

    def fit(self, genotypes: Sequence[Genotype], fitness: Sequence[float], rng: np.random.Generator) -> None:
        from sklearn import config_context
        from sklearn.tree import DecisionTreeRegressor

        features = self.encoder.encode_all(genotypes)
        # Only paths some training network has: the others cannot split, and skipping them makes a
        # fit on NB201 (84 of 512 slots possible) several times faster.
        self._columns = np.flatnonzero(features.any(axis=0))
        if not len(self._columns):
            self._columns = np.zeros(1, dtype=int)
        features = np.ascontiguousarray(features[:, self._columns], dtype=np.float32)
        target = np.asarray(fitness, dtype=float)
        if self.target == "rank":
            # Ranks in (0, 1]: squared-error splits then separate the good networks from each other
            # instead of spending themselves on the few that barely learn (NB201's 10% cells).
            target = (np.argsort(np.argsort(target, kind="stable"), kind="stable") + 1.0) / len(target)
        # ExtraTreesRegressor's members, built directly and with scikit-learn's parameter validation
        # off (the parameters are fixed here): the forest's per-member cloning and the checks cost
        # more than the trees themselves on a hundred points.
        self._trees = []
        with config_context(skip_parameter_validation=True):
            for seed in rng.integers(2**31 - 1, size=self.trees):
                tree = DecisionTreeRegressor(splitter="random", max_features=0.5, random_state=int(seed))
                self._trees.append(tree.fit(features, target, check_input=False).tree_)

    def predict(self, genotypes: Sequence[Genotype]) -> Prediction:
        if not self._trees:
            raise RuntimeError("predict before fit")
        features = self.encoder.encode_all(genotypes)[:, self._columns].astype(np.float32)
        members = np.stack([tree.predict(features)[:, 0] for tree in self._trees])
        return Prediction(members.mean(axis=0), members.std(axis=0), members)


def acquire(prediction: Prediction, acquisition: str, rng: np.random.Generator, beta: float = 1.0) -> int:
    """The index of the candidate the acquisition prefers (first of equals)."""
    return int(np.argmax(scores(prediction, acquisition, rng, beta)))


def scores(
    prediction: Prediction, acquisition: str, rng: np.random.Generator, beta: float = 1.0
) -> np.ndarray:
    """Each candidate's value under the acquisition, higher preferred.

    ``mean``: exploit the ensemble mean. ``ucb``: mean + beta · spread, optimism where the members
    disagree (BANANAS' independent-Thompson/UCB family). ``thompson``: one ensemble member drawn at
    random, a sample of the posterior over fitness functions.
    """
    if acquisition == "mean":
        return prediction.mean
    if acquisition == "ucb":
        return prediction.mean + beta * prediction.std
    if acquisition == "thompson":
        return prediction.members[int(rng.integers(len(prediction.members)))]
    raise ValueError(f"acquisition must be one of {', '.join(ACQUISITIONS)}, got {acquisition!r}")
