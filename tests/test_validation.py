"""Every kind of defect in a genotype is rejected with a message that names where it is."""

from __future__ import annotations

import copy
import random

import pytest

from motifs import PRESETS, GenotypeError, sample
from motifs.files import load_genotype

GOOD = sample(PRESETS["hierarchical"], random.Random(0)).to_dict()


def _edit(path: str, value: object) -> dict:
    """GOOD with the item at a dotted/indexed path replaced (or deleted when value is ...)."""
    data = copy.deepcopy(GOOD)
    parts = [int(p) if p.isdigit() else p for p in path.split(".")]
    target = data
    for part in parts[:-1]:
        target = target[part]
    if value is ...:
        del target[parts[-1]]
    else:
        target[parts[-1]] = value
    return data


DEFECTS = {
    "not a mapping": ([1, 2], r"^genotype: expected a mapping"),
    "missing format": (_edit("format", ...), r"missing key 'format'"),
    "wrong format tag": (_edit("format", "hiernas-genotype/2"), r"format is 'hiernas-genotype/2', expected"),
    "unknown top key": ({**GOOD, "fitness": 1}, r"unknown key 'fitness'"),
    "unknown primitive": (_edit("primitives.2", "conv7x7"), r"primitives\[2\]: unknown primitive 'conv7x7'"),
    "duplicate primitive": (_edit("primitives.1", "conv1x1"), r"primitives\[1\]: 'conv1x1' is listed twice"),
    "primitive not a string": (_edit("primitives.0", 5), r"primitives\[0\]: expected a name, got int"),
    "no primitives": (_edit("primitives", []), r"primitives: expected a non-empty list"),
    "levels not a list": (_edit("levels", "abc"), r"levels: expected a non-empty list"),
    "level not a mapping": (_edit("levels.0", [1]), r"level 2 \(levels\[0\]\): expected a mapping"),
    "level extra key": (_edit("levels.0.name", "x"), r"level 2 \(levels\[0\]\): unknown key 'name'"),
    "two cells": (_edit("levels.1.motifs", GOOD["levels"][1]["motifs"] * 2), r"level 3 .*exactly one motif"),
    "matrix not a list": (
        _edit("levels.0.motifs.2", 7),
        r"level 2, motif 3 \(levels\[0\]\.motifs\[2\]\): expected",
    ),
    "one-node motif": (_edit("levels.0.motifs.1", [[0]]), r"motif 2 .*at least 2 nodes"),
    "ragged row": (_edit("levels.0.motifs.0.1", [0, 0, 1]), r"motif 1 .*row 1: has 3 entries, expected 4"),
    "row not a list": (_edit("levels.0.motifs.0.1", 3), r"row 1: expected a list of 4 integers"),
    "float entry": (
        _edit("levels.0.motifs.3.0.2", 1.5),
        r"motif 4 .*cell G\[0\]\[2\]: expected an integer, got float",
    ),
    "bool entry": (_edit("levels.0.motifs.3.0.2", True), r"cell G\[0\]\[2\]: expected an integer, got bool"),
    "below diagonal": (
        _edit("levels.0.motifs.5.2.1", 3),
        r"motif 6 .*cell G\[2\]\[1\]: is 3 but entries on and below",
    ),
    "on diagonal": (_edit("levels.1.motifs.0.2.2", 1), r"level 3, motif 1 .*cell G\[2\]\[2\]"),
    "op out of range at level 2": (
        _edit("levels.0.motifs.0.0.1", 7),
        r"cell G\[0\]\[1\]: op 7 is out of range 0\.\.6",
    ),
    "negative op": (_edit("levels.0.motifs.0.0.1", -1), r"op -1 is out of range"),
    "motif out of range at level 3": (
        _edit("levels.1.motifs.0.0.4", 7),
        r"level 3, motif 1 .*G\[0\]\[4\]: op 7 is out of range 0\.\.6",
    ),
    "mixed motif sizes": (
        _edit("levels.0.motifs.4", [[0, 1, 0], [0, 0, 1], [0, 0, 0]]),
        r"level 2, motif 5 .*has 3 nodes but motif 1 of this level has 4",
    ),
}


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_defect_is_rejected_with_its_location(name: str) -> None:
    data, pattern = DEFECTS[name]
    with pytest.raises(GenotypeError, match=pattern) as error:
        from motifs import Genotype

        Genotype.from_dict(data)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        ('{"format": "hiernas-genotype/1", ', r"not valid JSON at line 1"),
        ("format: [unclosed", r"not valid YAML"),
        ("", r"expected a mapping"),
    ],
)
def test_broken_files_name_the_file(tmp_path, content: str, pattern: str) -> None:
    suffix = ".yaml" if "format:" in content else ".json"
    path = tmp_path / f"broken{suffix}"
    path.write_text(content)
    with pytest.raises(GenotypeError, match=pattern) as error:
        load_genotype(path)
    assert str(error.value).startswith(str(path))


def test_missing_and_binary_files(tmp_path) -> None:
    with pytest.raises(GenotypeError, match="no such genotype file"):
        load_genotype(tmp_path / "absent.json")
    binary = tmp_path / "g.json"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(GenotypeError, match="not a text file"):
        load_genotype(binary)
    with pytest.raises(GenotypeError, match="is a directory"):
        load_genotype(tmp_path)
