"""``hiernas evolve --warm-start RUN_DIR --top K``: the best K distinct networks of an earlier run
seed the new run's initial population (``evolution.seeded_strategy``).

The earlier run is only read (its journal opened read-only, safe while it runs). Its data set or
objective may differ: the seeds are evaluated again here. The journal of the new run keeps where
its seeds came from, and the seeds themselves, under meta ``warm_start``: a resumed run takes them
from there, so it never re-reads the earlier run and never proposes a seed twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evolution.journal import Journal
from evolution.seeded_strategy import SeededStrategy
from evolution.strategy import Strategy
from hiernas.config import RunConfig
from hiernas.errors import InputError
from hiernas.run_dir import open_journal_read_only
from motifs import Genotype, GenotypeError, SpaceError

META_KEY = "warm_start"
# Strategies whose initial individuals can be seeds (origin "init"); the RL controller samples
# every proposal from its policy, so it has no initial population to seed.
SEEDABLE = ("evolution", "random")
DEFAULT_TOP = 10


def read_seeds(run_dir: Path, top: int | None, config: RunConfig) -> dict[str, Any]:
    """The record of ``run_dir``'s best ``top`` distinct networks: source, and per seed its key,
    fitness there, proposal id there and genotype (file-format dict)."""
    if top is None:
        top = min(DEFAULT_TOP, config.search.population)
    if config.search.strategy not in SEEDABLE:
        raise InputError(
            f"--warm-start: the {config.search.strategy} strategy has no initial population to seed "
            f"(use {' or '.join(SEEDABLE)})"
        )
    if config.search.strategy == "evolution" and top > config.search.population:
        raise InputError(
            f"--top: {top} seeds but the initial population holds {config.search.population} "
            "(search.population); lower --top"
        )
    journal = open_journal_read_only(run_dir)
    try:
        with journal.snapshot():
            ranked = journal.top(journal.finished_count())
    finally:
        journal.close()
    space = config.space.to_space()
    seeds: list[dict[str, Any]] = []
    for entry in ranked:
        if len(seeds) == top:
            break
        if any(seed["key"] == entry.key for seed in seeds):
            continue
        try:
            space.check(Genotype.from_dict(entry.genotype))
        except (GenotypeError, SpaceError) as error:
            raise InputError(
                f"--warm-start: {run_dir} proposal {entry.proposal_id} does not fit this run's space ({error})"
            ) from None
        seeds.append(
            {
                "key": entry.key,
                "fitness": entry.fitness,
                "proposal": entry.proposal_id,
                "genotype": entry.genotype,
            }
        )
    if not seeds:
        raise InputError(f"--warm-start: {run_dir} has no finished evaluation to seed from")
    return {"run_dir": str(run_dir.resolve()), "top": top, "seeds": seeds}


def seeded(strategy: Strategy, record: dict[str, Any]) -> SeededStrategy:
    """``strategy`` proposing ``record``'s seeds first."""
    genotypes = [Genotype.from_dict(seed["genotype"]) for seed in record["seeds"]]
    return SeededStrategy(strategy, genotypes, {"run_dir": record["run_dir"]})


def warm_start_record(journal: Journal, resumed: bool, fresh: dict[str, Any] | None) -> dict[str, Any] | None:
    """The seeds this run uses: on a new run, ``fresh`` (read from --warm-start, now recorded); on a
    resumed one, those it recorded when it started. A resume may not add seeds to a run."""
    if not resumed:
        if fresh is not None:
            journal.write_meta(META_KEY, fresh)
        return fresh
    recorded = journal.read_meta(META_KEY)
    if recorded is not None and not _well_formed(recorded):
        raise InputError(f"{journal.path}: its {META_KEY!r} record is damaged; start a new run")
    if fresh is not None and (recorded is None or recorded["run_dir"] != fresh["run_dir"]):
        raise InputError(
            "--warm-start: this run is being resumed, and seeds are only chosen when a run starts "
            "(leave --warm-start out, or start a new run)"
        )
    return recorded


def _well_formed(record: Any) -> bool:
    return (
        isinstance(record, dict)
        and isinstance(record.get("run_dir"), str)
        and isinstance(record.get("seeds"), list)
        and all(isinstance(seed, dict) and isinstance(seed.get("genotype"), dict) for seed in record["seeds"])
    )
