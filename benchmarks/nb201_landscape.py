"""The NAS-Bench-201 landscape under one-edge mutations: why a local search's result at 150
evaluations is a matter of which basin its climbs start in.

A cell is six edges, each one of five ops; its neighbours are the 24 cells one edge away (the move
that ``evolution/local_search.py`` and mutation make). The script lists the strict local optima of
the table's fitness column, the share of cells whose steepest ascent ends in each, and, by Monte
Carlo over seeded first-improvement climbs in a random neighbour order (local search's climb),
the chance that one climb ends at the global optimum and the fresh evaluations it costs, by the
quality decile of its start. Pure table arithmetic; no engine run.

    python benchmarks/nb201_landscape.py [--table ../shared/data/nb201-12epoch.csv] [--climbs 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from hiernas.evaluators.table import load_table
from hiernas.nb201 import NONE, TO_NB201, parse_arch

OPS = (NONE, *TO_NB201.values())  # an edge's op as its index here
Cell = tuple[int, ...]  # op index per edge: 0->1, 0->2, 1->2, 0->3, 1->3, 2->3


def read_cells(table: Path, column: str) -> dict[Cell, float]:
    loaded = load_table(table)
    at = loaded.columns.index(column)
    return {
        tuple(OPS.index(op) for node in parse_arch(arch) for op in node): float(row[at])
        for arch, row in loaded.rows.items()
        if row[at] is not None
    }


def neighbours(cell: Cell) -> Iterator[Cell]:
    for edge, current in enumerate(cell):
        for op in range(len(OPS)):
            if op != current:
                yield (*cell[:edge], op, *cell[edge + 1 :])


def steepest_ascent(cell: Cell, value: dict[Cell, float]) -> Cell:
    while True:
        best = max(neighbours(cell), key=value.__getitem__)
        if value[best] <= value[cell]:
            return cell
        cell = best


def first_improvement(cell: Cell, value: dict[Cell, float], rng: random.Random) -> tuple[Cell, int]:
    """The local optimum one climb reaches and the distinct cells it evaluated (start included)."""
    seen = {cell}
    while True:
        order = list(neighbours(cell))
        rng.shuffle(order)
        for candidate in order:
            seen.add(candidate)
            if value[candidate] > value[cell]:
                cell = candidate
                break
        else:
            return cell, len(seen)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--table", type=Path, default=Path("../shared/data/nb201-12epoch.csv"))
    parser.add_argument("--column", default="cifar10-val-12ep")
    parser.add_argument("--climbs", type=int, default=3, help="seeded climbs per start cell")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    value = read_cells(args.table, args.column)
    optima = sorted(
        (c for c in value if all(value[n] < value[c] for n in neighbours(c))), key=lambda c: -value[c]
    )
    basins = Counter(steepest_ascent(c, value) for c in value)
    best = optima[0]
    print(f"{len(value)} cells, {len(optima)} strict local optima under one-edge mutations\n")
    print("| optimum | cell (edges 0-1, 0-2, 1-2, 0-3, 1-3, 2-3) | steepest-ascent basin |")
    print("|---|---|---|")
    for cell in optima:
        print(f"| {value[cell]:.3f} | {' '.join(OPS[op] for op in cell)} | {basins[cell] / len(value):.1%} |")

    rng = random.Random(args.seed)
    by_value = sorted(value, key=value.__getitem__)
    print("\n| start decile | climbs | ends at the global optimum | cells evaluated per climb |")
    print("|---|---|---|---|")
    for decile in range(10):
        starts = by_value[decile * len(value) // 10 : (decile + 1) * len(value) // 10]
        outcomes = [first_improvement(c, value, rng) for c in starts for _ in range(args.climbs)]
        hits = statistics.mean(end == best for end, _ in outcomes)
        cost = statistics.mean(n for _, n in outcomes)
        print(f"| {decile + 1} | {len(outcomes)} | {hits:.1%} | {cost:.1f} |")


if __name__ == "__main__":
    main()
