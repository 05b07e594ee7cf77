"""What is exported: the best genotypes of a run, or the one genotype of a file.

A run directory is read like ``hiernas status`` reads it: its journal opened read-only and the
ranking taken in one snapshot, so an export of a run that is still writing sees one consistent
state and never disturbs the run.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evolution.objectives import OBJECTIVES_KEY
from hiernas.errors import InputError
from hiernas.run_dir import CONFIG_FILE, open_journal_read_only
from motifs.canonical import canonical_key
from motifs.files import load_genotype
from motifs.genotype import Genotype

_KEY = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Exportable:
    """One genotype to export. ``name`` is the stem of every file written for it."""

    name: str
    genotype: Genotype
    key: str
    rank: int | None = None
    fitness: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    proposal: int | None = None


@dataclass(frozen=True)
class Source:
    """The genotypes of a run (best first) or a file, and the run's configuration file if any."""

    path: Path
    entries: tuple[Exportable, ...]
    config_file: Path | None
    is_run: bool


def read_source(path: Path, top: int) -> Source:
    """A run directory's ``top`` best finished evaluations, or a genotype file (``top`` must then
    be 1: a file holds one genotype)."""
    if top < 1:
        raise InputError(f"--top: must be at least 1, got {top}")
    if path.is_dir():
        return _read_run(path, top)
    if not path.exists():
        raise InputError(f"{path}: no such run directory or genotype file")
    if top != 1:
        raise InputError(f"--top {top}: {path} is one genotype file; --top ranks a run directory's results")
    genotype = load_genotype(path)
    return Source(path, (Exportable(path.stem, genotype, canonical_key(genotype)),), None, is_run=False)


def _check_journal_values(run_dir: Path, proposal: Any, key: Any, fitness: Any) -> None:
    """What goes into exported files beyond the genotype must be what hiernas wrote: a key is 32
    lowercase hex digits (canonical_key's 128 bits), a fitness a finite number. A journal is data
    from a run directory, which may have been tampered with (README, "Threat model")."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise InputError(f"{run_dir}: the journal's proposal {proposal!r} has a malformed canonical key")
    if isinstance(fitness, bool) or not isinstance(fitness, int | float) or not math.isfinite(fitness):
        raise InputError(f"{run_dir}: the journal's proposal {proposal!r} has a fitness that is not a number")


def _read_run(run_dir: Path, top: int) -> Source:
    # The configuration only chooses a network template; a journal without one (a run driven
    # from Python, as the engine tests do) still has genotypes to export.
    config = run_dir / CONFIG_FILE if (run_dir / CONFIG_FILE).is_file() else None
    journal = open_journal_read_only(run_dir)
    try:
        with journal.snapshot():
            # Every done row, as hiernas status reads them: a damaged one (a NaN fitness, stored as
            # NULL) sorts last, and reading only the top rows exported the run as if it were whole.
            ranked = journal.top(journal.finished_count())[:top]
    finally:
        journal.close()
    if not ranked:
        raise InputError(f"{run_dir}: no finished evaluation yet, so nothing to export")
    for result in ranked:
        _check_journal_values(run_dir, result.proposal_id, result.key, result.fitness)
    entries = tuple(
        Exportable(
            f"rank{rank}",
            Genotype.from_dict(result.genotype),
            result.key,
            rank=rank,
            fitness=result.fitness,
            metrics=result.metrics,
            proposal=result.proposal_id,
        )
        for rank, result in enumerate(ranked, start=1)
    )
    return Source(run_dir, entries, config, is_run=True)


def read_front(path: Path) -> Source:
    """Every member of a run's Pareto front (``hiernas.report.front``), best primary objective first;
    each file name carries the member's objective values, e.g. ``front1-accuracy0.8467-params2.26e+05``."""
    from hiernas.report.front import run_front
    from hiernas.run_dir import read_config

    if not path.is_dir():
        raise InputError(f"--front: {path} is not a run directory; a front is a run's")
    config_file = path / CONFIG_FILE if (path / CONFIG_FILE).is_file() else None
    config = read_config(path) if config_file else {}
    journal = open_journal_read_only(path)
    try:
        with journal.snapshot():
            ranked = journal.top(journal.finished_count())
            declared = journal.read_meta(OBJECTIVES_KEY)
    finally:
        journal.close()
    for result in ranked:
        _check_journal_values(path, result.proposal_id, result.key, result.fitness)
    front = run_front(ranked, config, declared)
    if not front.members:
        raise InputError(f"{path}: no feasible full-budget evaluation yet, so no front to export")
    entries = []
    for position, (result, values) in enumerate(front.members, start=1):
        parts = "-".join(f"{_safe(o.name)}{v:.4g}" for o, v in zip(front.objectives, values, strict=True))
        entries.append(
            Exportable(
                f"front{position}-{parts}",
                Genotype.from_dict(result.genotype),
                result.key,
                rank=position,
                fitness=result.fitness,
                metrics={
                    **result.metrics,
                    "objectives": dict(zip((o.name for o in front.objectives), values, strict=True)),
                },
                proposal=result.proposal_id,
            )
        )
    return Source(path, tuple(entries), config_file, is_run=True)


def _safe(name: str) -> str:
    """An objective name as a piece of a file name: letters, digits, '_' and '.' only (a config
    names the objectives, and a name must never make a path)."""
    return re.sub(r"[^A-Za-z0-9_.]", "_", name).strip(".") or "objective"
