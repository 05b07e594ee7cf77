"""A run directory: the resolved configuration, the journal, and the best genotype so far.

    DIR/config.yaml      the resolved configuration the run was started with (budget and
                         executor updated on resume)
    DIR/journal.sqlite   the journal (evolution.journal): the source of truth
    DIR/best.json        the best genotype so far, in the DESIGN.md file format
    DIR/data.json        the data set and the train/validation split the fitness was measured on
                         (training evaluators only)

Every file is written atomically (a temporary file, then a rename), so a kill never leaves a half
written one behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from evolution.journal import FILENAME as JOURNAL_FILE
from evolution.journal import Journal, JournalError
from hiernas.config import RESUMABLE_KEYS, RunConfig, config_differences
from hiernas.errors import InputError
from motifs import Genotype
from motifs.data_files import DataFileError, load_yaml
from motifs.files import genotype_text

CONFIG_FILE = "config.yaml"
BEST_FILE = "best.json"
DATA_FILE = "data.json"


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


def open_run(run_dir: Path, config: RunConfig) -> tuple[Journal, bool]:
    """The journal of ``run_dir``, created for a new run or reopened to resume one (after checking
    that the configuration is the one it started with). Returns (journal, resumed)."""
    journal_path = run_dir / JOURNAL_FILE
    if journal_path.exists():
        saved = read_config(run_dir)
        differing = config_differences(saved, config.to_dict())
        if differing:
            shown = ", ".join(differing[:6]) + (
                f" and {len(differing) - 6} more" if len(differing) > 6 else ""
            )
            raise InputError(
                f"{run_dir}: this run was started with a different configuration ({shown} differ); "
                f"only {' and '.join(RESUMABLE_KEYS)} may change when resuming. Use another --run-dir "
                f"for a new run"
            )
        journal = _open_journal(journal_path)
        write_atomically(run_dir / CONFIG_FILE, config.to_yaml())
        return journal, True
    if run_dir.exists() and not run_dir.is_dir():
        raise InputError(f"{run_dir}: exists and is not a directory")
    if run_dir.is_dir() and any(p.name != CONFIG_FILE for p in run_dir.iterdir()):
        raise InputError(
            f"{run_dir}: exists, is not empty and holds no hiernas run ({JOURNAL_FILE}); "
            f"choose an empty or new directory"
        )
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_atomically(run_dir / CONFIG_FILE, config.to_yaml())
        return Journal.create(journal_path), False
    except OSError as error:
        raise InputError(f"{run_dir}: cannot create the run directory ({error.strerror or error})") from None
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
