"""NB201 architecture strings ↔ genotypes (hiernas.nb201)."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hiernas.errors import InputError
from hiernas.nb201 import (
    FROM_NB201,
    NONE,
    NB201Error,
    all_archs,
    arch_to_genotype,
    check_space,
    genotype_to_arch,
    parse_arch,
)
from motifs import PRESETS, Genotype, Motif, Space, sample
from motifs.canonical import canonical_key
from tests.strategies import genotypes

NB201_OPS = (NONE, *FROM_NB201)
BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"


@st.composite
def arch_strings(draw: st.DrawFn) -> str:
    ops = draw(st.lists(st.sampled_from(NB201_OPS), min_size=6, max_size=6))
    a, b, c, d, e, f = ops
    return f"|{a}~0|+|{b}~0|{c}~1|+|{d}~0|{e}~1|{f}~2|"


def _permuted(genotype: Genotype, order: list[int]) -> Genotype:
    """The same cell over the primitive list reordered: new position p holds old primitive order[p]."""
    new_code = {old + 1: new + 1 for new, old in enumerate(order)} | {0: 0}
    primitives = tuple(genotype.primitives[old] for old in order)
    matrix = tuple(tuple(new_code[op] for op in row) for row in genotype.cell.matrix)
    return Genotype(primitives, ((Motif(matrix),),))


def test_every_table_row_round_trips(nb201_table: Path) -> None:
    with nb201_table.open(newline="") as file:
        archs = [row["arch"] for row in csv.DictReader(file)]
    assert len(archs) == 15_625
    # The table is the whole space, dead-edge variants included, so the mapping must be onto it.
    assert set(archs) == all_archs()
    for arch in archs:
        assert genotype_to_arch(arch_to_genotype(arch)) == arch


def test_best_cell_maps_to_the_expected_matrix() -> None:
    genotype = arch_to_genotype(BEST)
    assert genotype.primitives == PRESETS["nb201"].primitives
    # identity=1, conv1x1=2, conv3x3=3, avgpool3x3=4; column j lists the edges into node j.
    assert genotype.cell.matrix == ((0, 3, 3, 1), (0, 0, 3, 2), (0, 0, 0, 3), (0, 0, 0, 0))
    PRESETS["nb201"].check(genotype)


def test_dead_edges_are_kept() -> None:
    # Node 2 feeds nothing (its out-edge is none), so conv3x3~0 into node 2 is dead; NB201 still
    # tells the two cells apart, and so must the mapping.
    live_only = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"
    with_dead = "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"
    a, b = arch_to_genotype(live_only), arch_to_genotype(with_dead)
    assert canonical_key(a) == canonical_key(b)
    assert genotype_to_arch(a) == live_only and genotype_to_arch(b) == with_dead


@given(arch_strings())
def test_string_genotype_string(arch: str) -> None:
    assert arch in all_archs()
    assert genotype_to_arch(arch_to_genotype(arch)) == arch


@given(arch_strings(), st.permutations(range(4)))
def test_primitive_order_does_not_change_the_string(arch: str, order: list[int]) -> None:
    genotype = arch_to_genotype(arch)
    permuted = _permuted(genotype, order)
    assert genotype_to_arch(permuted) == arch
    assert arch_to_genotype(arch, permuted.primitives) == permuted


@given(genotypes(PRESETS["nb201"]))
def test_search_genotypes_map(genotype: Genotype) -> None:
    assert arch_to_genotype(genotype_to_arch(genotype)) == genotype


def test_a_subset_of_the_primitives_is_still_nb201() -> None:
    genotype = Genotype(("conv3x3", "identity"), ((Motif.chain(4, 2),),))
    assert (
        genotype_to_arch(genotype)
        == "|skip_connect~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|"
    )
    with pytest.raises(NB201Error, match=r"avg_pool_3x3.*not among the primitives"):
        arch_to_genotype("|avg_pool_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", ("identity",))


@pytest.mark.parametrize(
    ("arch", "message"),
    [
        ("", "expected 3 groups"),
        ("|none~0|+|none~0|none~1|", "expected 3 groups"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|+|none~0|", "expected 3 groups"),
        ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", r"group 1 .* must start and end with '\|'"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "group 2 .* needs 2 entries"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|none~3|", "group 3 .* needs 3 entries"),
        ("|none~0|+|none~1|none~0|+|none~0|none~1|none~2|", "should be 'op~0'"),
        ("|none|+|none~0|none~1|+|none~0|none~1|none~2|", "should be 'op~0'"),
        ("|conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown operation 'conv_3x3'"),
        (" |none~0|+|none~0|none~1|+|none~0|none~1|none~2|", r"must start and end with '\|'"),
    ],
)
def test_malformed_strings_are_rejected(arch: str, message: str) -> None:
    with pytest.raises(NB201Error, match=message):
        arch_to_genotype(arch)
    assert arch not in all_archs()


@st.composite
def edited_arch_strings(draw: st.DrawFn) -> str:
    """A well-formed string with one character deleted, replaced or inserted (or none): mostly
    malformed, sometimes another well-formed string, so both branches below are exercised."""
    text = draw(arch_strings())
    at = draw(st.integers(0, len(text)))
    char = draw(st.sampled_from("|+~0123n_ "))
    edit = draw(st.sampled_from(["keep", "delete", "replace", "insert"]))
    if edit == "delete":
        return text[:at] + text[at + 1 :]
    if edit == "replace":
        return text[:at] + char + text[at + 1 :]
    if edit == "insert":
        return text[:at] + char + text[at:]
    return text


@given(edited_arch_strings() | st.text(alphabet="|+~0123 nonekip_cvt", max_size=80))
def test_parser_and_the_set_of_strings_agree(text: str) -> None:
    try:
        parse_arch(text)
    except NB201Error:
        assert text not in all_archs()
    else:
        assert text in all_archs()


@pytest.mark.parametrize(
    ("preset", "reasons"),
    [
        ("hierarchical", ["3 levels", "5 nodes", "'dwconv3x3'"]),
        ("flat", ["11 nodes", "'sepconv3x3'"]),
    ],
)
def test_genotypes_outside_the_space_are_rejected(preset: str, reasons: list[str]) -> None:
    genotype = sample(PRESETS[preset], random.Random(0), 50)
    with pytest.raises(NB201Error) as raised:
        genotype_to_arch(genotype)
    message = str(raised.value)
    assert "one 4-node motif" in message and "identity, conv1x1, conv3x3, avgpool3x3" in message
    for reason in reasons:
        assert reason in message
    assert isinstance(raised.value, InputError) and isinstance(raised.value, ValueError)
    with pytest.raises(NB201Error, match="this space does not fit"):
        check_space(PRESETS[preset])


def test_nb201_shaped_space_with_a_foreign_primitive_is_rejected() -> None:
    space = Space(("identity", "conv1x1", "maxpool3x3"), (1,), (4,))
    with pytest.raises(NB201Error, match="'maxpool3x3' have no NB201 operation"):
        check_space(space)
    with pytest.raises(NB201Error, match="'maxpool3x3'"):
        genotype_to_arch(space.initial())
    check_space(PRESETS["nb201"])


def test_out_of_range_op_is_rejected() -> None:
    genotype = Genotype(("identity",), ((Motif.chain(4, 2),),))
    with pytest.raises(NB201Error, match=r"G\[0\]\[1\] = 2 names no primitive"):
        genotype_to_arch(genotype)
