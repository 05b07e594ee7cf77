"""A run directory: the resolved configuration, the journal, and the best genotype so far.

    DIR/config.yaml      the resolved configuration the run was started with (budget and
                         executor updated on resume)
    DIR/journal.sqlite   the journal (evolution.journal): the source of truth
    DIR/best.json        the best genotype so far, in the DESIGN.md file format
    DIR/data.json        the data set and the train/validation split the fitness was measured on
                         (training evaluators only)
    DIR/lock             the writer's lock (hiernas.run_lock); its content names the last writer

Every file is written atomically (a temporary file, then a rename), so a kill never leaves a half
written one behind.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from evolution.journal import FILENAME as JOURNAL_FILE
from evolution.journal import Journal, JournalError
from hiernas.config import RESUMABLE_KEYS, RunConfig, config_differences, with_current_defaults
from hiernas.errors import InputError
from hiernas.report.front import full_budget_rung
from hiernas.run_lock import LOCK_FILE, RunLock
from motifs import Genotype
from motifs.data_files import DataFileError, load_yaml
from motifs.files import genotype_text

CONFIG_FILE = "config.yaml"
BEST_FILE = "best.json"
DATA_FILE = "data.json"
CHECKPOINTS = "checkpoints"  # the run directory's folder of rung checkpoints (successive halving)
IDENTITY_KEY = "run_identity"  # journal meta: run_identity() of the configuration it was created with


def write_atomically(path: Path, text: str | bytes) -> None:
    """Write ``text`` (or bytes) to ``path`` so that readers see the old or the new file, never a
    part. The path is replaced, never written through: a symlink planted there is replaced too,
    and its target is left alone."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(text.encode("utf-8") if isinstance(text, str) else text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it private; a run's files are not secret
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def open_run(run_dir: Path, config: RunConfig) -> tuple[Journal, bool, RunLock]:
    """The journal of ``run_dir``, created for a new run or reopened to resume one, and the
    directory's writer lock, held until the caller releases it. A resume first checks that the
    configuration is the one the run started with, that the journal belongs to this directory's
    run, and that the budget is not below what is already finished. Returns (journal, resumed, lock)."""
    journal_path = run_dir / JOURNAL_FILE
    if run_dir.exists() and not run_dir.is_dir():
        raise InputError(f"{run_dir}: exists and is not a directory")
    if not journal_path.exists():
        # Before locking, a journal being created (by a writer that holds the lock) is not a reason
        # to refuse: the lock then names that writer.
        _check_empty(run_dir, also_allowed=JOURNAL_FILE)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"{run_dir}: cannot create the run directory ({error.strerror or error})") from None
    lock = RunLock(run_dir).acquire()
    try:
        if journal_path.exists():
            return _resume(run_dir, config), True, lock
        _check_empty(run_dir)
        return _create(run_dir, config), False, lock
    except BaseException:
        lock.release()
        raise


def _check_empty(run_dir: Path, also_allowed: str | None = None) -> None:
    """Refuse a directory that holds files of something else than a run."""

    def allowed(name: str) -> bool:
        return name in (CONFIG_FILE, LOCK_FILE) or (
            also_allowed is not None and name.startswith(also_allowed)
        )

    if run_dir.is_dir() and not all(allowed(p.name) for p in run_dir.iterdir()):
        raise InputError(
            f"{run_dir}: exists, is not empty and holds no hiernas run ({JOURNAL_FILE}); "
            f"choose an empty or new directory"
        )


def _create(run_dir: Path, config: RunConfig) -> Journal:
    try:
        write_atomically(run_dir / CONFIG_FILE, config.to_yaml())
        journal = Journal.create(run_dir / JOURNAL_FILE)
    except OSError as error:
        raise InputError(f"{run_dir}: cannot create the run directory ({error.strerror or error})") from None
    except JournalError as error:
        raise InputError(str(error)) from None
    try:
        journal.write_meta(IDENTITY_KEY, run_identity(load_yaml(config.to_yaml())))
    except BaseException:
        journal.close()
        raise
    return journal


