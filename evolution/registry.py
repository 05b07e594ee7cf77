"""Search strategies by name: the CLI's ``--strategy`` and the config's ``search.strategy``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from evolution.random_search import RandomSearch
from evolution.strategy import Strategy
from evolution.tournament import TournamentEvolution
from motifs import Space


def _evolution(space: Space, seed: int, settings: Mapping[str, Any]) -> Strategy:
    return TournamentEvolution(
        space,
        seed=seed,
        population=settings["population"],
        tournament=settings["tournament"],
        aging=settings["aging"],
        init_mutations=settings["init_mutations"],
        neutral=settings.get("neutral", "drop"),
    )


def _random(space: Space, seed: int, settings: Mapping[str, Any]) -> Strategy:
    return RandomSearch(space, seed=seed, init_mutations=settings["init_mutations"])


def _rl(space: Space, seed: int, settings: Mapping[str, Any]) -> Strategy:
    from evolution.reinforce import ReinforceStrategy  # torch-based; loaded only when asked for

    return ReinforceStrategy(space, seed=seed, **settings["rl"])


STRATEGIES: dict[str, Callable[[Space, int, Mapping[str, Any]], Strategy]] = {
    "evolution": _evolution,
    "random": _random,
    "rl": _rl,
}


def make_strategy(name: str, space: Space, seed: int, settings: Mapping[str, Any]) -> Strategy:
    """``settings``: the search section (population, tournament, aging, rl) plus init_mutations."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r} (known: {', '.join(sorted(STRATEGIES))})")
    return STRATEGIES[name](space, seed, settings)
