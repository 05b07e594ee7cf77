"""How the report names and colours strategies, and formats numbers: one place, so the figures and
the HTML tables always agree (a strategy is the same colour in every plot and every table chip).

Colours are Okabe & Ito's colour-blind-safe palette ("Color Universal Design", 2008): the four
strategies get hues that stay distinct under the common colour-vision deficiencies, and the plots
never rely on colour alone (legends and direct labels name every line).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Group labels in the order they are listed and plotted: the paper's method first, its aged variant
# beside it, then the two baselines.
EVOLUTION = "evolution"
AGING = "evolution (aging)"
RL = "RL controller"
RANDOM = "random search"
ORDER = (EVOLUTION, AGING, RL, RANDOM)

COLOURS = {
    EVOLUTION: "#0072B2",  # blue
    AGING: "#009E73",  # bluish green
    RL: "#CC79A7",  # reddish purple
    RANDOM: "#E69F00",  # orange
}
# Strategies this module does not know yet (a future --strategy) get the rest of the palette.
SPARE_COLOURS = ("#D55E00", "#56B4E9", "#000000", "#F0E442")

INK = "#1f2328"  # text and axes
MUTED = "#6a737d"  # secondary text, grid labels
GRID = "#e4e7eb"
FAILED = "#444444"  # failed evaluations: hatched dark grey, whatever the strategy


def group_label(strategy: str, aging: bool) -> str:
    """The name a run is grouped under: aging evolution is its own group, since it is compared
    against plain evolution as a separate method (Real et al. 2019)."""
    if strategy == "evolution":
        return AGING if aging else EVOLUTION
    return {"rl": RL, "random": RANDOM}.get(strategy, strategy)


def group_order(labels: set[str] | list[str]) -> list[str]:
    known = [label for label in ORDER if label in labels]
    return known + sorted(set(labels) - set(ORDER))


def colour(label: str, labels: list[str] | None = None) -> str:
    """The colour of a group; unknown groups take spare colours by their place in ``labels``."""
    if label in COLOURS:
        return COLOURS[label]
    unknown = [name for name in (labels or [label]) if name not in COLOURS]
    index = unknown.index(label) if label in unknown else 0
    return SPARE_COLOURS[index % len(SPARE_COLOURS)]


@dataclass(frozen=True, slots=True)
class FitnessFormat:
    """How fitness values of one unit are written: fractions as percent with two decimals (the
    NB201 tables' 84.892 is 84.89%; 1/360 of the digits validation images is 0.28%)."""

    scale: float
    decimals: int
    suffix: str

    def text(self, value: float | None) -> str:
        if value is None or not math.isfinite(value):
            return "–"
        return f"{value * self.scale:.{self.decimals}f}{self.suffix}"

    def spread(self, value: float) -> str:
        return f"{value * self.scale:.{self.decimals}f}"


def fitness_format(unit: str) -> FitnessFormat:
    """Fractions and percentages as percent; any other unit as it is, with four decimals."""
    if unit == "fraction":
        return FitnessFormat(100.0, 2, "%")
    if unit == "percent":
        return FitnessFormat(1.0, 2, "%")
    return FitnessFormat(1.0, 4, f" {unit}" if unit else "")


def metric_text(name: str, value: object) -> str:
    """A metric as a person reads it: parameter and FLOP counts with SI prefixes, seconds with a unit."""
    if isinstance(value, bool) or value is None:
        return "–" if value is None else str(value)
    if isinstance(value, int | float):
        lowered = name.lower()
        if lowered in ("params", "flops") or lowered.endswith(("_params", "_flops")):
            return si(float(value))
        if lowered == "seconds" or lowered.endswith("_seconds"):
            return f"{value:.1f} s"
        if isinstance(value, int):
            return str(value)
        return f"{value:.4g}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)


def si(value: float) -> str:
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"