def _resume(run_dir: Path, config: RunConfig) -> Journal:
    checkpoints = run_dir / CHECKPOINTS
    if checkpoints.exists() and not checkpoints.is_dir():  # the driver would fail to sweep it
        raise InputError(
            f"{checkpoints}: exists and is not a directory (the run's rung checkpoints go there)"
        )
    saved = read_config(run_dir)
    # A setting added since the run started takes its default rather than counting as a change.
    differing = config_differences(with_current_defaults(saved) or saved, config.to_dict())
    if differing:
        shown = ", ".join(differing[:6]) + (f" and {len(differing) - 6} more" if len(differing) > 6 else "")
        raise InputError(
            f"{run_dir}: this run was started with a different configuration ({shown} differ); "
            f"only {' and '.join(RESUMABLE_KEYS)} may change when resuming. Use another --run-dir "
            f"for a new run"
        )
    identity = run_identity(saved)
    reader = _open_journal(run_dir / JOURNAL_FILE, read_only=True)
    try:
        recorded = _read(reader.read_meta, IDENTITY_KEY)
        finished: float = _read(reader.finished_count)
        full_steps = getattr(config.evaluator, "steps", None) if config.search.fidelity else None
        top_rung = None
        if full_steps:  # successive halving: the budget counts full-budget equivalents
            finished = _read(reader.steps_spent) / full_steps
            top_rung = full_budget_rung(config.to_dict())
        _read(reader.verify, top_rung)
    finally:
        reader.close()
    if recorded is not None and recorded != identity:
        raise InputError(
            f"{run_dir / JOURNAL_FILE}: this journal belongs to another run than {run_dir / CONFIG_FILE} "
            f"describes (run identity {str(recorded)[:12]}, the configuration's {identity[:12]}); "
            f"put the journal back with its own config.yaml"
        )
    if config.budget < finished:
        raise InputError(
            f"{run_dir}: budget {config.budget} is less than the {finished:g} evaluations this run has "
            f"already finished; resume with --budget {math.ceil(finished)} or more"
        )
    journal = _open_journal(run_dir / JOURNAL_FILE)
    try:
        _read(journal.strategy_state)  # verify's last read: a format-1 journal has it once upgraded
        if recorded is None:  # a run started before journals recorded their identity
            journal.write_meta(IDENTITY_KEY, identity)
        write_atomically(run_dir / CONFIG_FILE, config.to_yaml())
    except BaseException:
        journal.close()
        raise
    return journal


def run_identity(config: Mapping[str, Any]) -> str:
    """A run's identity: a hash of its configuration without the keys a resume may change."""
    kept = {key: value for key, value in config.items() if key not in RESUMABLE_KEYS}
    text = json.dumps(kept, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _read(method: Callable[..., Any], *args: Any) -> Any:
    try:
        return method(*args)
    except JournalError as error:
        raise InputError(str(error)) from None


def read_config(run_dir: Path) -> dict:
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: no such run directory")
    path = run_dir / CONFIG_FILE
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{run_dir}: not a hiernas run (no {CONFIG_FILE})") from None
    except (OSError, UnicodeDecodeError, DataFileError) as error:
        raise InputError(f"{path}: cannot be read ({error})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a run configuration")
    return data


def open_journal_read_only(run_dir: Path) -> Journal:
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: no such run directory")
    return _open_journal(run_dir / JOURNAL_FILE, read_only=True)


def _open_journal(path: Path, *, read_only: bool = False) -> Journal:
    try:
        return Journal.open(path, read_only=read_only)
    except JournalError as error:
        raise InputError(str(error)) from None


def write_data_record(run_dir: Path, record: dict) -> None:
    write_atomically(run_dir / DATA_FILE, json.dumps(record, indent=2, default=str) + "\n")


def write_best(run_dir: Path, genotype: Genotype) -> None:
    write_atomically(run_dir / BEST_FILE, genotype_text(genotype))
