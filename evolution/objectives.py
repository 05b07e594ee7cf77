"""What an evaluator measures: its objectives, each with a direction and a unit.

An evaluator declares ``objectives: tuple[Objective, ...]``; the first is the fitness the search
selects by (``EvalResult.fitness``, always higher-is-better: an evaluator whose first objective is
minimised reports its negation). The declarations are stored in the journal's meta table under
``OBJECTIVES_KEY``, so that readers (status, reports) know what a run's numbers mean without
importing its evaluator. Accuracies are fractions in [0, 1] everywhere (unit ``fraction``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Direction = Literal["max", "min"]
DIRECTIONS: tuple[Direction, ...] = ("max", "min")
OBJECTIVES_KEY = "objectives"


@dataclass(frozen=True, slots=True)
class Objective:
    """One measured quantity: ``name`` as it appears in metrics, whether more is better, its unit."""

    name: str
    direction: Direction = "max"
    unit: str = "fraction"

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("an objective needs a name")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"objective {self.name!r}: direction must be max or min, got {self.direction!r}")

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "direction": self.direction, "unit": self.unit}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Objective:
        return cls(str(data["name"]), data.get("direction", "max"), str(data.get("unit", "fraction")))

    def describe(self) -> str:
        """``accuracy (fraction, max)``: for one-line status output."""
        return f"{self.name} ({self.unit}, {self.direction})"


# Validation accuracy as a fraction of the images scored: the training and table evaluators' fitness.
ACCURACY = Objective("accuracy", "max", "fraction")
