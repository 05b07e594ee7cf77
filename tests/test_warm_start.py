"""``hiernas evolve --warm-start RUN_DIR --top K`` on table runs: the seeds are the earlier run's best
distinct networks, evaluated again, recorded with their origin; the rest of the initial population
is what an unseeded run samples; a resume never seeds twice; bad input is one line."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli
from tests.engine_helpers import synthetic_nb201_table


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_nb201_table(tmp_path_factory.mktemp("table") / "nb201.csv")


def _evolve(table: Path, run_dir: Path, *args: str) -> None:
    code, _, err = run_cli(
        *("evolve", "nb201", "--run-dir", str(run_dir), "--set", f"evaluator.table={table}"),
        *("--set", "executor.kind=inline", "--set", "executor.timeout=null", "--set", "search.population=8"),
        *args,
    )
    assert code == 0, err


def _rows(run_dir: Path, query: str) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(run_dir / "journal.sqlite")) as connection:
        return connection.execute(query).fetchall()


def _best_distinct(run_dir: Path, k: int) -> list[tuple[str, float]]:
    ranked = _rows(
        run_dir,
        "SELECT p.key, e.fitness FROM evaluations e JOIN proposals p ON p.id = e.proposal "
        "WHERE e.final = 1 AND e.status = 'done' ORDER BY e.fitness DESC, e.id",
    )
    best: dict[str, float] = {}
    for key, fitness in ranked:
        best.setdefault(key, fitness)
    return list(best.items())[:k]


def _seed_proposals(run_dir: Path) -> list[tuple[int, str, dict]]:
    rows = _rows(run_dir, "SELECT id, key, extra FROM proposals ORDER BY id")
    return [(i, key, json.loads(extra)["warm_start"]) for i, key, extra in rows if "warm_start" in extra]


@pytest.fixture(scope="module")
def earlier(table: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("runs") / "earlier"
    # dedup off: the same network may be evaluated twice, so "distinct" has something to do.
    _evolve(table, run_dir, "--budget", "30", "--set", "search.dedup=off")
    return run_dir


def test_seeds_are_the_best_distinct_networks(table: Path, earlier: Path, tmp_path: Path) -> None:
    seeded, plain = tmp_path / "seeded", tmp_path / "plain"
    before = (earlier / "journal.sqlite").read_bytes()
    _evolve(table, seeded, "--budget", "12", "--seed", "5", "--warm-start", str(earlier), "--top", "3")
    _evolve(table, plain, "--budget", "12", "--seed", "5")
    best = _best_distinct(earlier, 3)
    seeds = _seed_proposals(seeded)
    assert [(i, key) for i, key, _ in seeds] == [(1, best[0][0]), (2, best[1][0]), (3, best[2][0])]
    assert [s["rank"] for _, _, s in seeds] == [1, 2, 3]
    assert {s["run_dir"] for _, _, s in seeds} == {str(earlier.resolve())}
    # Evaluated again here (the same table, so the same fitness), and recorded as initial individuals.
    again = _rows(
        seeded,
        "SELECT p.origin, e.fitness FROM evaluations e JOIN proposals p ON p.id = e.proposal "
        "WHERE p.id <= 3 ORDER BY p.id",
    )
    assert again == [("init", fitness) for _, fitness in best]
    (meta,) = _rows(seeded, "SELECT value FROM meta WHERE key = 'warm_start'")
    record = json.loads(meta[0])
    assert [s["key"] for s in record["seeds"]] == [key for key, _ in best] and record["top"] == 3
    # The rest of the initial population is sampled as without seeds (same streams, same places).
    origin_key = "SELECT origin, key FROM proposals WHERE id BETWEEN 4 AND 8 ORDER BY id"
    assert _rows(seeded, origin_key) == _rows(plain, origin_key)
    assert (earlier / "journal.sqlite").read_bytes() == before  # the earlier run was only read


def test_a_resume_never_seeds_twice(table: Path, earlier: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    # Stopped after two of its three seeds: the third is proposed on resume, once.
    _evolve(table, run_dir, "--budget", "2", "--warm-start", str(earlier), "--top", "3")
    assert [rank for *_, rank in ((i, k, s["rank"]) for i, k, s in _seed_proposals(run_dir))] == [1, 2]
    _evolve(table, run_dir, "--budget", "6")
    _evolve(table, run_dir, "--budget", "10", "--warm-start", str(earlier), "--top", "3")
    seeds = _seed_proposals(run_dir)
    assert [s["rank"] for _, _, s in seeds] == [1, 2, 3]
    assert [key for _, key, _ in seeds] == [key for key, _ in _best_distinct(earlier, 3)]
    # Seeds cannot be added to a run that started without them.
    unseeded = tmp_path / "unseeded"
    _evolve(table, unseeded, "--budget", "2")
    code, _, err = run_cli(
        *(
            "evolve",
            "nb201",
            "--run-dir",
            str(unseeded),
            "--set",
            f"evaluator.table={table}",
            "--budget",
            "4",
        ),
        *("--set", "executor.kind=inline", "--set", "executor.timeout=null", "--set", "search.population=8"),
        *("--warm-start", str(earlier)),
    )
    assert code == 2 and "only chosen when a run starts" in err, err


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["nb201", "--set", "space.preset=flat", "--warm-start", "EARLIER"], "does not fit this run's space"),
        (["nb201", "--warm-start", "EARLIER", "--strategy", "rl"], "no initial population to seed"),
        (["nb201", "--warm-start", "EARLIER", "--top", "9"], "initial population holds 8"),
        (["nb201", "--warm-start", "MISSING"], "no such run directory"),
        (["nb201", "--top", "3"], "--top goes with --warm-start"),
    ],
)
def test_bad_warm_starts_are_one_line(
    table: Path, earlier: Path, tmp_path: Path, args: list[str], fragment: str
) -> None:
    resolved = [{"EARLIER": str(earlier), "MISSING": str(tmp_path / "missing")}.get(a, a) for a in args]
    code, _, err = run_cli(
        "evolve",
        *resolved,
        *("--run-dir", str(tmp_path / "new"), "--set", f"evaluator.table={table}", "--budget", "2"),
        *("--set", "executor.kind=inline", "--set", "executor.timeout=null", "--set", "search.population=8"),
    )
    assert code == 2, err
    assert err.startswith("hiernas: error: ") and err.count("\n") == 1, err
    assert fragment in err, err
    assert not (tmp_path / "new").exists()  # refused before the run directory was made


def test_random_search_proposes_the_seeds_first(table: Path, earlier: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "random"
    _evolve(
        table, run_dir, "--budget", "5", "--strategy", "random", "--warm-start", str(earlier), "--top", "2"
    )
    assert [key for _, key, _ in _seed_proposals(run_dir)] == [key for key, _ in _best_distinct(earlier, 2)]
    assert [i for i, _, _ in _seed_proposals(run_dir)] == [1, 2]
    assert len(_rows(run_dir, "SELECT id FROM proposals")) >= 5


def test_a_damaged_seed_record_is_bad_input(table: Path, earlier: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    _evolve(table, run_dir, "--budget", "2", "--warm-start", str(earlier), "--top", "3")
    with contextlib.closing(sqlite3.connect(run_dir / "journal.sqlite")) as connection, connection:
        connection.execute("UPDATE meta SET value = '{\"seeds\": 3}' WHERE key = 'warm_start'")
    code, _, err = run_cli(
        *("evolve", "nb201", "--run-dir", str(run_dir), "--set", f"evaluator.table={table}", "--budget", "4"),
        *("--set", "executor.kind=inline", "--set", "executor.timeout=null", "--set", "search.population=8"),
    )
    assert code == 2 and "'warm_start' record is damaged" in err and err.count("\n") == 1, err
