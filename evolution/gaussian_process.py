"""A Gaussian process over slot codes, with one learned relevance per edge position.

Kernel: k(a, b) = exp(−Σ_s θ_s·[a_s ≠ b_s]), a product over edge positions of "same op or not"
(the categorical kernel of CoCaBO / CASMOPOLITAN, Ru et al. 2020, Wan et al. 2021), with θ_s per
position learned by maximising the marginal likelihood (automatic relevance determination). Why it
and not the tree ensemble for NAS-Bench-201: the table's best cells share a few decisive edges
(a 3×3 convolution into node 1, the skip 0 → 3) and a model that learns which positions decide can
search the right region from 20-odd results; local search, an isotropic kernel and an ARD kernel
on path encodings got stuck in far basins more often (benchmarks/RESULTS.md, "Fifth round").

Targets are standardised; the noise variance is learned too. The optimiser starts from θ = 1 and
from ``starts`` − 1 draws of the caller's generator, so a fit is a function of its data and seed.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_solve, solve_triangular
from scipy.optimize import minimize

# log θ and log noise bounds: θ from 0.02 (a position that barely matters) to 20 (one change
# decorrelates completely); noise from 1e-4 to 1 of the standardised variance.
LOG_THETA = (-4.0, 3.0)
LOG_NOISE = (-9.0, 0.0)
JITTER = 1e-6


class CategoricalGP:
    """Fit on integer code vectors (one column per position) and targets; predict mean and std."""

    def __init__(self, starts: int = 3) -> None:
        self.starts = starts
        self.log_theta = np.zeros(0)
        self.log_noise = np.log(1e-2)
        self._codes = np.zeros((0, 0), dtype=np.int16)
        self._chol = np.zeros((0, 0))
        self._alpha = np.zeros(0)
        self._shift, self._scale = 0.0, 1.0

    @property
    def fitted(self) -> bool:
        return len(self._alpha) > 0

    def optimise(self, codes: np.ndarray, target: np.ndarray, rng: np.random.Generator) -> None:
        """Learn θ and the noise from these results (then ``condition`` on any results)."""
        codes = np.asarray(codes)
        y = self._standardise(np.asarray(target, dtype=float))
        differ = (codes[:, None, :] != codes[None, :, :]).astype(float)  # n × n × positions
        positions = codes.shape[1]
        starts = [np.r_[np.zeros(positions), np.log(1e-2)]]
        for _ in range(self.starts - 1):
            starts.append(np.r_[rng.uniform(*LOG_THETA, positions), rng.uniform(-6.0, -1.0)])
        bounds = [LOG_THETA] * positions + [LOG_NOISE]
        best = None
        for start in starts:
            found = minimize(
                _neg_log_likelihood, start, args=(differ, y), jac=True, method="L-BFGS-B", bounds=bounds
            )
            if best is None or found.fun < best.fun:
                best = found
        assert best is not None
        self.log_theta, self.log_noise = best.x[:-1], float(best.x[-1])

    def condition(self, codes: np.ndarray, target: np.ndarray) -> None:
        """The posterior given these results, under the hyperparameters learned last."""
        self._codes = np.asarray(codes)
        if len(self.log_theta) != self._codes.shape[1]:
            self.log_theta = np.zeros(self._codes.shape[1])
        y = self._standardise(np.asarray(target, dtype=float), keep=True)
        kernel = self._kernel(self._codes, self._codes) + (np.exp(self.log_noise) + JITTER) * np.eye(len(y))
        self._chol = np.linalg.cholesky(kernel)
        self._alpha = cho_solve((self._chol, True), y)

    def predict(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of the (noise-free) fitness, in target units."""
        if not self.fitted:
            raise RuntimeError("predict before condition")
        cross = self._kernel(np.asarray(codes), self._codes)
        mean = cross @ self._alpha
        v = solve_triangular(self._chol, cross.T, lower=True)
        std = np.sqrt(np.maximum(1.0 - (v * v).sum(axis=0), 1e-12))
        return mean * self._scale + self._shift, std * self._scale

    def _kernel(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        theta = np.exp(self.log_theta)
        distance = np.zeros((len(a), len(b)))
        for s, weight in enumerate(theta):
            distance += weight * (a[:, s, None] != b[None, :, s])
        return np.exp(-distance)

    def _standardise(self, y: np.ndarray, keep: bool = False) -> np.ndarray:
        shift, scale = float(y.mean()), float(y.std()) or 1.0
        if keep:
            self._shift, self._scale = shift, scale
        return (y - shift) / scale


def _neg_log_likelihood(params: np.ndarray, differ: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """−log p(y | θ, noise) up to a constant, and its gradient in (log θ, log noise)."""
    theta, noise = np.exp(params[:-1]), np.exp(params[-1])
    base = np.exp(-(differ @ theta))
    kernel = base + (noise + JITTER) * np.eye(len(y))
    try:
        chol = np.linalg.cholesky(kernel)
    except np.linalg.LinAlgError:
        return 1e10, np.zeros_like(params)
    alpha = cho_solve((chol, True), y)
    value = 0.5 * y @ alpha + np.log(np.diag(chol)).sum()
    inner = cho_solve((chol, True), np.eye(len(y))) - np.outer(alpha, alpha)  # K⁻¹ − αα'
    # dK/dlog θ_s = −θ_s·differ_s∘base; d value = ½ tr(inner · dK).
    weighted = (inner * base)[:, :, None] * differ
    gradient = np.empty_like(params)
    gradient[:-1] = -0.5 * theta * weighted.sum(axis=(0, 1))
    gradient[-1] = 0.5 * noise * np.trace(inner)
    return float(value), gradient
