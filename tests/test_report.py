"""``hiernas report`` through the real CLI, on real runs of the three strategies on a synthetic NB201
table: a self-contained page with every section, numbers equal to the journals', PNGs beside it,
one-line errors for bad input, consistent reads of a run that is being written, and a clean render
in headless Chromium."""

from __future__ import annotations

import base64
import contextlib
import csv
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from evolution.journal import FILENAME, Journal
from hiernas.commands.report import IMAGES
from hiernas.report.html import SECTIONS
from hiernas.report.runs import read_run
from tests.cli_helpers import run_cli
from tests.engine_helpers import synthetic_nb201_table

STRATEGIES = ("evolution", "random", "rl")
SEEDS = (0, 1)
BUDGET = 30
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic table less every seventh row: a partial table, so that some evaluations fail
    (as a diverging training would) and the failures section has something to show."""
    folder = tmp_path_factory.mktemp("table")
    full = synthetic_nb201_table(folder / "full.csv")
    partial = folder / "nb201.csv"
    with full.open(newline="") as source, partial.open("w", newline="") as target:
        writer = csv.writer(target)
        for number, row in enumerate(csv.reader(source)):
            if number == 0 or number % 7:
                writer.writerow(row)
    return partial


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, table: Path) -> list[Path]:
    """Two seeds of each strategy, run by the real ``hiernas evolve``."""
    root = tmp_path_factory.mktemp("runs")
    made = []
    for strategy in STRATEGIES:
        for seed in SEEDS:
            run_dir = root / f"{strategy}-s{seed}"
            code, _, err = run_cli(
                "evolve",
                "nb201",
                "--run-dir",
                str(run_dir),
                "--strategy",
                strategy,
                "--seed",
                str(seed),
                "--budget",
                str(BUDGET),
                "--set",
                f"evaluator.table={table}",
            )
            assert code == 0, err
            made.append(run_dir)
    return made


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, runs: list[Path]) -> Path:
    output = tmp_path_factory.mktemp("report") / "report.html"
    code, out, err = run_cli("report", *map(str, runs), "-o", str(output))
    assert code == 0, err
    assert out.splitlines()[0] == str(output)
    return output


class _Page(HTMLParser):
    """What the tests look at: section ids, image sources, links, run rows."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.images: list[str] = []
        self.links: list[str] = []
        self.rows: dict[str, dict[str, str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "section":
            self.sections.append(found["id"])
        if "src" in found:
            self.images.append(found["src"])
        if "href" in found:
            self.links.append(found["href"])
        if tag == "tr" and "data-run" in found:
            self.rows[found["data-run"]] = found


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_the_page_is_self_contained_and_has_every_section(report: Path) -> None:
    page = _parse(report)
    assert page.sections == list(SECTIONS)
    # Nothing is fetched from anywhere: images are data URLs, links point inside the page.
    assert all(src.startswith("data:image/png;base64,") for src in page.images)
    assert all(href.startswith("#") and href[1:] in SECTIONS for href in page.links)
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:|//|file:)", report.read_text())
    # convergence, distribution, runs, best genotype; then the front: scatter, hypervolume, drawings
    assert len(page.images) == 4 + 2 + len(list(report.parent.glob("report-front?.png")))


def test_the_pngs_lie_beside_the_page_and_are_the_inline_images(report: Path) -> None:
    inline = [base64.b64decode(src.split(",", 1)[1]) for src in _parse(report).images]
    beside = [report.with_name(f"report-{name}.png") for name in IMAGES]
    beside = [path for path in beside if path.exists()]
    assert len(beside) >= 6
    for path in beside:
        assert path.read_bytes().startswith(PNG_MAGIC), path
    assert inline == [path.read_bytes() for path in beside]


def test_numbers_match_the_journals(report: Path, runs: list[Path]) -> None:
    rows = _parse(report).rows
    assert set(rows) == {run_dir.name for run_dir in runs}
    failures = 0
    for run_dir in runs:
        with contextlib.closing(sqlite3.connect(run_dir / FILENAME)) as db:
            best, done, failed = db.execute(
                "SELECT MAX(CASE WHEN status = 'done' THEN fitness END), SUM(status = 'done'), "
                "SUM(status = 'failed') FROM evaluations WHERE final = 1"
            ).fetchone()
            (cached,) = db.execute("SELECT COUNT(*) FROM proposals WHERE cached_from IS NOT NULL").fetchone()
        row = rows[run_dir.name]
        assert float(row["data-best"]) == best
        assert (int(row["data-done"]), int(row["data-failed"]), int(row["data-cached"])) == (
            done,
            failed,
            cached,
        )
        assert done + failed == BUDGET
        failures += failed
    assert failures > 0, "the partial table should have made some evaluations fail"
    text = report.read_text()
    # The best fitness over all runs heads the best-genotype section, and the failures are counted.
    overall = max(float(row["data-best"]) for row in rows.values())
    best_section = text[text.index('<section id="best">') : text.index('<section id="top">')]
    # Fitness is a fraction (the table's percent / 100), written as a labelled percentage.
    assert 0 < overall <= 1
    assert f"<strong>{100 * overall:.2f}%</strong>" in best_section
    assert "a fraction, shown in percent" in text[: text.index('<section id="summary">')]
    assert "is not in the table" in text[text.index('<section id="failures">') :]


def test_runs_given_in_any_order_and_twice_make_one_report(
    report: Path, runs: list[Path], tmp_path: Path
) -> None:
    again = tmp_path / "again.html"
    code, _, err = run_cli("report", *map(str, [*reversed(runs), runs[0]]), "-o", str(again))
    assert code == 0, err
    assert _parse(again).rows == _parse(report).rows


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((), "give at least one run directory"),
        (("{missing}",), "no such directory"),
        (("{not_a_run}",), "not a hiernas run"),
        (("{run}", "-o", "{folder}/report.txt"), "give a name ending in .html"),
        (("{run}", "-o", "{folder}/no/such/report.html"), "no folder"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    arguments: tuple[str, ...], message: str, runs: list[Path], tmp_path: Path
) -> None:
    (tmp_path / "plain").mkdir()
    names = {
        "missing": str(tmp_path / "missing"),
        "not_a_run": str(tmp_path / "plain"),
        "run": str(runs[0]),
        "folder": str(tmp_path),
    }
    code, out, err = run_cli("report", *(argument.format(**names) for argument in arguments))
    assert code == 2 and out == "", err
    assert err.count("\n") == 1 and err.startswith("hiernas: error: ") and message in err, err
    assert not list(tmp_path.glob("*.html")) and not list(tmp_path.glob("*.png"))


def test_runs_that_measure_fitness_differently_are_refused(runs: list[Path], tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(runs[0], other)
    config = other / "config.yaml"
    config.write_text(config.read_text().replace("cifar10-val-12ep", "cifar10-test-12ep"))
    code, _, err = run_cli("report", str(runs[0]), str(other), "-o", str(tmp_path / "r.html"))
    assert code == 2 and "measure fitness differently" in err and err.count("\n") == 1, err


def test_a_run_with_nothing_finished_yet(runs: list[Path], tmp_path: Path) -> None:
    """A run that has just started: every section is there, saying there is nothing yet, and only
    the proposals plot is drawn; an older report's plots beside the page are not left to mislead."""
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    shutil.copy(runs[0] / "config.yaml", fresh / "config.yaml")
    Journal.create(fresh / FILENAME).close()
    output = tmp_path / "report.html"
    stale = output.with_name("report-convergence.png")
    stale.write_bytes(PNG_MAGIC)
    code, _, err = run_cli("report", str(fresh), "-o", str(output))
    assert code == 0, err
    page = _parse(output)
    assert page.sections == list(SECTIONS) and len(page.images) == 1
    assert page.rows["fresh"]["data-best"] == "None"
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["report-runs.png"]


# A search the test paces (tests/plugins/my_evaluator.py:gated): each evaluation waits for a token,
# so the run is provably still writing when the reports are made, however fast the machine.
PACED = """
seed: 0
budget: 1000
space: {{preset: nb201, init_mutations: 100}}
evaluator: {{kind: python, target: "plugins.my_evaluator:gated", settings: {{gate: "{gate}"}}}}
search: {{strategy: evolution, population: 10, tournament: 0.25}}
executor: {{kind: inline}}
"""


def test_report_while_a_run_writes(tmp_path: Path) -> None:
    """A real search in another process; reports of it, over and over: never 'database is locked',
    never a partial read (the counts and the history come from one snapshot, so they agree), and
    what is finished only grows."""
    gate = tmp_path / "gate"
    gate.mkdir()
    config = tmp_path / "paced.yaml"
    config.write_text(PACED.format(gate=gate))
    run_dir = tmp_path / "run"
    tests = Path(__file__).resolve().parent
    path = os.pathsep.join([str(tests.parent), str(tests), os.environ.get("PYTHONPATH", "")])
    search = subprocess.Popen(
        [sys.executable, "-m", "hiernas", "evolve", str(config), "--run-dir", str(run_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": path, "HIERNAS_THREADS": "1"},
    )
    reads, reports, last, granted = 0, 0, -1, 0
    try:
        while reports < 2:
            assert search.poll() is None, "the search ended before the test let it"
            if not (run_dir / FILENAME).exists():
                time.sleep(0.05)
                continue
            for _ in range(10):
                # Let evaluations finish while the reader reads.
                (gate / f"grant-{search.pid}-{granted}").touch()
                granted += 1
                run = read_run(run_dir)
                assert run.done == sum(f is not None for f in run.fitness)
                assert run.failed == len(run.errors) == sum(f is None for f in run.fitness)
                assert (run.best.fitness if run.best else None) == max(
                    (f for f in run.fitness if f is not None), default=None
                )
                assert last <= run.finished
                last, reads = run.finished, reads + 1
            output = tmp_path / f"report-{reports}.html"
            code, _, err = run_cli("report", str(run_dir), "-o", str(output))
            assert code == 0 and "locked" not in err, err
            row = _parse(output).rows["run"]
            assert last <= int(row["data-done"]) + int(row["data-failed"])
            reports += 1
        # Fewer tokens than the budget: the run cannot have ended by itself.
        assert granted < 1000 and search.poll() is None
    finally:
        search.kill()
        search.wait()


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        if path := shutil.which(name):
            return path
    pytest.skip("chromium is not installed (apt-get install chromium): the page cannot be rendered here")


# After the page has loaded, this writes each image's decoded width into the DOM, so --dump-dom
# shows whether every inline PNG decoded (a broken one has width 0).
_PROBE = (
    '<script>window.addEventListener("load", () => { document.body.dataset.widths = '
    '[...document.images].map(i => i.naturalWidth).join(","); });</script>'
)


def test_chromium_renders_the_page_without_errors(report: Path, tmp_path: Path) -> None:
    chromium = _chromium()
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    logging = ["--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000"]

    probed = tmp_path / "probed.html"
    probed.write_text(report.read_text().replace("</body>", _PROBE + "</body>"))
    dump = subprocess.run(
        [*flags, *logging, "--dump-dom", probed.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dump.returncode == 0, dump.stderr[-2000:]
    # The page has no scripts of its own: any console message is an error (a blocked or missing
    # resource, a parse error).
    assert "CONSOLE" not in dump.stderr, dump.stderr[-2000:]
    for name in SECTIONS:
        assert f'<section id="{name}">' in dump.stdout
    widths = re.search(r'data-widths="([\d,]*)"', dump.stdout)
    assert widths, "the page never finished loading"
    page = _Page()
    page.feed(report.read_text())
    assert page.images and [int(w) > 0 for w in widths.group(1).split(",")] == [True] * len(page.images)

    screenshot = tmp_path / "page.png"
    shot = subprocess.run(
        [*flags, *logging, "--window-size=1100,3000", f"--screenshot={screenshot}", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert "CONSOLE" not in shot.stderr, shot.stderr[-2000:]
    assert screenshot.read_bytes().startswith(PNG_MAGIC)


def test_planted_symlinks_are_replaced_not_written_through(runs: list[Path], tmp_path: Path) -> None:
    """A symlink where a PNG or the page will go is replaced by the new file; its target (here a
    file someone else owns) is never written."""
    victims = {}
    for name in ("report-runs.png", "report.html"):
        victim = tmp_path / f"victim-{name}"
        victim.write_text("not yours")
        (tmp_path / name).symlink_to(victim)
        victims[name] = victim
    code, _, err = run_cli("report", str(runs[0]), "-o", str(tmp_path / "report.html"))
    assert code == 0, err
    for name, victim in victims.items():
        assert victim.read_text() == "not yours"
        assert not (tmp_path / name).is_symlink() and (tmp_path / name).stat().st_size > 0
