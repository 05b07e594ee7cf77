"""Assembly: a hierarchical genotype compiled into a ``torch.nn.Module``.

Liu et al. 2018, section 2.2: a motif of level ℓ is evaluated node by node in index order,
x_0 = the input and x_j = merge(o_{G[i][j]}(x_i) for every i < j with G[i][j] ≠ 0), and returns its
output node x_{n−1}; an edge applies a primitive (level 2) or a whole motif of the level below
(level ≥ 3). Section 2.3: the merge is depthwise concatenation, every primitive maps to C channels or
keeps its input's (``motifs.operations``), and each motif of level ≥ 2 ends with a 1×1 convolution
(+ batch norm + ReLU) back to the channel count of its input, so a motif on an edge returns as many
channels as it was given. DESIGN.md, "Assembly", adds: only edges on an input → output path are
built, and a motif with no such path outputs zeros of its input's shape.

How it is compiled. Each used motif's structure (its live nodes in topological order, the sources
and ops feeding each) is worked out once per build as a ``MotifPlan``. Channel counts depend on the
width a motif is given, so they are worked out per use, and every use of a motif (a motif
*instance*) gets freshly built modules: no weights are shared between instances. The forward pass
walks precomputed tuples and an ``nn.ModuleList`` only, and passes identity edges through without a
module call, because the search trains thousands of these networks and benchmarks compare them with
hand-written modules (``benchmarks/assembly_overhead.py``).

Merges. "concat" (the paper's): a node is as wide as the sum of its in-edges' outputs, in
ascending order of source node. "sum": elementwise sum, which needs every edge to produce the same
width; that holds exactly when the motif's input is already C wide (primitives then all give C, and
a motif returns its input's width), so ``build_cell`` requires ``in_channels == channels`` for it.

Weights are initialised by PyTorch's default initialisers, which draw from the global torch RNG:
callers that need reproducible weights build under ``torch.random.fork_rng`` and a seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from motifs.genotype import Genotype, Motif
from motifs.operations import OPERATIONS, Operation, conv_bn_relu

Merge = Literal["concat", "sum"]
MERGES: tuple[Merge, ...] = ("concat", "sum")


@dataclass(frozen=True, slots=True)
class MotifPlan:
    """A motif's live structure, independent of channel counts (section 2.2).

    Live nodes are renumbered 0..k−1 in index order, which keeps the order topological; node 0 is
    the input and node k−1 the output. ``sources[t]`` lists, ascending, the renumbered nodes whose
    edges feed live node t+1, and ``ops[t]`` the op on each of those edges (1-based, as in the
    matrix). No sources at all: the motif has no input → output path and outputs zeros.
    """

    sources: tuple[tuple[int, ...], ...]
    ops: tuple[tuple[int, ...], ...]

    @property
    def outputs_zeros(self) -> bool:
        return not self.sources

    @classmethod
    def of(cls, motif: Motif) -> MotifPlan:
        live = motif.live_edges()
        # The source of a live edge is reachable from the input through live edges, so it is the
        # input or the target of another live edge: these nodes are all the live ones.
        nodes = sorted({0} | {edge.dst for edge in live}) if live else []
        position = {node: k for k, node in enumerate(nodes)}
        feeds: dict[int, list[tuple[int, int]]] = {node: [] for node in nodes[1:]}
        for edge in live:
            feeds[edge.dst].append((position[edge.src], edge.op))
        inputs = [sorted(feeds[node]) for node in nodes[1:]]
        return cls(
            tuple(tuple(src for src, _ in node) for node in inputs),
            tuple(tuple(op for _, op in node) for node in inputs),
        )


class MotifModule(nn.Module):
    """One instance of a motif with at least one live edge (section 2.2), closed by its 1×1
    convolution back to the input's channel count (section 2.3).

    ``program[t]`` lists the edges into live node t+1 as (source node, called) pairs in source
    order; ``edges`` holds the modules of the called ones in program order. An edge whose module
    would be an ``nn.Identity`` is not called at all: its source tensor is passed through.
    """

    def __init__(
        self,
        program: tuple[tuple[tuple[int, bool], ...], ...],
        edges: list[nn.Module],
        closing: nn.Module,
        *,
        concat: bool,
        name: str,
    ) -> None:
        super().__init__()
        # Plain tuples: read as-is on every forward, never looked up or recomputed.
        self.program = program
        self.edges = nn.ModuleList(edges)
        self.closing = closing
        self.concat = concat
        self.name = name

    def forward(self, x: Tensor) -> Tensor:
        states = [x]
        # An identity edge would cost a module call for nothing: its source is used as it is.
        edges = iter(self.edges)
        for inputs in self.program:
            outputs = [next(edges)(states[src]) if called else states[src] for src, called in inputs]
            if len(outputs) == 1:
                states.append(outputs[0])
            elif self.concat:
                states.append(torch.cat(outputs, 1))
            else:
                # Out of place: the summands may be saved for backward (a ReLU's output is).
                states.append(sum(outputs[1:], outputs[0]))
        return self.closing(states[-1])

    def extra_repr(self) -> str:
        return f"{self.name}, merge={'concat' if self.concat else 'sum'}"


class ZeroMotif(nn.Module):
    """A motif with no input → output path: zeros of the input's shape (DESIGN.md, "Assembly")."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def forward(self, x: Tensor) -> Tensor:
        return torch.zeros_like(x)

    def extra_repr(self) -> str:
        return self.name


