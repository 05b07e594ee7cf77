"""JSON and YAML from files we do not control (configs, genotypes, run directories), read with
bounds: a billion-laughs file (aliases expanding to billions of values) or one nested tens of
thousands of levels deep is refused with one line, never a MemoryError or RecursionError.

Safe loading (no object construction) is PyYAML's ``safe_load``; the bounds are checked on what
it built, walking aliases as their expansion would, without expanding anything.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

MAX_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 100
# Values (mappings, lists and scalars), with every alias counted as often as it is used.
MAX_VALUES = 2_000_000


class DataFileError(ValueError):
    """Text that is not valid JSON/YAML, or too large or deep once aliases are expanded."""


def load_yaml(text: str) -> Any:
    _check_size(text)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise DataFileError(f"not valid YAML{where}: {getattr(error, 'problem', None) or error}") from None
    except RecursionError:
        raise DataFileError(f"nested more than {MAX_DEPTH} levels deep") from None
    check_bounds(data)
    return data


def load_json(text: str | bytes) -> Any:
    """``json.loads`` with the same bounds; a syntax error stays a ``json.JSONDecodeError``."""
    _check_size(text)
    try:
        data = json.loads(text)
    except RecursionError:
        raise DataFileError(f"nested more than {MAX_DEPTH} levels deep") from None
    check_bounds(data)
    return data


def check_bounds(data: Any) -> None:
    """Refuse ``data`` nested deeper than ``MAX_DEPTH`` or holding more than ``MAX_VALUES`` values
    once expanded. Iterative, and stops at the first bound crossed: bounded work on any input."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    seen = 0
    while stack:
        value, depth = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise DataFileError(f"expands to more than {MAX_VALUES:,} values (nested YAML aliases?)")
        if depth > MAX_DEPTH:
            raise DataFileError(f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for pair in value.items() for item in pair)
        elif isinstance(value, list | tuple):
            stack.extend((item, depth + 1) for item in value)


def _check_size(text: str | bytes) -> None:
    if len(text) > MAX_BYTES:
        raise DataFileError(f"larger than {MAX_BYTES // (1024 * 1024)} MiB")
