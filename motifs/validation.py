"""Untrusted data → ``Genotype``, with errors that say exactly where the fault is.

Every message names the place in the file format (``levels[0].motifs[2]``) and, for humans, the paper's
level number and a 1-based motif number (the number an op at the level above uses to name it), plus
the matrix cell ``G[i][j]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from motifs.genotype import FORMAT, Genotype, Motif
from motifs.primitives import PRIMITIVES, known_names


class GenotypeError(ValueError):
    """A genotype (file or dict) that does not follow the ``hiernas-genotype/1`` format."""


_TOP_KEYS = ("format", "primitives", "levels")


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_genotype(data: Any, *, registered_only: bool = True) -> Genotype:
    """Validate ``data`` against the interchange format and build the genotype; with
    ``registered_only``, every primitive must be in ``motifs.primitives``."""
    if not isinstance(data, Mapping):
        raise GenotypeError(
            f"genotype: expected a mapping with keys {', '.join(_TOP_KEYS)}, got {_type_name(data)}"
        )
    for key in _TOP_KEYS:
        if key not in data:
            raise GenotypeError(f"genotype: missing key '{key}'")
    unknown = sorted(str(k) for k in data if k not in _TOP_KEYS)
    if unknown:
        raise GenotypeError(f"genotype: unknown key '{unknown[0]}' (allowed: {', '.join(_TOP_KEYS)})")
    if data["format"] != FORMAT:
        raise GenotypeError(f"genotype: format is {data['format']!r}, expected {FORMAT!r}")
    primitives = _parse_primitives(data["primitives"], registered_only)
    levels_data = data["levels"]
    if not isinstance(levels_data, Sequence) or isinstance(levels_data, str) or not levels_data:
        raise GenotypeError(f"levels: expected a non-empty list of levels, got {_type_name(levels_data)}")
    levels: list[tuple[Motif, ...]] = []
    for index, level_data in enumerate(levels_data):
        op_count = len(primitives) if index == 0 else len(levels[index - 1])
        levels.append(_parse_level(index, level_data, op_count, top=index == len(levels_data) - 1))
    return Genotype(primitives, tuple(levels))


def _parse_primitives(value: Any, registered_only: bool) -> tuple[str, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str) or not value:
        raise GenotypeError(f"primitives: expected a non-empty list of names, got {_type_name(value)}")
    seen: set[str] = set()
    for position, name in enumerate(value):
        if not isinstance(name, str):
            raise GenotypeError(f"primitives[{position}]: expected a name, got {_type_name(name)}")
        if not name:
            raise GenotypeError(f"primitives[{position}]: a primitive's name must not be empty")
        if registered_only and name not in PRIMITIVES:
            raise GenotypeError(
                f"primitives[{position}]: unknown primitive {name!r} (known: {known_names()}; "
                "a plug-in's primitives need its module in the config's plugins)"
            )
        if name in seen:
            raise GenotypeError(f"primitives[{position}]: {name!r} is listed twice")
        seen.add(name)
    return tuple(value)


def _parse_level(index: int, value: Any, op_count: int, *, top: bool) -> tuple[Motif, ...]:
    where = f"level {index + 2} (levels[{index}])"
    if not isinstance(value, Mapping) or "motifs" not in value:
        raise GenotypeError(f"{where}: expected a mapping with key 'motifs', got {_type_name(value)}")
    extra = sorted(str(k) for k in value if k != "motifs")
    if extra:
        raise GenotypeError(f"{where}: unknown key '{extra[0]}' (allowed: motifs)")
    motifs = value["motifs"]
    if not isinstance(motifs, Sequence) or isinstance(motifs, str) or not motifs:
        raise GenotypeError(f"{where}: 'motifs' must be a non-empty list of matrices")
    if top and len(motifs) != 1:
        raise GenotypeError(
            f"{where}: the top level must hold exactly one motif (the cell), found {len(motifs)}"
        )
    parsed = tuple(_parse_matrix(index, m, matrix, op_count) for m, matrix in enumerate(motifs))
    sizes = {motif.nodes for motif in parsed}
    if len(sizes) > 1:
        first = parsed[0].nodes
        odd = next(m for m, motif in enumerate(parsed) if motif.nodes != first)
        raise GenotypeError(
            f"level {index + 2}, motif {odd + 1} (levels[{index}].motifs[{odd}]): "
            f"has {parsed[odd].nodes} nodes but motif 1 of this level has {first}; "
            f"all motifs of a level have the same size"
        )
    return parsed


def _parse_matrix(index: int, m: int, value: Any, op_count: int) -> Motif:
    where = f"level {index + 2}, motif {m + 1} (levels[{index}].motifs[{m}])"
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise GenotypeError(f"{where}: expected an n × n list of lists, got {_type_name(value)}")
    n = len(value)
    if n < 2:
        raise GenotypeError(f"{where}: a motif needs at least 2 nodes (input and output), got {n}")
    rows: list[tuple[int, ...]] = []
    for i, row in enumerate(value):
        if not isinstance(row, Sequence) or isinstance(row, str):
            raise GenotypeError(f"{where}, row {i}: expected a list of {n} integers, got {_type_name(row)}")
        if len(row) != n:
            raise GenotypeError(f"{where}, row {i}: has {len(row)} entries, expected {n} (n × n matrix)")
        for j, entry in enumerate(row):
            cell = f"{where}, cell G[{i}][{j}]"
            if not _is_int(entry):
                raise GenotypeError(f"{cell}: expected an integer, got {_type_name(entry)} {entry!r}")
            if j <= i and entry != 0:
                raise GenotypeError(f"{cell}: is {entry} but entries on and below the diagonal must be 0")
            if not 0 <= entry <= op_count:
                raise GenotypeError(f"{cell}: op {entry} is out of range 0..{op_count}")
        rows.append(tuple(row))
    return Motif(tuple(rows))
