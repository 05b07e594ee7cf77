"""Learning-rate schedules, as a multiplier of the base rate per step (0-based).

- ``step``: the paper's (section 4.1): 0.1 for 4000 steps, then divided by 10 (``lr_drop_at``,
  ``lr_drop_factor``); each listed step multiplies the rate once more.
- ``cosine``: half a cosine from 1 to 0 over the steps after warm-up (Loshchilov & Hutter 2017); the
  usual choice for the long final training.
- ``constant``.

An optional linear warm-up over ``warmup_steps`` comes first with every schedule: large-batch SGD with
batch norm can blow up in its first steps at lr 0.1, and a short ramp costs nothing.
"""

from __future__ import annotations

import math

from hiernas.config import TrainingSettings


def lr_factor(step: int, settings: TrainingSettings) -> float:
    """The multiplier of ``settings.lr`` for the update made at ``step`` (0-based)."""
    warmup = settings.warmup_steps
    if step < warmup:
        return (step + 1) / warmup
    if settings.schedule == "constant":
        return 1.0
    if settings.schedule == "step":
        drops = sum(step >= at for at in settings.lr_drop_at)
        return settings.lr_drop_factor**drops
    span = max(1, settings.steps - warmup)
    progress = min(1.0, (step - warmup) / span)
    return 0.5 * (1 + math.cos(math.pi * progress))
