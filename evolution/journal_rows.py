"""How journal rows become values and values become rows, and how a damaged row is reported.

Every reading method of ``Journal`` is wrapped by ``reads``: a corrupt page, a dropped table, bad
JSON in a column or a fitness that is not a number becomes one ``JournalError`` naming the file and
the problem, never a traceback.
"""

from __future__ import annotations

import functools
import json
import math
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from evolution.evaluation import EvalResult
from evolution.journal_format import JournalError
from evolution.strategy import Proposal
from motifs import Genotype, Mutation

_T = TypeVar("_T")


def json_text(value: Any) -> str:
    return json.dumps(value, default=_plain, allow_nan=False, separators=(",", ":"))


def _plain(value: Any) -> Any:
    """numpy/torch scalars and other numbers in metrics become plain JSON values."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"metric value {value!r} of type {type(value).__name__} is not JSON-serialisable")


def metrics_text(metrics: Mapping[str, Any]) -> str:
    """Metrics as JSON; non-finite floats become null (JSON has no NaN)."""

    def clean(v: Any) -> Any:
        v = _plain(v) if hasattr(v, "item") else v
        return None if isinstance(v, float) and not math.isfinite(v) else v

    return json_text({str(k): clean(v) for k, v in metrics.items()})


def reads(method: Callable[..., _T]) -> Callable[..., _T]:
    """A reading method whose failures on a damaged journal become one ``JournalError`` line."""

    @functools.wraps(method)
    def guarded(self: Any, *args: Any, **kwargs: Any) -> _T:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as error:
            raise JournalError(f"{self.path}: cannot read the journal ({error})") from None
        except (ValueError, TypeError, KeyError) as error:
            raise JournalError(f"{self.path}: the journal is damaged ({error})") from None

    return guarded


def load_json(text: Any, what: str) -> Any:
    if not isinstance(text, str):
        raise ValueError(f"{what} is not JSON text")
    try:
        return json.loads(text)
    except ValueError as error:
        raise ValueError(f"{what} is not valid JSON ({error})") from None


def proposal_from(row: sqlite3.Row) -> Proposal:
    """A proposal from a row with its columns (origin, genotype, parent, mutation, extra)."""
    where = f"proposal {row['proposal_id']}"
    mutation = row["mutation"]
    extra = load_json(row["extra"], f"the extra of {where}")
    if not isinstance(extra, dict):
        raise ValueError(f"the extra of {where} is not a JSON object")
    # A plug-in's primitive names are unknown to a reader that never imports plug-ins (status, report):
    # the structure is still checked, and a writer's space check names any primitive it lacks.
    genotype = load_json(row["genotype"], f"the genotype of {where}")
    return Proposal(
        Genotype.from_dict(genotype, registered_only=False),
        row["origin"],
        parent=row["parent"],
        mutation=Mutation.from_dict(load_json(mutation, f"the mutation of {where}")) if mutation else None,
        extra=extra,
    )


def result_from(row: sqlite3.Row) -> EvalResult:
    """An evaluation's result from a row with its columns (id, status, fitness, metrics, error)."""
    where = f"evaluation {row['id']}"
    status, fitness = row["status"], row["fitness"]
    if status == "done" and (
        not isinstance(fitness, int | float) or isinstance(fitness, bool) or not math.isfinite(fitness)
    ):
        raise ValueError(f"{where} is done but its fitness {fitness!r} is not a number")
    if fitness is not None and not isinstance(fitness, int | float):
        raise ValueError(f"{where} has fitness {fitness!r}, which is not a number")
    metrics = load_json(row["metrics"], f"the metrics of {where}")
    if not isinstance(metrics, dict):
        raise ValueError(f"the metrics of {where} are not a JSON object")
    return EvalResult(status, None if fitness is None else float(fitness), metrics, row["error"])  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Unfinished:
    """An evaluation that was pending or running when the journal was last written."""

    evaluation_id: int
    proposal_id: int
    proposal: Proposal
    key: str
    attempt: int
    rung: int = 0
    # It had started on a worker: the run stopped without handing it back (killed, crashed), so
    # this attempt counts (a network that takes the run down with it must not be retried forever).
    running: bool = False


@dataclass(frozen=True, slots=True)
class Ranked:
    """A finished evaluation as reports list it; the genotype stays in its file-format dict."""

    proposal_id: int
    key: str
    genotype: dict[str, Any]
    fitness: float
    metrics: dict[str, Any]
    evaluation_id: int
    # Successive halving: the highest rung with a done result, which this is, and its steps.
    rung: int = 0
    steps: int | None = None
