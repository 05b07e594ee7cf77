"""The report page: one HTML file with its stylesheet and every image inline (PNG, base64), so it
can be mailed, attached to an issue or opened from an archive with nothing beside it.

Sections, in reading order, each an ``<section id=...>`` that the navigation links to: a summary
per strategy, best fitness so far against evaluations, the fitness distribution, what became of each
run's proposals, failures, the best genotype drawn, the top genotypes, the learning curves of the
best candidates, and the Pareto front. Every table row of a run
carries ``data-run``, ``data-best`` (the exact fitness, ``repr``), ``data-done``, ``data-failed`` and
``data-cached`` so that scripts and tests can read the page's numbers without parsing formatted text.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping, Sequence

import numpy as np

from hiernas.report.css import STYLESHEET
from hiernas.report.figures import PNG_DPI
from hiernas.report.runs import Run
from hiernas.report.stats import (
    Group,
    RankedArchitecture,
    evaluations_to_best,
    failure_reasons,
    fitness_values,
    key_metrics,
    mean_std,
)
from hiernas.report.style import FitnessFormat, colour, fitness_format, metric_text

SECTIONS = {
    "summary": "Summary",
    "convergence": "Best so far",
    "distribution": "Fitness distribution",
    "runs": "Runs",
    "failures": "Failures",
    "best": "Best genotype",
    "top": "Top genotypes",
    "curves": "Learning curves",
    "front": "Pareto front",
}


def page(
    runs: Sequence[Run],
    groups: Sequence[Group],
    top: Sequence[RankedArchitecture],
    images: Mapping[str, bytes],
    *,
    read_at: str,
    version: str,
) -> str:
    """The whole page. ``images`` holds PNGs by section id (convergence, distribution, runs, best);
    a missing one is a section with nothing to plot yet."""
    labels = [group.label for group in groups]
    measure = runs[0].measure
    fmt = fitness_format(measure.unit)
    parts = [
        _header(runs, groups, measure.describe(), read_at),
        _summary(groups, labels, fmt),
        _convergence(images.get("convergence"), runs),
        _distribution(images.get("distribution")),
        _runs(runs, labels, fmt, images.get("runs")),
        _failures(runs),
        _best(top[0] if top else None, labels, fmt, images.get("best")),
        _top(top, labels, fmt),
        _curves(images.get("curves")),
        _front(runs, images),
        f"<footer>Made by hiernas {_e(version)} from {len(runs)} run journal{'s' * (len(runs) != 1)}, "
        f"each read in one consistent snapshot at {_e(read_at)}.</footer>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>hiernas report: {_e(', '.join(labels))}</title>\n<style>{STYLESHEET}</style>\n"
        "</head>\n<body>\n<main>\n" + "\n".join(parts) + "\n</main>\n</body>\n</html>\n"
    )


# Pieces -----------------------------------------------------------------------------------------


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _img(png: bytes, alt: str) -> str:
    """The PNG inline, shown at the size it was drawn for (its inches at the browser's 96 px per
    inch, read from the PNG header) and never wider than the page: text in every figure then reads
    at about the page's own size, however large or small the figure is."""
    data = base64.b64encode(png).decode("ascii")
    width = round(int.from_bytes(png[16:20], "big") * 96 / PNG_DPI)
    return f'<img src="data:image/png;base64,{data}" width="{width}" alt="{_e(alt)}">'


def _figure(png: bytes | None, alt: str, caption: str, *, wide: bool = False) -> str:
    """A figure in the text column, or (``wide``) one allowed out of it up to the window's width:
    a hierarchical genotype's drawing is wider than the column, and scaled into it its labels would
    be too small to read."""
    if png is None:
        return '<p class="note">Nothing to plot yet: no run has a finished evaluation.</p>'
    opening = '<figure class="wide">' if wide else "<figure>"
    return f"{opening}{_img(png, alt)}<figcaption>{caption}</figcaption></figure>"


