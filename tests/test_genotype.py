"""The genotype as data: the file format round-trips exactly and stays immutable and hashable."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest
import yaml
from hypothesis import given

from motifs import FORMAT, PRESETS, Genotype, Motif, Space, sample
from motifs.files import genotype_text, load_genotype, parse_text, save_genotype
from tests.strategies import genotypes


@given(genotypes())
def test_json_round_trip_is_exact(genotype: Genotype) -> None:
    assert Genotype.from_dict(json.loads(genotype_text(genotype))) == genotype
    assert Genotype.from_dict(json.loads(json.dumps(genotype.to_dict()))) == genotype


@given(genotypes())
def test_yaml_round_trip_is_exact(genotype: Genotype) -> None:
    assert Genotype.from_dict(yaml.safe_load(genotype_text(genotype, yaml_format=True))) == genotype


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".yml"])
def test_files_round_trip(tmp_path, suffix: str) -> None:
    genotype = sample(PRESETS["hierarchical"], random.Random(7))
    path = tmp_path / f"g{suffix}"
    save_genotype(genotype, path)
    assert load_genotype(path) == genotype


def test_yaml_content_in_a_json_named_file_is_accepted(tmp_path) -> None:
    genotype = sample(PRESETS["flat"], random.Random(1), 50)
    path = tmp_path / "g.json"
    path.write_text(genotype_text(genotype, yaml_format=True))
    assert load_genotype(path) == genotype


def test_file_matches_the_design_example() -> None:
    space = Space(PRESETS["hierarchical"].primitives, (6, 1), (4, 5))
    data = space.initial().to_dict()
    assert data["format"] == FORMAT
    assert data["levels"][0]["motifs"][0] == [[0, 6, 0, 0], [0, 0, 6, 0], [0, 0, 0, 6], [0, 0, 0, 0]]
    assert data["levels"][1]["motifs"] == [
        [[0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]]
    ]


def test_genotypes_are_immutable_and_hashable() -> None:
    genotype = sample(PRESETS["hierarchical"], random.Random(3))
    with pytest.raises(dataclasses.FrozenInstanceError):
        genotype.primitives = ()  # type: ignore[misc]
    assert {genotype: 1}[Genotype.from_dict(genotype.to_dict())] == 1


def test_live_edges_drop_dead_nodes_and_edges() -> None:
    # 0→1→3 is live; node 2 is fed from 0 but feeds nothing; 1→2 therefore dead too.
    motif = Motif(((0, 1, 2, 0), (0, 0, 3, 4), (0, 0, 0, 0), (0, 0, 0, 0)))
    assert [tuple(e) for e in motif.live_edges()] == [(0, 1, 1), (1, 3, 4)]
    assert Motif(((0, 1, 0), (0, 0, 0), (0, 0, 0))).live_edges() == ()


def test_parse_text_reports_json_position() -> None:
    from motifs import GenotypeError

    with pytest.raises(GenotypeError, match=r"not valid JSON at line 2"):
        parse_text('{\n  "format": ,\n}', "g.json")
