"""``hiernas fidelity``: does a cheap score rank architectures like an expensive one?

Two sources of scores: columns of a table (``TABLE.csv --columns A,B,C``, each against the last), or
a seeded sample of a config's genotypes trained at several budgets (``CONFIG --budgets 300,900``,
each against the largest; ``hiernas.fidelity_training``). Both print the figures of
``hiernas.rank_agreement``. With training, each smaller budget is also ranked by its training loss
(``evolution.loss_score``: the mean loss over the last third of its steps, lower better) against the
largest budget's fitness, the score ``search.fidelity.rank_by: loss`` promotes by; the rows are
labelled "B loss" and listed under ``loss_agreement`` in the JSON.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path

import click
import numpy as np

from hiernas.errors import InputError
from hiernas.rank_agreement import Agreement, agreement


def run_fidelity(
    source: str,
    *,
    columns: str | None,
    budgets: str | None,
    sample: int,
    seed: int,
    output: Path | None,
    top_fraction: float,
    as_json: bool,
    overrides: Sequence[str],
) -> None:
    if (columns is None) == (budgets is None):
        raise InputError(
            "give --columns A,B (a table's columns) or --budgets 300,900 (train a sample of CONFIG), one of them"
        )
    if columns is not None:
        if overrides or output is not None:
            raise InputError("--set and -o apply to training (--budgets), not to a table")
        names = _names(columns, "--columns")
        scores = read_columns(Path(source), names)
        reference = names[-1]
        figures = [
            agreement(name, scores[name], scores[reference], top_fraction=top_fraction) for name in names[:-1]
        ]
        _print(figures, {"table": source, "reference": reference, "top_fraction": top_fraction}, as_json)
        return
    from hiernas.fidelity_training import measure

    assert budgets is not None
    steps = sorted({_positive(part, "--budgets") for part in _names(budgets, "--budgets")})
    if len(steps) < 2:
        raise InputError(f"--budgets: give at least two different step counts, got {budgets!r}")
    run_dir, scores, losses, left_out = measure(
        source, steps, sample=sample, seed=seed, output=output, overrides=overrides
    )
    largest = steps[-1]
    figures = [
        agreement(str(step), scores[step], scores[largest], top_fraction=top_fraction) for step in steps[:-1]
    ]
    loss_figures = [
        agreement(str(step), losses[step], scores[largest], top_fraction=top_fraction)
        for step in steps[:-1]
        if step in losses
    ]
    header = {
        "config": source,
        "output": str(run_dir),
        "reference": str(largest),
        "top_fraction": top_fraction,
        "sample": sample,
        "seed": seed,
        "left_out": left_out,
        "mean_fitness": {
            str(step): float(np.mean(scores[step])) if len(scores[step]) else None for step in steps
        },
    }
    _print(figures, header, as_json, loss_figures)


def _names(text: str, option: str) -> list[str]:
    names = [part.strip() for part in text.split(",")]
    if any(not name for name in names) or len(names) < 2:
        raise InputError(f"{option}: expected at least two comma-separated entries, got {text!r}")
    return names


def _positive(text: str, option: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"{option}: {text!r} is not a whole number of steps") from None
    if value < 1:
        raise InputError(f"{option}: {value} steps; every budget must be at least 1")
    return value


def read_columns(path: Path, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The named numeric columns of a CSV file with a header row, each checked to be finite numbers."""
    if len(set(names)) != len(names):
        raise InputError(f"--columns: a column is named twice ({', '.join(names)})")
    try:
        # utf-8-sig: a spreadsheet's byte-order mark is not part of the first column's name.
        with path.open(newline="", encoding="utf-8-sig") as file:
            reader = csv.DictReader(file)
            header = reader.fieldnames or []
            unknown = [name for name in names if name not in header]
            if unknown:
                raise InputError(f"{path}: no column {unknown[0]!r} (columns: {', '.join(header) or 'none'})")
            # DictReader keeps the last of equally named columns: which one was meant is unknown.
            twice = [name for name in names if header.count(name) > 1]
            if twice:
                raise InputError(
                    f"{path}: the header names column {twice[0]!r} {header.count(twice[0])} times"
                )
            rows = list(reader)
    except FileNotFoundError:
        raise InputError(f"{path}: no such table") from None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise InputError(f"{path}: cannot be read as a CSV table ({error})") from None
    if len(rows) < 2:
        raise InputError(f"{path}: {len(rows)} row(s); rank agreement needs at least 2")
    columns: dict[str, np.ndarray] = {}
    for name in names:
        values = np.empty(len(rows))
        for index, row in enumerate(rows):
            text = row.get(name)
            try:
                values[index] = float(text)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                values[index] = math.nan
            if not math.isfinite(values[index]):
                raise InputError(
                    f"{path}: row {index + 2}, column {name!r}: {(text or '')[:40]!r} is not a finite number"
                )
        columns[name] = values
    return columns


def _format(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:+.3f}"


def _percent(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.0%}"


def _print(
    figures: list[Agreement],
    header: dict[str, object],
    as_json: bool,
    loss_figures: list[Agreement] | None = None,
) -> None:
    """``loss_figures`` (training only): each smaller budget ranked by its training-loss score."""
    if as_json:
        report = {**header, "agreement": [f.to_dict() for f in figures]}
        if loss_figures is not None:
            report["loss_agreement"] = [f.to_dict() for f in loss_figures]
        click.echo(json.dumps(report, indent=2))
        return
    rows = [(f.column, f) for f in figures] + [(f"{f.column} loss", f) for f in loss_figures or []]
    reference = header["reference"]
    if header.get("left_out"):
        click.echo(f"left out {header['left_out']} genotype(s) without a result at every budget")
    click.echo(
        f"against {reference} (top {100 * float(header['top_fraction']):g}%: "  # type: ignore[arg-type]
        f"{figures[0].top_k if figures else 0} of {figures[0].rows if figures else 0})"
    )
    width = max(len("score"), *(len(label) for label, _ in rows))
    click.echo(
        f"{'score':<{width}}  {'rows':>5}  {'kendall':>7}  {'spearman':>8}  {'top τ':>6}  {'top-k':>6}"
    )
    for label, f in rows:
        click.echo(
            f"{label:<{width}}  {f.rows:>5}  {_format(f.kendall_tau):>7}  {_format(f.spearman_rho):>8}  "
            f"{_format(f.top_kendall_tau):>6}  {_percent(f.top_k_overlap):>6}"
        )
