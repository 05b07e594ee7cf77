"""A training-loss score for ranking candidates trained briefly: the mean training loss over the
last third of the steps a result trained, lower is better.

Why: at a low rung the validation accuracy of a network still at its initial learning rate ranks
architectures barely better than chance (eval-mode batch-norm statistics of a network that is moving
fast, on a few hundred validation images), while the training loss it has already been summing is
a far better predictor of the accuracy after the full training (Ru et al. 2021, "Speedy performance
estimation for neural architecture search": TSE, and TSE-E over the last epoch(s)). Measured on
digits (benchmarks/RESULTS.md, "Ranking low rungs by training loss"): over the last third of a rung
it ranked better than the sum over all steps (dominated by the first steps, where every network is
near chance) at every rung, and than the last window alone at most rungs (that one is noisier).

The score is read from the ``loss_curve`` metric the training evaluator records (``hiernas.fit``):
``[step, mean loss of the window of steps ending there]``, windows in increasing step order, the
first starting at step 0. A continued training records its whole curve from step 0, so the score of
a rung's result is the same whether it was reached in one run or through checkpoints.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# The part of the trained steps the score averages over (the last third).
TAIL = 1 / 3


def final_loss(metrics: Mapping[str, Any]) -> float | None:
    """The step-weighted mean training loss of the windows ending in the last third of the trained
    steps (at least the last window); None when the metrics hold no usable ``loss_curve``."""
    # The metrics come from a results file or a journal that may be someone else's: anything but
    # a list of [step, loss] pairs of finite numbers is no score (int(inf) raises OverflowError).
    curve = metrics.get("loss_curve") if isinstance(metrics, Mapping) else None
    if not isinstance(curve, list) or not curve:
        return None
    try:
        points = [(int(step), float(loss)) for step, loss in curve]
    except (TypeError, ValueError, OverflowError):
        return None
    end = points[-1][0]
    begin = end - TAIL * end
    total, steps, previous = 0.0, 0, 0
    for step, loss in points:
        if step > begin or step == end:
            total += loss * (step - previous)
            steps += step - previous
        previous = step
    if steps <= 0 or not math.isfinite(total):
        return None
    return total / steps