def _strategy(label: str, labels: list[str]) -> str:
    return f'<span class="strategy"><span class="chip" style="background:{colour(label, labels)}"></span>{_e(label)}</span>'


def _section(name: str, body: str) -> str:
    return f'<section id="{name}">\n<h2>{SECTIONS[name]}</h2>\n{body}\n</section>'


def _table(head: Sequence[str], rows: Sequence[str], numeric: set[int]) -> str:
    """``rows`` are ready ``<tr>`` elements; ``numeric`` the columns aligned right."""
    cells = "".join(
        f'<th class="num">{h}</th>' if i in numeric else f"<th>{h}</th>" for i, h in enumerate(head)
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>"


def _td(text: str, numeric: bool = False, extra: str = "") -> str:
    classes = " ".join(c for c in ("num" if numeric else "", extra) if c)
    return f'<td class="{classes}">{text}</td>' if classes else f"<td>{text}</td>"


def _share(part: int, whole: int) -> str:
    return f"{part}" if whole == 0 or part == 0 else f"{part} ({100 * part / whole:.0f}%)"


# Sections ---------------------------------------------------------------------------------------


def _header(runs: Sequence[Run], groups: Sequence[Group], measure: str, read_at: str) -> str:
    strategies = f"{len(groups)} strateg{'ies' if len(groups) != 1 else 'y'}"
    nav = "".join(f'<a href="#{name}">{title}</a>' for name, title in SECTIONS.items())
    text = [
        "<header>",
        "<h1>hiernas search report</h1>",
        f'<p class="lede">{len(runs)} run{"s" * (len(runs) != 1)} of {strategies}, read at {_e(read_at)}. '
        f"Fitness: {_e(measure)}.</p>",
    ]
    unfinished = [run for run in runs if not run.complete]
    if unfinished:
        text.append(
            f'<p class="warn">{len(unfinished)} of {len(runs)} runs {"is" if len(unfinished) == 1 else "are"} '
            "unfinished (still running, or stopped before their budget): their curves end early, and the mean at each evaluation "
            "counts only the runs that reached it.</p>"
        )
    text += [f"<nav>{nav}</nav>", "</header>"]
    return "\n".join(text)


def _summary(groups: Sequence[Group], labels: list[str], fmt: FitnessFormat) -> str:
    rows = []
    for group in groups:
        finals = group.finals
        mean, spread = mean_std(finals)
        values = fitness_values(group)
        finished = sum(run.finished for run in group.runs)
        failed = sum(run.failed for run in group.runs)
        cached = sum(run.cached for run in group.runs)
        best = fmt.text(max(finals)) if finals else "–"
        across = fmt.text(mean) + (f" ± {fmt.spread(spread)}" if len(finals) > 1 else "")
        rows.append(
            "<tr>"
            + _td(_strategy(group.label, labels))
            + _td(str(len(group.runs)), True)
            + _td(str(finished), True)
            + _td(across, True)
            + _td(best, True, "best")
            + _td(fmt.text(float(np.median(values))) if values.size else "–", True)
            + _td(_share(failed, finished), True)
            + _td(_share(cached, finished + cached), True)
            + "</tr>"
        )
    head = [
        "Strategy",
        "Runs",
        "Evaluations",
        "Best per run<br>(mean ± s.d.)",
        "Best of all",
        "Median evaluation",
        "Failed",
        "Cache hits",
    ]
    note = (
        "<p class=\"note\">Best per run: each run's best fitness, averaged over the strategy's runs "
        "(± the sample standard deviation over seeds). Failed: share of finished evaluations. Cache "
        "hits: proposals of a network already evaluated, answered from the journal at no cost.</p>"
    )
    return _section("summary", _table(head, rows, numeric=set(range(1, 8))) + note)


def _convergence(png: bytes | None, runs: Sequence[Run]) -> str:
    caption = (
        "Best fitness found so far against the number of finished evaluations (the budget's unit; "
        "cache hits cost nothing and are not counted). Thin lines: single runs; bold: the mean over "
        "a strategy's seeds, with ±1 standard deviation shaded where two or more runs have a value. "
        "The axis starts where the curves are after their first tenth, so the first few draws may lie "
        "below it."
    )
    return _section("convergence", _figure(png, "best fitness so far against evaluations", caption))


def _distribution(png: bytes | None) -> str:
    caption = (
        "Every done evaluation's fitness, pooled over a strategy's runs: each dot one evaluation, the "
        "shaded shape their density, the black bar the middle half (quartiles) and the white dot the "
        "median."
    )
    return _section("distribution", _figure(png, "fitness distribution per strategy", caption))


def _runs(runs: Sequence[Run], labels: list[str], fmt: FitnessFormat, png: bytes | None) -> str:
    rows = []
    for run in runs:
        best = run.best.fitness if run.best else None
        at = evaluations_to_best(run.fitness)
        if run.complete:
            state = "complete"
        elif run.pending:
            state = f"unfinished, {run.pending} pending"
        else:
            state = "unfinished"
        budget = "?" if run.budget is None else str(run.budget)
        rows.append(
            f'<tr data-run="{_e(run.name)}" data-best="{_e(repr(best))}" data-done="{run.done}" '
            f'data-failed="{run.failed}" data-cached="{run.cached}">'
            + f'<td title="{_e(run.path)}"><code>{_e(run.name)}</code></td>'
            + _td(_strategy(run.group, labels))
            + _td("–" if run.seed is None else str(run.seed), True)
            + _td(f"{run.finished} / {budget}", True)
            + _td(str(run.done), True)
            + _td(str(run.failed), True)
            + _td(str(run.cached), True)
            + _td(fmt.text(best), True, "best")
            + _td("–" if at is None else str(at), True)
            + _td(state)
            + "</tr>"
        )
    head = [
        "Run",
        "Strategy",
        "Seed",
        "Finished / budget",
        "Done",
        "Failed",
        "Cache hits",
        "Best",
        "Best at",
        "State",
    ]
    caption = (
        "Each run's proposals: done, failed (hatched), answered from the cache (light) and still "
        "pending (outlined)."
    )
    note = (
        '<p class="note">Best at: the evaluation at which the run first reached its best fitness. '
        "Hover over a run's name for its directory.</p>"
    )
    figure = _figure(png, "proposals of each run by outcome", caption)
    return _section("runs", figure + _table(head, rows, numeric={2, 3, 4, 5, 6, 7, 8}) + note)


def _failures(runs: Sequence[Run]) -> str:
    lost = sum(run.lost for run in runs)
    retried = (
        f'<p class="note">{lost} attempt{"s" * (lost != 1)} lost with {"their" if lost != 1 else "its"} '
        "worker and run again (not counted as failures).</p>"
        if lost
        else ""
    )
    reasons = failure_reasons(runs)
    if not reasons:
        return _section("failures", "<p>No evaluation failed.</p>" + retried)
    rows = [
        "<tr>"
        + _td(str(reason.count), True)
        + _td(f"<code>{_e(reason.example)}</code>")
        + _td(", ".join(f"<code>{_e(name)}</code>" for name in reason.runs))
        + "</tr>"
        for reason in reasons
    ]
    note = '<p class="note">Failures grouped by the first line of their error, with numbers, paths and architectures masked; one example of each is shown.</p>'
    return _section("failures", _table(["Count", "Error", "Runs"], rows, numeric={0}) + note + retried)


def _best(best: RankedArchitecture | None, labels: list[str], fmt: FitnessFormat, png: bytes | None) -> str:
    if best is None:
        return _section("best", '<p class="note">No finished evaluation yet.</p>')
    architecture = best.architecture
    found = ", ".join(f"<code>{_e(run.name)}</code>" for run in best.found_by)
    facts = [
        ("Fitness", f"<strong>{fmt.text(architecture.fitness)}</strong>"),
        ("Strategy", _strategy(best.run.group, labels)),
        ("Found by", found),
        ("Canonical key", f"<code>{_e(architecture.key)}</code>"),
    ]
    facts += [(_e(name), _e(metric_text(name, value))) for name, value in architecture.metrics.items()]
    listing = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts)
    caption = (
        "Every motif of every level as an arc diagram (live edges coloured by operation, dead ones "
        "dashed), then the cell flattened to primitives."
    )
    drawing = _figure(png, "drawing of the best genotype", caption, wide=True) if png else ""
    return _section(
        "best", f'<dl class="facts">{listing}</dl>\n{drawing}\n{_genotype(architecture.genotype)}'
    )


