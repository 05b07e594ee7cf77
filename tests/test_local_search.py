"""Local search: its neighbourhoods, that it climbs to the optimum, and that a resume proposes what
the uninterrupted run proposed."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from evolution.driver import Driver
from evolution.evaluation import EvalResult
from evolution.executors.inline import InlineExecutor
from evolution.journal import FILENAME, Journal
from evolution.local_search import LocalSearch, neighbours
from evolution.registry import make_strategy
from evolution.run_status import RunStatus
from motifs import PRESETS, Genotype, mutate, sample
from motifs.canonical import canonical_key
from tests.engine_helpers import journal_rows
from tests.evaluators import ToyEvaluator


def _cells(genotype: Genotype) -> dict[tuple[int, int, int, int], int]:
    return {
        (k, m, i, j): op
        for k, level in enumerate(genotype.levels)
        for m, motif in enumerate(level)
        for i, row in enumerate(motif.matrix)
        for j, op in enumerate(row)
    }


@pytest.mark.parametrize("preset", ["nb201", "hierarchical"])
def test_the_neighbourhood_is_every_network_one_mutation_away_once(preset: str) -> None:
    rng = random.Random(3)
    for _ in range(3):
        genotype = sample(PRESETS[preset], rng, 200)
        own, cells = canonical_key(genotype), _cells(genotype)
        found = neighbours(genotype)
        keys = [key for _, key, _ in found]
        assert len(set(keys)) == len(keys) and own not in keys
        for child, key, record in found:
            assert canonical_key(child) == key
            changed = {at: op for at, op in _cells(child).items() if cells[at] != op}
            assert changed == {(record.level - 2, record.motif, record.i, record.j): record.new}
            assert cells[(record.level - 2, record.motif, record.i, record.j)] == record.old
        # Every mutation motifs can draw reaches the genotype's own network or one of these.
        drawn = {canonical_key(mutate(genotype, rng)[0]) for _ in range(400)}
        assert drawn <= {own, *keys}
        if preset == "nb201":
            assert drawn - {own} == set(keys)  # at most 24 networks, 400 draws: all of them


def _matches(target: Genotype):
    """A fitness over NB201 networks: how many of the live edges carry ``target``'s op there. Its
    single optimum is ``target`` (every edge live), fitness 6."""
    want = target.cell.matrix

    def fitness(genotype: Genotype) -> float:
        return float(sum(want[e.src][e.dst] == e.op for e in genotype.cell.live_edges()))

    return fitness


@pytest.mark.parametrize("predictor", [None, {"acquisition": "ucb", "start_after": 10, "trees": 8}])
def test_local_search_climbs_to_the_optimum_of_a_synthetic_fitness(predictor: dict | None) -> None:
    space = PRESETS["nb201"]
    target = space.initial()
    for i, j, op in ((0, 1, 3), (0, 2, 2), (0, 3, 1), (1, 2, 4), (1, 3, 3), (2, 3, 2)):
        target = target.with_edge(0, 0, i, j, op)
    fitness = _matches(target)
    search = LocalSearch(space, seed=4, population=10, init_mutations=100, predictor=predictor)
    keys = []
    for proposal_id in range(120):
        proposal = search.ask()
        assert proposal is not None
        keys.append(canonical_key(proposal.genotype))
        search.tell(proposal_id, proposal, EvalResult.done(fitness(proposal.genotype)))
        if canonical_key(proposal.genotype) == canonical_key(target):
            break
    else:
        pytest.fail("the optimum was not found in 120 evaluations of 15,625 cells")
    assert len(set(keys[10:])) == len(keys[10:])  # after the initial population: never a network twice


@pytest.mark.parametrize("restart", ["random", "best"])
def test_a_random_restart_starts_a_new_climb_and_best_first_never_restarts(restart: str) -> None:
    """Every network equally fit: the first climb's best is a local optimum once its neighbourhood
    is evaluated. restart="random" then samples a new start and climbs from it alone; "best" moves
    on to the next-best evaluated network instead."""
    search = LocalSearch(PRESETS["nb201"], seed=1, population=5, init_mutations=100, restart=restart)
    keys: dict[int, str] = {}  # proposal id -> its network
    climb: set[str] = set()
    restarts = 0
    for proposal_id in range(100):
        proposal = search.ask()
        assert proposal is not None
        keys[proposal_id] = canonical_key(proposal.genotype)
        if "restart" in proposal.extra:
            restarts, climb = restarts + 1, set()
        elif proposal.origin == "mutation" and restarts:
            assert proposal.parent is not None
            assert keys[proposal.parent] in climb  # a neighbour of this climb's networks only
        climb.add(keys[proposal_id])
        search.tell(proposal_id, proposal, EvalResult.done(0.5), rung=0)
    assert (restarts >= 2) if restart == "random" else (restarts == 0)


def test_the_config_sets_the_restart_and_refuses_an_unknown_one() -> None:
    from hiernas.config import load_config
    from hiernas.config.sections import ConfigError
    from hiernas.search import strategy_for

    table = "evaluator.table=unused.csv"
    search = strategy_for(load_config("nb201", [table, "search.strategy=local", "search.local.restart=best"]))
    assert isinstance(search, LocalSearch) and search.restart == "best"
    assert strategy_for(load_config("nb201", [table, "search.strategy=local"])).restart == "random"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=r"search\.local\.restart"):
        load_config("nb201", [table, "search.strategy=local", "search.local.restart=sideways"])


def _local_run(run_dir: Path, budget: int, predictor: dict | None, restart: str = "random") -> RunStatus:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / FILENAME
    journal = Journal.open(path) if path.exists() else Journal.create(path)
    settings = {"population": 8, "init_mutations": 100, "predictor": predictor, "local": {"restart": restart}}
    try:
        search = make_strategy("local", PRESETS["hierarchical"], 5, settings)
        assert isinstance(search, LocalSearch)
        return Driver(search, InlineExecutor(ToyEvaluator()), journal, budget=budget, seed=5).run()
    finally:
        journal.close()


@pytest.mark.parametrize(
    ("predictor", "restart"),
    [
        (None, "random"),
        (None, "best"),
        ({"acquisition": "thompson", "start_after": 10, "trees": 8}, "random"),
    ],
)
def test_resuming_a_local_search_proposes_what_the_uninterrupted_run_proposed(
    tmp_path: Path, predictor: dict | None, restart: str
) -> None:
    """Stopping and resuming in steps (in the initial population, just after it, later) writes the
    same journal as one run: the incumbent and its neighbourhood follow from the told results."""
    whole = _local_run(tmp_path / "whole", 30, predictor, restart)
    assert whole.finished == 30
    for budget in (5, 9, 30):
        _local_run(tmp_path / "steps", budget, predictor, restart)
    rows = journal_rows(tmp_path / "steps")
    assert rows == journal_rows(tmp_path / "whole")
    assert sum(row[2] == "mutation" for row in rows["proposals"]) >= 20  # it did climb


def test_with_dedup_resample_every_evaluation_is_a_new_network(tmp_path: Path) -> None:
    """One mutation from the identity chain makes the initial samples and restarts repeat often:
    the driver rejects those, and the search still spends its budget on new networks only."""
    journal = Journal.create(tmp_path / FILENAME)
    try:
        search = make_strategy("local", PRESETS["nb201"], 2, {"population": 8, "init_mutations": 1})
        status = Driver(
            search, InlineExecutor(ToyEvaluator()), journal, budget=40, seed=2, dedup="resample"
        ).run()
        history = journal.history()
    finally:
        journal.close()
    assert status.finished == 40
    networks = [canonical_key(told.proposal.genotype) for told in history]
    assert len(set(networks)) == len(networks) == 40
