"""The training side of ``hiernas fidelity``: a seeded sample of a config's genotypes, each trained
at several step budgets, every result kept in a folder so that a killed measurement resumes.

    DIR/fidelity.json   what the results were measured with (the config without its step count,
                        the seed); a resume with other settings is refused
    DIR/results.jsonl   one JSON line per (genotype, budget), appended and fsynced as it finishes
    DIR/lock            the writer's lock (``hiernas.run_lock``), held while a measurement trains:
                        two measurements appending to one results file would interleave them

Each budget trains from scratch with only ``evaluator.steps`` changed, so its learning-rate schedule
is the config's for that many steps (a cosine schedule is compressed to the budget; a step drop
scheduled after the budget never happens). It does not yet continue a short training into a longer
one. Every budget of a genotype uses the same seed: the same initial weights and data order. Budgets run smallest first, so an interrupted measurement has its cheap
results first. Genotype i is ``sample(space, stream (seed, "fidelity", i))``, skipping repeats of an
architecture, so a larger ``--sample`` keeps the smaller sample's genotypes and results.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import numpy as np

from evolution.evaluation import EvalResult
from evolution.executors.base import Task, run_task
from evolution.loss_score import final_loss
from evolution.seeding import derive_seed, python_rng
from hiernas.config import RunConfig, load_config, with_current_defaults
from hiernas.errors import InputError
from hiernas.evaluators.factory import prepare_evaluator
from hiernas.run_dir import write_atomically
from hiernas.run_lock import LOCK_FILE, RunLock
from motifs import Genotype, Space, sample
from motifs.canonical import canonical_key
from motifs.enumeration import all_genotypes, space_size

SETTINGS_FILE = "fidelity.json"
RESULTS_FILE = "results.jsonl"
# The sample is drawn whole before the first training (measured: about 7 ms and 6 KiB per genotype
# of the paper's hierarchical space at 1,000 initial mutations), and each genotype is then trained
# at every budget: 100,000 genotypes already take some 12 minutes and 0.6 GiB before anything
# trains, and at least 200,000 trainings. A larger sample cannot be served by one measurement; an
# unbounded one (--sample 10**12) sampled without end, never saying why.
MAX_SAMPLE = 100_000
# A space of at most this many genotypes is listed whole to count its distinct architectures
# (NB201's 15,625 cells: about 1 s), so that an unservable sample is refused before any draw.
COUNTED_WHOLE = 20_000


def check_sample(space: Space, count: int) -> None:
    """Refuse a sample that cannot be served: above ``MAX_SAMPLE``, above the number of genotypes
    the space holds, or, for a space small enough to list, above its distinct architectures
    (NB201's cell: 5**6 = 15,625 genotypes, 8,765 architectures), which ``sample_genotypes`` would
    otherwise find out only after 100 draws per genotype asked for (hours at a few ms per draw)."""
    if count > MAX_SAMPLE:
        raise InputError(
            f"--sample: {count} genotypes; at most {MAX_SAMPLE:,} (each is sampled before the first "
            f"training and trained at every budget)"
        )
    genotypes = space_size(space)
    if count > genotypes:
        raise InputError(f"--sample: {count} genotypes, but the space holds only {genotypes:,}")
    if genotypes <= COUNTED_WHOLE:
        distinct = len({canonical_key(genotype) for genotype in all_genotypes(space)})
        if count > distinct:
            raise InputError(
                f"--sample: {count} architectures, but the space's {genotypes:,} genotypes make only "
                f"{distinct:,} distinct ones"
            )


def sample_genotypes(config: RunConfig, count: int, seed: int) -> list[tuple[str, Genotype]]:
    """``count`` genotypes of distinct architectures, with their canonical keys."""
    space = config.space.to_space()
    found: dict[str, Genotype] = {}
    for draw in range(100 * count):
        genotype = sample(space, python_rng(seed, "fidelity", draw), config.space.init_mutations)
        found.setdefault(canonical_key(genotype), genotype)
        if len(found) == count:
            return list(found.items())
    raise InputError(f"--sample: the space holds fewer than {count} architectures that sampling reaches")


def read_results(path: Path) -> dict[tuple[str, int], dict[str, Any]]:
    """Recorded results by (key, steps). A last line cut short by a kill is ignored (and later
    overwritten); a damaged line elsewhere is bad input."""
    if not path.exists():
        return {}
    try:
        lines = path.read_bytes().split(b"\n")
    except OSError as error:
        raise InputError(
            f"{path}: cannot be read ({error.strerror or error}); use another -o folder"
        ) from None
    results = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = _checked(json.loads(line))
            results[record["key"], record["steps"]] = record
        except ValueError:
            if number == len(lines):  # no newline yet: the write was interrupted
                continue
            raise InputError(
                f"{path}: line {number} is not a fidelity result; remove the line or the folder"
            ) from None
    return results


def _checked(record: Any) -> dict[str, Any]:
    """A record as ``_record`` writes it, or ValueError: the folder may come from someone else, and
    a record the summary cannot read (a fitness that is not a finite number, metrics that are not a
    mapping) must be refused here in one line, not crash the summary after the training."""
    if not isinstance(record, dict) or not isinstance(record.get("key"), str):
        raise ValueError("not a record")
    steps, fitness, metrics = record.get("steps"), record.get("fitness"), record.get("metrics")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError("steps")
    if record.get("status") not in ("done", "failed"):
        raise ValueError("status")
    if record["status"] == "done" and (
        not isinstance(fitness, int | float) or isinstance(fitness, bool) or not math.isfinite(fitness)
    ):
        raise ValueError("fitness")
    if metrics is not None and not isinstance(metrics, dict):
        raise ValueError("metrics")
    return record


def append_result(path: Path, record: dict[str, Any]) -> None:
    """One line, fsynced before the next evaluation starts; a partial last line is cut off first."""
    data = path.read_bytes() if path.exists() else b""
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as file:
            file.truncate(data.rfind(b"\n") + 1)
    with path.open("ab") as file:
        file.write(json.dumps(record, sort_keys=True).encode() + b"\n")
        file.flush()
        os.fsync(file.fileno())


def _described(config: dict[str, Any]) -> dict[str, Any]:
    """What decides a folder's results: the config without the budgets (measured per result), the
    run budget and the executor."""
    described = dict(config)
    described["evaluator"] = {k: v for k, v in described["evaluator"].items() if k != "steps"}
    described.pop("budget", None)
    described.pop("executor", None)
    return described


def _with_current_defaults(recorded: dict[str, Any]) -> dict[str, Any]:
    """A recorded config with the defaults of settings added since it was written, so that a new
    setting does not orphan a folder's results. Unreadable now: compared as it is."""
    evaluator = recorded.get("evaluator")
    if not isinstance(evaluator, dict):
        return recorded
    # Any valid step count: it is dropped again, as it is on the side it is compared with.
    current = with_current_defaults({**recorded, "evaluator": {**evaluator, "steps": 10**6}})
    if current is None:
        return recorded
    return json.loads(json.dumps(_described(current), sort_keys=True, default=str))


def _writer_lock(folder: Path) -> RunLock:
    """The folder, created if new, and its lock (to hold with ``with``). A folder of something else
    is refused before a lock file is left in it."""
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: exists and is not a folder; give -o a folder")
    if not (folder / SETTINGS_FILE).exists():
        _check_empty(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(
            f"{folder}: cannot create the folder ({error.strerror or error}); use another -o folder"
        ) from None
    return RunLock(folder, writer="hiernas fidelity", option="-o folder", holds="measurement")


def _check_empty(folder: Path) -> None:
    # The lock file alone is no one's data: a writer that died left it (or created it just now).
    if folder.is_dir() and any(path.name != LOCK_FILE for path in folder.iterdir()):
        raise InputError(f"{folder}: not empty and not a fidelity folder; use another -o folder")


def _check_settings(folder: Path, settings: dict[str, Any]) -> None:
    """Under the folder's lock: its recorded settings are these, or it is new and gets them."""
    path = folder / SETTINGS_FILE
    text = json.dumps(settings, indent=2, sort_keys=True, default=str) + "\n"
    if path.exists():
        try:
            recorded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise InputError(f"{path}: cannot be read ({error}); use another -o folder") from None
        if isinstance(recorded, dict) and isinstance(recorded.get("config"), dict):
            recorded["config"] = _with_current_defaults(recorded["config"])
        if recorded != json.loads(text):
            raise InputError(
                f"{folder}: holds results measured with another config or seed; use another -o folder"
            )
        return
    _check_empty(folder)  # again, under the lock
    write_atomically(path, text)


def _device() -> str:
    torch = sys.modules.get("torch")  # only a training evaluator loads it
    return "cuda" if torch is not None and torch.cuda.is_available() else "cpu"


def measure(
    source: str,
    budgets: Sequence[int],
    *,
    sample: int,
    seed: int,
    output: Path | None,
    overrides: Sequence[str],
) -> tuple[Path, dict[int, np.ndarray], dict[int, np.ndarray], int]:
    """Train what is missing; return the folder, the fitness per budget (genotypes with a result at
    every budget, in sample order), the training-loss score per budget (``evolution.loss_score``,
    negated so that higher is better as for fitness; only budgets where every kept result records a
    loss curve) and how many genotypes were left out (failed at some budget)."""
    config = load_config(source, overrides)
    if "steps" not in type(config.evaluator).model_fields:
        raise InputError(
            f"--budgets: evaluator.kind {config.evaluator.kind!r} has no training steps to vary; "
            "use a training config, or a table's columns with --columns"
        )
    check_sample(config.space.to_space(), sample)
    folder = output or Path("runs") / f"fidelity-{Path(source).stem}-s{seed}"
    with _writer_lock(folder):
        _check_settings(folder, {"config": _described(config.to_dict()), "seed": seed})
        return _measure(source, config, budgets, folder, sample=sample, seed=seed, overrides=overrides)


def _measure(
    source: str,
    config: RunConfig,
    budgets: Sequence[int],
    folder: Path,
    *,
    sample: int,
    seed: int,
    overrides: Sequence[str],
) -> tuple[Path, dict[int, np.ndarray], dict[int, np.ndarray], int]:
    """``measure`` in a folder whose settings are checked, under its writer lock."""
    genotypes = sample_genotypes(config, sample, seed)
    results_path = folder / RESULTS_FILE
    results = read_results(results_path)
    for steps in budgets:
        missing = [(i, key, g) for i, (key, g) in enumerate(genotypes) if (key, steps) not in results]
        if not missing:
            continue
        evaluator = prepare_evaluator(load_config(source, [*overrides, f"evaluator.steps={steps}"])).evaluator
        device = _device()
        for done, (index, key, genotype) in enumerate(missing, 1):
            task = Task(0, genotype, derive_seed(seed, "fidelity-evaluation", key))
            result = run_task(evaluator, task, device, "fidelity")
            record = _record(index, key, genotype, steps, result)
            append_result(results_path, record)
            results[key, steps] = record
            shown = "failed" if result.fitness is None else f"{result.fitness:.4f}"
            click.echo(f"{steps} steps: {done}/{len(missing)} genotype {index} {key[:8]} → {shown}", err=True)
        del evaluator
    kept = [key for key, _ in genotypes if all(results[key, steps]["status"] == "done" for steps in budgets)]
    scores = {steps: np.array([float(results[key, steps]["fitness"]) for key in kept]) for steps in budgets}
    losses = {}
    for steps in budgets:
        values = [final_loss(results[key, steps].get("metrics") or {}) for key in kept]
        if all(value is not None for value in values):
            losses[steps] = -np.array(values, dtype=np.float64)
    return folder, scores, losses, len(genotypes) - len(kept)


def _record(index: int, key: str, genotype: Genotype, steps: int, result: EvalResult) -> dict[str, Any]:
    fitness = result.fitness
    metrics = {k: v for k, v in result.metrics.items() if not (isinstance(v, float) and not math.isfinite(v))}
    return {
        "sample": index,
        "key": key,
        "steps": steps,
        "status": result.status,
        "fitness": fitness,
        "error": result.error,
        "metrics": metrics,
        "genotype": genotype.to_dict(),
    }