def _front(runs: Sequence[Run], images: Mapping[str, bytes]) -> str:
    if "pareto" not in images:
        return _section(
            "front",
            '<p class="note">No front to show: the runs trade off different '
            "objectives, or none has a feasible evaluation.</p>",
        )
    names = " against ".join(f"{o.name} ({o.direction})" for o in runs[0].front_objectives)
    scatter = _figure(
        images["pareto"],
        "every evaluation and each strategy's front",
        f"{_e(names)}: every feasible evaluation as a dot, and each strategy's front (all of its runs "
        "pooled) as a step line.",
    )
    volume = _figure(
        images["hypervolume"],
        "hypervolume against finished evaluations",
        "Hypervolume of the front found so far against finished evaluations: the mean over a "
        "strategy's seeds, ±1 standard deviation shaded. One reference point for every run: the worst "
        "value of each objective over all of them.",
    )
    drawings = "".join(
        _figure(
            images[name],
            f"drawing of front member {name[-1]}",
            f"Front member {name[-1]} of every run pooled (best primary objective first).",
            wide=True,
        )
        for name in ("front1", "front2", "front3")
        if name in images
    )
    return _section("front", scatter + volume + drawings)


def _curves(png: bytes | None) -> str:
    if png is None:
        return _section(
            "curves",
            '<p class="note">No learning curves: no finished evaluation recorded one (the training '
            "evaluator does; a table lookup trains nothing).</p>",
        )
    caption = (
        "The best candidates of all runs pooled, ranked by the highest rung (steps) they reached, then "
        "by fitness there. Left: the training loss, each point the mean over a window of steps, from "
        "step 0 across every continuation. Right: the validation fitness at each rung; rungs below the "
        "full step count are scored on a fixed subset of the validation images."
    )
    return _section("curves", _figure(png, "learning curves of the top candidates", caption))


