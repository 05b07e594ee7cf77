"""Genotypes ↔ NAS-Bench-201 architecture strings.

NAS-Bench-201 (Dong & Yang, ICLR 2020) fixes one cell: a DAG of 4 nodes whose 6 edges i → j each
carry one of five operations. Its architecture string lists the edges into node 1, node 2 and node 3,
each as ``op~source`` in source order::

    |op~0|+|op~0|op~1|+|op~0|op~1|op~2|

In hiernas this is the space ``PRESETS["nb201"]``: L = 2, one 4-node motif over the primitives
``identity``, ``conv1x1``, ``conv3x3``, ``avgpool3x3``, with op 0 being NB201's ``none``.

Two choices matter here:

- Operations are mapped by primitive NAME, never by index, so a genotype whose primitive list is a
  permutation (or a subset) of those four names maps to the same string as the preset's order does.
- The whole matrix is mapped, dead edges included: NB201 lists every edge, and its table holds
  separate rows (separate training runs) for cells that differ only in edges off the input → output
  paths. Only the live graph would lose that distinction.

Errors are ``NB201Error``, both an ``InputError`` (the CLI prints one line and exits 2: a genotype or
space outside the table's space is a configuration mistake, not a bad architecture) and a
``ValueError`` (for callers that treat it as a plain bad value).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import cache

from hiernas.errors import InputError
from motifs.genotype import Genotype, Motif
from motifs.space import PRESETS, Space

NODES = 4
NONE = "none"
# hiernas primitive name → NB201 operation name.
TO_NB201: dict[str, str] = {
    "identity": "skip_connect",
    "conv1x1": "nor_conv_1x1",
    "conv3x3": "nor_conv_3x3",
    "avgpool3x3": "avg_pool_3x3",
}
FROM_NB201: dict[str, str] = {nb201: name for name, nb201 in TO_NB201.items()}
SPACE: Space = PRESETS["nb201"]

# The data sets NB201's columns are named after (the prefix before the first '-'): the image shape
# and class count a network is built with to count its parameters and FLOPs. NB201 trains CIFAR-10
# and CIFAR-100 at 32×32 and ImageNet16-120 at 16×16; an unknown prefix is taken as CIFAR-10.
DATASET_SHAPES: dict[str, tuple[tuple[int, int, int], int]] = {
    "cifar10": ((3, 32, 32), 10),
    "cifar100": ((3, 32, 32), 100),
    "imagenet16": ((3, 16, 16), 120),
}


def column_shape(column: str) -> tuple[tuple[int, int, int], int]:
    """(input shape, classes) of the data set a table column such as ``cifar10-val-12ep`` measures."""
    return DATASET_SHAPES.get(column.split("-", 1)[0].lower(), DATASET_SHAPES["cifar10"])


_COVERAGE = f"the NB201 table covers one {NODES}-node motif (L=2) over {', '.join(TO_NB201)} (0 = none)"


class NB201Error(InputError, ValueError):
    """A genotype, space or architecture string that is not (in) NAS-Bench-201's cell space."""


def space_misfit(primitives: Sequence[str], motifs: Sequence[int], nodes: Sequence[int]) -> str | None:
    """Why a space of this shape is not (a subset of) the NB201 space, or None when it is one.

    ``motifs``/``nodes`` describe levels 2..L as in ``Space``. A subset of the four primitives is
    accepted: every such genotype is still an NB201 cell.
    """
    reasons = []
    if len(motifs) != 1:
        reasons.append(f"it has {len(motifs) + 1} levels (L={len(motifs) + 1}), not 2")
    elif motifs[0] != 1:
        reasons.append(f"its level 2 holds {motifs[0]} motifs, not 1")
    if nodes and nodes[-1] != NODES:
        reasons.append(f"its cell has {nodes[-1]} nodes, not {NODES}")
    unknown = [name for name in primitives if name not in TO_NB201]
    if unknown:
        reasons.append(f"primitive(s) {', '.join(map(repr, unknown))} have no NB201 operation")
    if len(set(primitives)) != len(primitives):
        reasons.append("a primitive is listed twice")
    return "; ".join(reasons) or None


def check_space(space: Space) -> None:
    """Raise ``NB201Error`` unless genotypes of ``space`` are NB201 cells."""
    reason = space_misfit(space.primitives, space.motifs, space.nodes)
    if reason:
        raise NB201Error(f"space: {_COVERAGE}; this space does not fit: {reason}")


def check_genotype(genotype: Genotype) -> None:
    """Raise ``NB201Error`` unless ``genotype`` is an NB201 cell (see ``genotype_to_arch``)."""
    # Not via Space.of: that rejects primitive lists without identity, which are still NB201 cells.
    reason = space_misfit(
        genotype.primitives,
        tuple(len(level) for level in genotype.levels),
        tuple(level[0].nodes for level in genotype.levels if level),
    )
    if reason:
        raise NB201Error(f"{_COVERAGE}; this genotype does not fit: {reason}")
    matrix = genotype.cell.matrix
    if len(matrix) != NODES or any(len(row) != NODES for row in matrix):
        raise NB201Error(f"{_COVERAGE}; this genotype's cell is not a {NODES}×{NODES} matrix")
    for i, row in enumerate(matrix):
        for j, op in enumerate(row):
            if j <= i and op:
                raise NB201Error(f"genotype: G[{i}][{j}] = {op} lies on or below the diagonal")
            if not 0 <= op <= len(genotype.primitives):
                raise NB201Error(
                    f"genotype: G[{i}][{j}] = {op} names no primitive (there are {len(genotype.primitives)})"
                )


