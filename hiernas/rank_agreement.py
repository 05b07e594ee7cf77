"""How well a cheap score ranks things like an expensive one: Kendall τ-b, Spearman ρ, τ within the
reference's top fraction, and the overlap of the top k.

What ``hiernas fidelity`` prints. Numpy only (no scipy at run time); the tests check every figure
against ``scipy.stats``, ties included. Higher scores are better in every column.

- Kendall τ-b (Kendall 1945) counts concordant minus discordant pairs, corrected for ties; it is
  computed in O(n log n) (Knight 1966), so a 15,625-row NAS-Bench-201 column takes a moment.
- Spearman ρ is the Pearson correlation of the average ranks.
- τ within the top: a search only cares how the good candidates are ordered among themselves, so τ
  is also taken over the rows the reference ranks in its top fraction.
- Top-k overlap: the share of the reference's k best rows that the cheap score also puts in its k
  best (ties broken by row order).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing their average rank (``scipy.stats.rankdata``'s default)."""
    values = np.asarray(values, dtype=np.float64)
    sorter = np.argsort(values, kind="mergesort")
    inverse = np.empty(len(values), dtype=np.intp)
    inverse[sorter] = np.arange(len(values))
    ordered = values[sorter]
    new = np.r_[True, ordered[1:] != ordered[:-1]]
    dense = np.cumsum(new)[inverse]
    bounds = np.r_[np.flatnonzero(new), len(values)]
    return 0.5 * (bounds[dense] + bounds[dense - 1] + 1)


def _tied_pairs(values: np.ndarray) -> int:
    _, counts = np.unique(values, return_counts=True)
    return int((counts * (counts - 1) // 2).sum())


def _inversions(ranks: np.ndarray) -> int:
    """Pairs i < j with ranks[i] > ranks[j] (strictly), with a Fenwick tree over the dense ranks."""
    size = int(ranks.max(initial=0)) + 1
    tree = [0] * (size + 1)
    inversions = 0
    for seen, rank in enumerate(ranks.tolist()):
        at, not_above = rank, 0
        while at > 0:
            not_above += tree[at]
            at -= at & -at
        inversions += seen - not_above
        at = rank
        while at <= size:
            tree[at] += 1
            at += at & -at
    return inversions


def kendall_tau(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's τ-b of two equally long score arrays; NaN when either is constant or shorter than 2."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = len(x)
    if n < 2:
        return math.nan
    order = np.lexsort((y, x))  # by x, then y: pairs tied in x never count as inversions
    y_dense = np.unique(y, return_inverse=True)[1].reshape(-1) + 1
    discordant = _inversions(y_dense[order])
    pairs = n * (n - 1) // 2
    tied_x, tied_y = _tied_pairs(x), _tied_pairs(y)
    tied_both = _tied_pairs(x + 1j * y)  # a pair tied in both scores
    if tied_x == pairs or tied_y == pairs:
        return math.nan
    concordant_minus_discordant = pairs - tied_x - tied_y + tied_both - 2 * discordant
    return concordant_minus_discordant / math.sqrt((pairs - tied_x) * (pairs - tied_y))


def spearman_rho(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's ρ (average ranks for ties); NaN when either is constant or shorter than 2."""
    if len(x) < 2:
        return math.nan
    rx, ry = average_ranks(x), average_ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = math.sqrt(float((rx * rx).sum()) * float((ry * ry).sum()))
    return math.nan if denominator == 0 else float((rx * ry).sum()) / denominator


def top_indices(values: np.ndarray, k: int) -> np.ndarray:
    """The k highest rows, ties broken by row order (the earlier row first)."""
    return np.argsort(-np.asarray(values, dtype=np.float64), kind="stable")[:k]


def top_count(n: int, fraction: float) -> int:
    """How many rows make the top ``fraction`` of ``n``: rounded up, at least 1 (2 if n allows, so a
    τ within it is defined)."""
    return min(n, max(2, math.ceil(fraction * n)))


@dataclass(frozen=True)
class Agreement:
    """One cheap score against the reference."""

    column: str
    rows: int
    kendall_tau: float
    spearman_rho: float
    top_kendall_tau: float
    top_k: int
    top_k_overlap: float

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: NaN (an undefined statistic) becomes null."""
        return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in asdict(self).items()}


def agreement(
    column: str, cheap: np.ndarray, reference: np.ndarray, *, top_fraction: float = 0.1
) -> Agreement:
    """Every statistic of ``cheap`` against ``reference`` (same rows, same order)."""
    cheap, reference = np.asarray(cheap, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    n = len(reference)
    k = top_count(n, top_fraction)
    best = top_indices(reference, k)
    overlap = len(set(best.tolist()) & set(top_indices(cheap, k).tolist())) / k if n else math.nan
    return Agreement(
        column=column,
        rows=n,
        kendall_tau=kendall_tau(cheap, reference),
        spearman_rho=spearman_rho(cheap, reference),
        top_kendall_tau=kendall_tau(cheap[best], reference[best]),
        top_k=k,
        top_k_overlap=overlap,
    )
