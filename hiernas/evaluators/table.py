"""Fitness looked up in a tabular benchmark instead of trained: NAS-Bench-201 as a CSV.

The table (like ``../shared/data/nb201-12epoch.csv``) has a header row, an ``arch`` column holding
NB201 strings (``hiernas.nb201``) and any number of other columns, typically accuracies in percent.
A genotype's result is:

- ``fitness``: the configured column's value divided by 100: NB201's columns are accuracies in
  percent, and hiernas' accuracies are fractions in [0, 1] everywhere (``objectives``);
- ``metrics``: every column as written (``index``, ``arch``, the accuracies in percent, the fitness
  column included), numbers as numbers, plus ``params`` and ``flops`` (per image) of NB201's own
  network (``hiernas.nb201_network``, not the search template) on the fitness column's data set
  (``nb201.column_shape``), counted once per count of convolutions and process.

What fails how, and why:

- A genotype outside the NB201 space raises ``NB201Error`` (an ``InputError``): the run was
  configured with a space the table does not cover, which no amount of searching fixes. The engine
  calls ``validate(space)`` before a run so that this is reported once, up front, as exit 2.
- A genotype inside the space whose string is not in the table (a partial table) is a failed
  result with the reason: the search records it and goes on, as with a diverging training run.
- A missing or unreadable file, a header without ``arch``, or an unknown or non-numeric fitness
  column raise ``TableError`` (an ``InputError``) naming ``evaluator.table``/``evaluator.fitness``.

The evaluator is picklable and cheap to pickle: the table is read on first use (0.1 to 0.3 s for
15,625 rows) and kept in a per-process cache keyed by path, size and modification time, so worker
processes that receive many copies of one evaluator read the file once.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evolution.evaluation import EvalContext, EvalResult
from evolution.objectives import ACCURACY, Objective
from hiernas.config import NetworkConfig
from hiernas.errors import InputError
from hiernas.nb201 import NB201Error, all_archs, check_space, column_shape, genotype_to_arch, parse_arch
from motifs.genotype import Genotype
from motifs.space import Space

if TYPE_CHECKING:
    from hiernas.config import TableEvaluatorConfig

ARCH = "arch"


class TableError(InputError):
    """A table file or fitness column the table evaluator cannot use."""


@dataclass(frozen=True, slots=True)
class Table:
    """A parsed table: ``rows[arch]`` holds one value per column, in ``columns`` order.

    Values are int when every cell of their column is an integer, float when every cell is a number,
    else str; an empty cell is None.
    """

    path: Path
    columns: tuple[str, ...]
    numeric: frozenset[str]
    rows: dict[str, tuple[Any, ...]]


# Per process: (path, size, mtime_ns) → Table. Never pickled; a changed file is read again.
_CACHE: dict[tuple[str, int, int], Table] = {}


def load_table(path: Path) -> Table:
    """Read (or reuse) the table at ``path``; ``TableError`` when it is missing or malformed."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise TableError(f"evaluator.table: no such file {path}") from None
    except OSError as error:
        raise TableError(f"evaluator.table: {path}: cannot be read ({error.strerror})") from None
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    table = _CACHE.get(key)
    if table is None:
        table = _read(path)
        _CACHE.clear()  # one table per process is the use; do not keep stale versions alive
        _CACHE[key] = table
    return table


def _read(path: Path) -> Table:
    where = f"evaluator.table: {path}"
    if path.is_dir():
        raise TableError(f"{where}: is a directory, expected a CSV file")
    try:
        with path.open(newline="", encoding="utf-8") as file:
            lines = list(csv.reader(file))
    except UnicodeDecodeError:
        raise TableError(f"{where}: not a text file (expected a CSV with an '{ARCH}' column)") from None
    except csv.Error as error:
        raise TableError(f"{where}: not a valid CSV ({error})") from None
    except OSError as error:
        raise TableError(f"{where}: cannot be read ({error.strerror})") from None
    if not lines:
        raise TableError(f"{where}: empty, expected a header row with an '{ARCH}' column")
    columns = tuple(name.strip() for name in lines[0])
    if ARCH not in columns:
        raise TableError(
            f"{where}: no '{ARCH}' column in the header (found: {', '.join(columns)}); "
            "expected a CSV keyed by NAS-Bench-201 architecture strings"
        )
    if len(set(columns)) != len(columns):
        twice = sorted({c for c in columns if columns.count(c) > 1})
        raise TableError(f"{where}: column {twice[0]!r} appears twice in the header")
    arch_at = columns.index(ARCH)
    valid = all_archs()
    body: list[list[str]] = []
    first_line: dict[str, int] = {}
    for number, cells in enumerate(lines[1:], start=2):
        if not cells:  # csv yields [] for a blank line
            continue
        if len(cells) != len(columns):
            raise TableError(f"{where}: line {number} has {len(cells)} fields, the header has {len(columns)}")
        arch = cells[arch_at]
        if arch not in valid:
            try:
                parse_arch(arch)  # for the message that says what is wrong with it
            except NB201Error as error:
                raise TableError(f"{where}: line {number}: {error}") from None
        if arch in first_line:
            raise TableError(f"{where}: line {number} repeats the architecture of line {first_line[arch]}")
        first_line[arch] = number
        body.append(cells)
    if not body:
        raise TableError(f"{where}: has a header but no rows")
    # Column by column: one conversion per column is several times faster than per cell.
    converted = [_column(name, cells) for name, cells in zip(columns, zip(*body, strict=True), strict=True)]
    rows = dict(zip(first_line, zip(*(values for values, _ in converted), strict=True), strict=True))
    numeric = frozenset(name for name, (_, is_number) in zip(columns, converted, strict=True) if is_number)
    return Table(path, columns, numeric, rows)