def is_cell(genotype: Genotype) -> bool:
    """Whether ``genotype`` is an NB201 cell (``check_genotype`` passes)."""
    try:
        check_genotype(genotype)
    except NB201Error:
        return False
    return True


def genotype_to_arch(genotype: Genotype) -> str:
    """The NB201 string of ``genotype``'s cell, dead edges included; ``NB201Error`` outside the space."""
    check_genotype(genotype)
    matrix = genotype.cell.matrix
    names = (NONE, *(TO_NB201[name] for name in genotype.primitives))
    groups = ("|".join(f"{names[matrix[i][j]]}~{i}" for i in range(j)) for j in range(1, NODES))
    return "+".join(f"|{group}|" for group in groups)


def parse_arch(arch: str) -> tuple[tuple[str, ...], ...]:
    """Split an NB201 string into ``ops[j-1][i]``: the NB201 op name on edge i → j.

    Strict, because the table is keyed by exact strings: three ``|``-delimited groups joined by
    ``+``, group j holding j entries ``op~i`` with sources 0..j-1 in order, known op names only.
    """
    if not isinstance(arch, str):
        raise NB201Error(f"NB201 architecture: expected a string, got {type(arch).__name__}")
    shown = arch if len(arch) <= 120 else arch[:117] + "..."
    groups = arch.split("+")
    if len(groups) != NODES - 1:
        raise NB201Error(
            f"NB201 architecture {shown!r}: expected {NODES - 1} groups joined by '+' "
            f"(the edges into nodes 1..{NODES - 1}), got {len(groups)}"
        )
    ops: list[tuple[str, ...]] = []
    for j, group in enumerate(groups, start=1):
        if len(group) < 2 or not group.startswith("|") or not group.endswith("|"):
            raise NB201Error(
                f"NB201 architecture {shown!r}: group {j} ({group!r}) must start and end with '|'"
            )
        entries = group[1:-1].split("|")
        if len(entries) != j:
            raise NB201Error(
                f"NB201 architecture {shown!r}: group {j} (edges into node {j}) needs {j} "
                f"entries 'op~source', got {len(entries)}"
            )
        row = []
        for i, entry in enumerate(entries):
            op, sep, source = entry.partition("~")
            if not sep or source != str(i):
                raise NB201Error(
                    f"NB201 architecture {shown!r}: entry {entry!r} of group {j} should be 'op~{i}' "
                    f"(the edge from node {i} into node {j})"
                )
            if op != NONE and op not in FROM_NB201:
                raise NB201Error(
                    f"NB201 architecture {shown!r}: unknown operation {op!r} "
                    f"(known: {', '.join([NONE, *FROM_NB201])})"
                )
            row.append(op)
        ops.append(tuple(row))
    return tuple(ops)


@cache
def all_archs() -> frozenset[str]:
    """Every well-formed NB201 string: 5 operations on each of the 6 edges, 15,625 in all.

    Membership here is the fast equivalent of ``parse_arch`` succeeding (built on first use).
    """
    # "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|": the slots in the order the string lists the edges.
    template = "+".join("|" + "|".join(f"{{}}~{i}" for i in range(j)) + "|" for j in range(1, NODES))
    edges = NODES * (NODES - 1) // 2
    return frozenset(template.format(*ops) for ops in itertools.product((NONE, *FROM_NB201), repeat=edges))


def arch_to_genotype(arch: str, primitives: Sequence[str] = SPACE.primitives) -> Genotype:
    """The genotype of an NB201 string, over ``primitives`` (default: ``PRESETS["nb201"]``'s order).

    ``primitives`` must hold every operation the string uses (by hiernas name).
    """
    primitives = tuple(primitives)
    reason = space_misfit(primitives, (1,), (NODES,))
    if reason:
        raise NB201Error(f"primitives: {_COVERAGE}; {reason}")
    ops = parse_arch(arch)
    code = {NONE: 0} | {TO_NB201[name]: k for k, name in enumerate(primitives, start=1)}
    matrix = [[0] * NODES for _ in range(NODES)]
    for j, row in enumerate(ops, start=1):
        for i, op in enumerate(row):
            if op not in code:
                raise NB201Error(
                    f"NB201 architecture {arch!r} uses {op!r} ({FROM_NB201[op]}), "
                    f"which is not among the primitives {list(primitives)}"
                )
            matrix[i][j] = code[op]
    return Genotype(primitives, ((Motif(tuple(map(tuple, matrix))),),))
