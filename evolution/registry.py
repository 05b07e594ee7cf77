"""Things chosen by name: one ``Registry`` type for strategies, executors, evaluators and export
formats (after timm's ``register_model`` / ``list_models``).

The command line's choices, the config's validation and the "unknown name" errors all read the
registry, so a new strategy is one decorated factory. Factories import their implementation when
called: reading the names costs nothing (no torch, no worker code).

This module also holds the search strategies by name (``search.strategy``, ``--strategy``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from evolution.strategy import Strategy
    from motifs import Space

T = TypeVar("T")


class UnknownName(ValueError):
    """A name no entry of the registry is registered under; the message lists the known names."""


class Registry(Generic[T]):
    """Named entries of one kind (``what``: "strategy", "executor"...), in registration order."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@STRATEGIES.register("random")`` above a factory (or class)."""

        def add(entry: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.what} {name!r} is registered twice")
            self._entries[name] = entry
            return entry

        return add

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownName(self.unknown(name)) from None

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def unknown(self, name: object) -> str:
        """The one-line error for a name that is not registered."""
        return f"unknown {self.what} {name!r} (known: {', '.join(self._entries)})"

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)


StrategyFactory = Callable[["Space", int, Mapping[str, Any]], "Strategy"]
STRATEGIES: Registry[StrategyFactory] = Registry("strategy")


@STRATEGIES.register("evolution")
def _evolution(space: Space, seed: int, settings: Mapping[str, Any]) -> Strategy:
    from evolution.tournament import TournamentEvolution

    evolution = {
        "population": settings["population"],
        "tournament": settings["tournament"],
        "aging": settings["aging"],
        "init_mutations": settings["init_mutations"],
        "neutral": settings.get("neutral", "drop"),
    }
    if settings.get("predictor") is not None:
        from evolution.guided import GuidedEvolution

        return GuidedEvolution(space, seed=seed, **settings["predictor"], **evolution)
    return TournamentEvolution(space, seed=seed, **evolution)


@STRATEGIES.register("pareto")
def _pareto(space: Space, seed: int, settings: Mapping[str, Any]) -> Strategy:
    from evolution.front import DEFAULT_OBJECTIVES, parse_constraints
    from evolution.objectives import Objective
    from evolution.pareto import ParetoEvolution

    objectives = settings.get("objectives") or DEFAULT_OBJECTIVES
    pareto = {
        "objectives": [
            Objective(o["name"], o.get("direction", "max"), o.get("unit", "")) for o in objectives
        ],
        "constraints": parse_constraints(settings.get("constraints")),
        "population": settings["population"],
        "tournament": settings["tournament"],
        "aging": settings["aging"],
        "init_mutations": settings["init_mutations"],
    }
    if settings.get("predictor") is not None:
        from evolution.guided_pareto import GuidedPareto

        return GuidedPareto(space, seed=seed, **settings["predictor"], **pareto)
    return ParetoEvolution(space, seed=seed, **pareto)


@STRATEGIES.register("random")
def _random(space: Space, seed: int, settings: Mapping[str, Any]) -> Strategy:
    from evolution.random_search import RandomSearch

    return RandomSearch(space, seed=seed, init_mutations=settings["init_mutations"])


@STRATEGIES.register("local")
def _local(space: Space, seed: int, settings: Mapping[str, Any]) -> Strategy:
    from evolution.local_search import LocalSearch

    return LocalSearch(
        space,
        seed=seed,
        population=settings["population"],
        init_mutations=settings["init_mutations"],
        predictor=settings.get("predictor"),
        restart=settings.get("local", {}).get("restart", "random"),
    )


@STRATEGIES.register("bayesian")
def _bayesian(space: Space, seed: int, settings: Mapping[str, Any]) -> Strategy:
    from evolution.bayesian import BayesianOptimisation

    return BayesianOptimisation(
        space,
        seed=seed,
        population=settings["population"],
        init_mutations=settings["init_mutations"],
        **settings.get("bayesian", {}),
    )


@STRATEGIES.register("rl")
def _rl(space: Space, seed: int, settings: Mapping[str, Any]) -> Strategy:
    from evolution.reinforce import ReinforceStrategy  # torch-based

    return ReinforceStrategy(space, seed=seed, **settings["rl"])


def make_strategy(name: str, space: Space, seed: int, settings: Mapping[str, Any]) -> Strategy:
    """``settings``: the search section (population, tournament, aging, rl) plus init_mutations."""
    return STRATEGIES.get(name)(space, seed, settings)