def _genotype(genotype: Mapping[str, object]) -> str:
    text = json.dumps(genotype, indent=None, separators=(", ", ": "))
    return f"<details><summary>genotype file (JSON)</summary><pre>{_e(text)}</pre></details>"


def _top(top: Sequence[RankedArchitecture], labels: list[str], fmt: FitnessFormat) -> str:
    if not top:
        return _section("top", '<p class="note">No finished evaluation yet.</p>')
    metrics = key_metrics(top)
    rows = []
    for rank, row in enumerate(top, start=1):
        architecture = row.architecture
        found = ", ".join(f"<code>{_e(run.name)}</code>" for run in row.found_by)
        cells = [
            _td(str(rank), True),
            _td(fmt.text(architecture.fitness), True, "best" if rank == 1 else ""),
            _td(_strategy(row.run.group, labels)),
            _td(found),
            *(_td(_e(metric_text(m, architecture.metrics.get(m))), True) for m in metrics),
            _td(
                f'<code title="{_e(architecture.key)}">{_e(architecture.key[:10])}</code>'
                + _genotype(architecture.genotype)
            ),
        ]
        rows.append(f'<tr data-key="{_e(architecture.key)}">' + "".join(cells) + "</tr>")
    head = ["#", "Fitness", "Strategy", "Found by", *(_e(m) for m in metrics), "Key, genotype"]
    numeric = {0, 1, *range(4, 4 + len(metrics))}
    note = (
        '<p class="note">One row per network (canonical key): an architecture several runs found is '
        "listed once, at its best fitness, with every run that evaluated it.</p>"
    )
    return _section("top", _table(head, rows, numeric) + note)