class _Assembler:
    """Builds motif instances of one genotype for one stage width C, compiling each motif's plan
    once however often the motif is used."""

    def __init__(self, genotype: Genotype, channels: int, merge: Merge) -> None:
        self.genotype = genotype
        self.channels = channels
        self.concat = merge == "concat"
        self.primitives: list[Operation] = [OPERATIONS[name] for name in genotype.primitives]
        self.plans: list[dict[int, MotifPlan]] = [{} for _ in genotype.levels]

    def plan(self, level_index: int, motif_index: int) -> MotifPlan:
        plans = self.plans[level_index]
        if motif_index not in plans:
            plans[motif_index] = MotifPlan.of(self.genotype.levels[level_index][motif_index])
        return plans[motif_index]

    def motif(self, level_index: int, motif_index: int, in_channels: int) -> nn.Module:
        """A fresh instance of a motif of ``levels[level_index]`` for an input ``in_channels`` wide."""
        plan = self.plan(level_index, motif_index)
        name = f"level {level_index + 2} motif {motif_index + 1}"
        if plan.outputs_zeros:
            return ZeroMotif(name)
        widths = [in_channels]
        program: list[tuple[tuple[int, bool], ...]] = []
        edges: list[nn.Module] = []
        for sources, ops in zip(plan.sources, plan.ops, strict=True):
            built = [self.edge(level_index, op, widths[src]) for src, op in zip(sources, ops, strict=True)]
            called = [not isinstance(module, nn.Identity) for module, _ in built]
            program.append(tuple(zip(sources, called, strict=True)))
            edges.extend(module for (module, _), call in zip(built, called, strict=True) if call)
            # With "sum" every edge gives C channels (build_cell checks the input is C wide).
            widths.append(sum(width for _, width in built) if self.concat else self.channels)
        closing = conv_bn_relu(widths[-1], in_channels, 1)
        return MotifModule(tuple(program), edges, closing, concat=self.concat, name=name)

    def edge(self, level_index: int, op: int, in_channels: int) -> tuple[nn.Module, int]:
        """The module on an edge of a motif of ``levels[level_index]`` and its output width."""
        if level_index == 0:
            primitive = self.primitives[op - 1]
            return (
                primitive.build(in_channels, self.channels),
                primitive.out_channels(in_channels, self.channels),
            )
        # A lower motif closes back to its input's width.
        return self.motif(level_index - 1, op - 1, in_channels), in_channels


def build_cell(genotype: Genotype, in_channels: int, channels: int, merge: Merge = "concat") -> nn.Module:
    """The genotype's cell (its top-level motif) as a module [B, in_channels, H, W] → the same shape.

    ``channels`` is the stage width C that convolutional primitives map to (section 2.3). Every motif
    instance has its own weights. Raises ``ValueError`` for an unknown merge, a primitive missing
    from the registry, non-positive channel counts, or "sum" with ``in_channels != channels``.
    """
    if merge not in MERGES:
        raise ValueError(f"merge: expected one of {', '.join(MERGES)}, got {merge!r}")
    if in_channels < 1 or channels < 1:
        raise ValueError(f"channels must be positive, got in_channels={in_channels}, channels={channels}")
    if merge == "sum" and in_channels != channels:
        raise ValueError(
            f"merge 'sum' adds edge outputs elementwise, so every node must be C = {channels} wide: "
            f"the cell's input must be too, got in_channels={in_channels}"
        )
    unknown = [name for name in genotype.primitives if name not in OPERATIONS]
    if unknown:
        raise ValueError(
            f"unknown primitive(s) {', '.join(map(repr, unknown))} (known: {', '.join(OPERATIONS)})"
        )
    return _Assembler(genotype, channels, merge).motif(len(genotype.levels) - 1, 0, in_channels)
