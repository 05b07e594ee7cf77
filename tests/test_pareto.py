"""Pareto search: DEAP's ranking against brute force, constraints, resume, and the front in status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from engine_helpers import journal_rows, run_table_search, synthetic_nb201_table
from hypothesis import given, settings
from hypothesis import strategies as st

from evolution.evaluation import EvalContext
from evolution.front import (
    Bound,
    crowding_distances,
    front_indices,
    hypervolume,
    pareto_ranks,
    parse_constraints,
    violations,
)
from hiernas.config import ConfigError, load_config
from hiernas.errors import InputError
from hiernas.evaluators.factory import prepare_evaluator
from hiernas.evaluators.objectives import INFEASIBLE
from hiernas.evaluators.table import TableEvaluator
from hiernas.nb201 import arch_to_genotype

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _dominates(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return all(x >= y for x, y in zip(a, b, strict=True)) and a != b


def _brute_ranks(vectors: list[tuple[int, ...]]) -> list[int]:
    """Peel fronts off by the definition of dominance, O(N^3), obviously right."""
    ranks = [-1] * len(vectors)
    rank = 0
    while -1 in ranks:
        left = [i for i, r in enumerate(ranks) if r == -1]
        for i in [i for i in left if not any(_dominates(vectors[j], vectors[i]) for j in left)]:
            ranks[i] = rank
        rank += 1
    return ranks


vectors = st.integers(2, 3).flatmap(
    lambda m: st.lists(st.tuples(*[st.integers(0, 6)] * m), min_size=1, max_size=40)
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(vectors)
def test_deap_ranks_equal_brute_force_dominance(points: list[tuple[int, ...]]) -> None:
    ranks = pareto_ranks(points)
    assert ranks == _brute_ranks(points)
    assert front_indices(points) == [i for i, r in enumerate(ranks) if r == 0]
    crowding = crowding_distances(points, ranks)
    for rank in set(ranks):
        members = [i for i, r in enumerate(ranks) if r == rank]
        # Each front's extremes in the first objective are boundary points: infinitely far.
        best = max(points[i][0] for i in members)
        assert any(crowding[i] == float("inf") for i in members if points[i][0] == best)


def test_hypervolume_of_a_staircase() -> None:
    # Maximise both: rectangles from (0, 0) to (3, 1), (2, 2), (1, 3) overlap in a staircase.
    assert hypervolume([(3, 1), (2, 2), (1, 3)], (0, 0)) == pytest.approx(6.0)
    # A point that does not beat the reference in every objective adds nothing.
    assert hypervolume([(3, 1), (5, -1)], (0, 0)) == pytest.approx(3.0)
    assert hypervolume([], (0, 0)) == 0.0


def test_constraints_parse_upper_and_lower_bounds() -> None:
    bounds = parse_constraints({"params": 1.0e6, "accuracy": {"min": 0.5}, "flops": {"min": 1, "max": 9}})
    assert bounds == (
        Bound("params", None, 1.0e6),
        Bound("accuracy", 0.5, None),
        Bound("flops", 1.0, 9.0),
    )
    assert violations({"params": 10, "accuracy": 0.7, "flops": 5}, bounds) == []
    broken = violations({"params": 2e6, "accuracy": 0.4, "flops": 5}, bounds)
    assert broken == ["params = 2e+06 > 1e+06", "accuracy = 0.4 < 0.5"]
    assert violations({"accuracy": 0.7, "flops": 5}, bounds) == ["params is not measured (got None)"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("search.constraints={params: {min: 5, max: 1}}", "min 5.0 is above its max 1.0"),
        ("search.constraints={params: {}}", "needs min, max or both"),
        # A NaN bound compares false with everything: the constraint would never bind.
        ("search.constraints={params: .nan}", "params.max: input should be a finite number, got nan"),
        ("search.constraints={accuracy: {min: .nan}}", "accuracy.min: input should be a finite number"),
        ("search.constraints={accuracy: {min: nan}}", "accuracy.min: input should be a finite number"),
        ("search.objectives=[{name: params, direction: min}, {name: params}]", "listed twice"),
        ("search.objectives=[{name: params, direction: down}]", "direction"),
    ],
)
def test_bad_objectives_and_constraints_are_config_errors(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config("nb201", ["evaluator.table=x.csv", override])


def test_an_objective_no_one_measures_is_refused(tmp_path: Path) -> None:
    table = synthetic_nb201_table(tmp_path / "t.csv")
    config = load_config("nb201", [f"evaluator.table={table}", "search.objectives=[{name: bleu}]"])
    with pytest.raises(InputError, match="unknown objective 'bleu'"):
        prepare_evaluator(config)


def test_a_cheap_constraint_refuses_before_evaluating(tmp_path: Path) -> None:
    table = synthetic_nb201_table(tmp_path / "t.csv")
    config = load_config("nb201", [f"evaluator.table={table}", "search.constraints={params: 100000}"])
    evaluator = prepare_evaluator(config).evaluator
    dense = arch_to_genotype(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    )
    light = arch_to_genotype(
        "|skip_connect~0|+|none~0|skip_connect~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"
    )
    refused = evaluator(dense, EvalContext(seed=0))
    assert not refused.ok and refused.error.startswith(f"{INFEASIBLE}: params = ")
    assert refused.metrics["infeasible"] is True and refused.metrics["params"] > 100000
    # Never looked up: a table result would carry the table's columns.
    assert "cifar10-val-12ep" not in refused.metrics
    kept = evaluator(light, EvalContext(seed=0))
    direct = TableEvaluator(table)(light, EvalContext(seed=0))
    assert kept == direct and kept.metrics["params"] <= 100000


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_nb201_table(tmp_path_factory.mktemp("table") / "nb201.csv")


def test_pareto_resumed_in_steps_equals_one_run(tmp_path: Path, table: Path) -> None:
    whole = run_table_search(tmp_path / "whole", table, strategy="pareto", budget=30)
    for budget in (4, 13, 30):
        run_table_search(tmp_path / "steps", table, strategy="pareto", budget=budget)
    assert whole.finished == 30
    assert journal_rows(tmp_path / "steps") == journal_rows(tmp_path / "whole")
    rows = journal_rows(tmp_path / "whole")["proposals"]
    assert {row[1] for row in rows} == {"pareto"} and any(row[2] == "mutation" for row in rows)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hiernas", *args], capture_output=True, text=True, check=True
    )


@pytest.mark.slow
def test_status_shows_the_front_of_any_strategy(tmp_path: Path, table: Path) -> None:
    for strategy in ("pareto", "random"):
        run_dir = tmp_path / strategy
        _cli(
            *("evolve", "configs/nb201-pareto.yaml", "--run-dir", str(run_dir), "--budget", "25"),
            *("--strategy", strategy, "--set", f"evaluator.table={table}"),
        )
        summary = json.loads(_cli("status", str(run_dir), "--json").stdout)
        assert [o["name"] for o in summary["front_objectives"]] == ["accuracy", "params"]
        front = summary["front"]
        assert front and summary["hypervolume"]["value"] > 0
        assert set(summary["hypervolume"]["reference"]) == {"accuracy", "params"}
        every = [
            (e["fitness"], -e["metrics"]["params"])
            for e in json.loads(_cli("status", str(run_dir), "--json", "--top", "100").stdout)["top"]
        ]
        # Every member is non-dominated among all done evaluations, and every non-dominated one is in.
        on_front = {(m["objectives"]["accuracy"], -m["objectives"]["params"]) for m in front}
        assert on_front == {every[i] for i in front_indices(every)}
        assert all(m["genotype"]["primitives"] and m["key"] for m in front)
        plain = _cli("status", str(run_dir)).stdout
        assert f"front (accuracy max, params min): {len(front)} member(s)" in plain
        assert str(front[0]["proposal"]) in plain.split("front (")[1]
    written = _cli(
        "report", str(tmp_path / "pareto"), str(tmp_path / "random"), "-o", str(tmp_path / "r.html")
    ).stdout
    names = {Path(line).name for line in written.split()}
    assert {"r-pareto.png", "r-hypervolume.png", "r-front1.png"} <= names
    page = (tmp_path / "r.html").read_text()
    assert '<section id="front">' in page and "hypervolume against finished evaluations" in page


def test_hypervolume_curves_never_fall_and_end_at_the_front(tmp_path: Path, table: Path) -> None:
    from hiernas.report.pareto import common_reference, hypervolume_curve
    from hiernas.report.runs import read_run

    run_dir = tmp_path / "run"
    _cli(
        *("evolve", "configs/nb201-pareto.yaml", "--run-dir", str(run_dir), "--budget", "20"),
        *("--set", f"evaluator.table={table}"),
    )
    run = read_run(run_dir)
    reference = common_reference([run])
    curve = hypervolume_curve(run, reference)
    assert len(curve) == 20 and bool(np.all(np.diff(curve) >= 0))
    points = [(v[0], -v[1]) for v in run.values if v is not None]
    assert curve[-1] == pytest.approx(hypervolume([points[i] for i in front_indices(points)], reference))