def _column(name: str, cells: Sequence[str]) -> tuple[list[Any], bool]:
    """The column's values as the narrowest of int, float, str (empty cells None), and whether
    it is numeric."""
    if name != ARCH:
        for number in (int, float):
            try:
                return [number(cell) if cell.strip() else None for cell in cells], True
            except ValueError:
                continue
    return [cell if cell.strip() else None for cell in cells], False


class TableEvaluator:
    """``(genotype, context) -> EvalResult`` by lookup in an NB201 table (module docstring)."""

    objectives: tuple[Objective, ...] = (ACCURACY,)

    def __init__(
        self, table: str | Path, fitness: str = "cifar10-val-12ep", network: NetworkConfig | None = None
    ) -> None:
        # Absolute now: worker processes may start in another working directory.
        self.table = Path(table).expanduser().absolute()
        self.fitness = fitness
        self.network = network or NetworkConfig()
        self._loaded: Table | None = None

    @classmethod
    def from_config(
        cls, config: TableEvaluatorConfig, network: NetworkConfig | None = None
    ) -> TableEvaluator:
        if not config.table:
            raise TableError(
                "evaluator.table: the table evaluator needs a CSV path "
                "(for example --set evaluator.table=../shared/data/nb201-12epoch.csv)"
            )
        return cls(config.table, config.fitness, network)

    def __repr__(self) -> str:
        return f"TableEvaluator({str(self.table)!r}, fitness={self.fitness!r})"

    def __getstate__(self) -> dict[str, Any]:
        # The parsed table stays behind: the receiving process reads (or reuses) its own.
        return {"table": self.table, "fitness": self.fitness, "network": self.network}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.table = state["table"]
        self.fitness = state["fitness"]
        self.network = state["network"]
        self._loaded = None

    def validate(self, space: Space | None = None) -> None:
        """Check the file, the fitness column and (when given) the space before a run starts.

        Raises ``TableError``/``NB201Error``, both ``InputError``: the CLI reports one line, exit 2.
        """
        self._table()
        if space is not None:
            check_space(space)

    def __call__(self, genotype: Genotype, context: EvalContext) -> EvalResult:
        # Outside the space: NB201Error propagates (a configuration error, see the module docstring).
        arch = genotype_to_arch(genotype)
        table = self._table()
        row = table.rows.get(arch)
        if row is None:
            return EvalResult.failed(f"architecture {arch} is not in the table {table.path}", arch=arch)
        metrics = dict(zip(table.columns, row, strict=True))
        value = row[table.columns.index(self.fitness)]
        # Built directly rather than via EvalResult.done/failed(**metrics): a column could be named
        # 'fitness' or 'error', which would clash with those methods' parameters.
        if value is None or not math.isfinite(value):
            reason = f"the table has no finite '{self.fitness}' value for {arch} (got {value!r})"
            return EvalResult("failed", None, metrics, reason)
        input_shape, classes = column_shape(self.fitness)
        # NB201's own network, the one the table's accuracies were measured on (imports torch).
        from hiernas.nb201_network import nb201_size

        metrics["params"], metrics["flops"] = nb201_size(genotype, input_shape, classes)
        return EvalResult("done", float(value) / 100, metrics)

    def _table(self) -> Table:
        if self._loaded is None:
            table = load_table(self.table)
            if self.fitness not in table.columns:
                raise TableError(
                    f"evaluator.fitness: no column {self.fitness!r} in {self.table} "
                    f"(columns: {', '.join(c for c in table.columns if c in table.numeric)})"
                )
            if self.fitness not in table.numeric:
                raise TableError(
                    f"evaluator.fitness: column {self.fitness!r} of {self.table} is not numeric "
                    f"(numeric columns: {', '.join(c for c in table.columns if c in table.numeric)})"
                )
            self._loaded = table
        return self._loaded
