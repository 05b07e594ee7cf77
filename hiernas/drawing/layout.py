"""A deterministic layered (Sugiyama) layout for the DAGs the drawings show.

Sugiyama, Tagawa and Toda 1981: put nodes in layers, give every long edge one dummy node per layer
it crosses, order each layer to reduce crossings (barycentre heuristic, alternating sweeps), then
give the nodes coordinates. The coordinates here come from repeated least-squares straightening:
every node moves towards the mean of its neighbours while its layer keeps its order and unit gaps,
which is isotonic regression, solved exactly by pooling adjacent violators. Nothing is random, so a
genotype always gets the same picture.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import networkx as nx

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class LayeredLayout:
    """Positions in layout units (x = layer, y = slot, slots one unit apart) and, for every edge,
    the points it passes through: its end nodes and the dummy nodes between them."""

    positions: dict[Hashable, Point]
    routes: dict[tuple[Hashable, Hashable], list[Point]]
    layers: int


@dataclass(frozen=True, slots=True)
class _Dummy:
    """The place a long edge takes in a layer it crosses."""

    edge: tuple[Hashable, Hashable]
    layer: int


def layered_layout(graph: nx.DiGraph, *, sweeps: int = 24, rounds: int = 60) -> LayeredLayout:
    """Lay out a DAG in layers from left to right, each node in the layer of its longest path from a
    source (networkx's topological generations)."""
    layer_of: dict[Hashable, int] = {}
    for depth, generation in enumerate(nx.topological_generations(graph)):
        for node in generation:
            layer_of[node] = depth
    depth_count = max(layer_of.values(), default=0) + 1

    layer_nodes: list[list[Hashable]] = [[] for _ in range(depth_count)]
    preds: dict[Hashable, list[Hashable]] = {}
    succs: dict[Hashable, list[Hashable]] = {}
    for node in graph:
        layer_nodes[layer_of[node]].append(node)
        preds[node], succs[node] = [], []
    chains: dict[tuple[Hashable, Hashable], list[Hashable]] = {}
    for source, target in graph.edges:
        chain: list[Hashable] = [source]
        for depth in range(layer_of[source] + 1, layer_of[target]):
            dummy = _Dummy((source, target), depth)
            preds[dummy], succs[dummy] = [], []
            layer_nodes[depth].append(dummy)
            chain.append(dummy)
        chain.append(target)
        for a, b in itertools.pairwise(chain):
            succs[a].append(b)
            preds[b].append(a)
        chains[(source, target)] = chain

    order = _order_layers(layer_nodes, preds, succs, sweeps)
    slots = _straighten(order, preds, succs, rounds)
    low = min(slots.values(), default=0.0)
    positions = {node: (float(layer_of[node]), slots[node] - low) for node in graph}
    routes = {
        edge: [(float(layer_of[edge[0]] + k), slots[node] - low) for k, node in enumerate(chain)]
        for edge, chain in chains.items()
    }
    return LayeredLayout(positions, routes, depth_count)


def crossings(
    upper: Sequence[Hashable], lower: Sequence[Hashable], succs: dict[Hashable, list[Hashable]]
) -> int:
    """Edge crossings between two adjacent layers."""
    place = {node: index for index, node in enumerate(lower)}
    ends = [(i, place[s]) for i, node in enumerate(upper) for s in succs[node]]
    return sum(1 for (a, b), (c, d) in itertools.combinations(ends, 2) if (a - c) * (b - d) < 0)


def _order_layers(
    layer_nodes: list[list[Hashable]],
    preds: dict[Hashable, list[Hashable]],
    succs: dict[Hashable, list[Hashable]],
    sweeps: int,
) -> list[list[Hashable]]:
    """Barycentre ordering, sweeping down then up; keeps the order with the fewest crossings."""
    order = [list(nodes) for nodes in layer_nodes]

    def total() -> int:
        return sum(crossings(order[k], order[k + 1], succs) for k in range(len(order) - 1))

    def sort_by(k: int, neighbours: dict[Hashable, list[Hashable]], reference: list[Hashable]) -> None:
        place = {node: index for index, node in enumerate(reference)}
        current = {node: index for index, node in enumerate(order[k])}
        stretch = len(reference) / max(len(order[k]), 1)

        def key(node: Hashable) -> tuple[float, int]:
            around = [place[other] for other in neighbours[node] if other in place]
            # A node with no neighbour on this side keeps its relative place.
            centre = sum(around) / len(around) if around else current[node] * stretch
            return (centre, current[node])

        order[k].sort(key=key)

    best, best_count = [list(nodes) for nodes in order], total()
    for sweep in range(sweeps):
        if best_count == 0:
            break
        if sweep % 2 == 0:
            for k in range(1, len(order)):
                sort_by(k, preds, order[k - 1])
        else:
            for k in range(len(order) - 2, -1, -1):
                sort_by(k, succs, order[k + 1])
        count = total()
        if count < best_count:
            best, best_count = [list(nodes) for nodes in order], count
    return best


def isotonic_spaced(desired: Sequence[float], gap: float) -> list[float]:
    """The positions closest (least squares) to ``desired`` that keep their order and lie at least
    ``gap`` apart. With z_i = y_i − i·gap the constraint is z non-decreasing: isotonic regression,
    solved exactly by pooling adjacent violators."""
    blocks: list[tuple[float, int]] = []  # (mean of z over the block, block length)
    for index, value in enumerate(desired):
        mean, size = value - index * gap, 1
        while blocks and blocks[-1][0] > mean:
            previous_mean, previous_size = blocks.pop()
            mean = (previous_mean * previous_size + mean * size) / (previous_size + size)
            size += previous_size
        blocks.append((mean, size))
    z = [mean for mean, size in blocks for _ in range(size)]
    return [value + index * gap for index, value in enumerate(z)]


def _straighten(
    order: list[list[Hashable]],
    preds: dict[Hashable, list[Hashable]],
    succs: dict[Hashable, list[Hashable]],
    rounds: int,
) -> dict[Hashable, float]:
    """Slot positions: every node pulled towards the mean of its neighbours, layer by layer,
    alternating directions. Links between two dummies pull harder, so long edges run straight."""
    slots = {node: index - (len(nodes) - 1) / 2 for nodes in order for index, node in enumerate(nodes)}
    for step in range(rounds):
        layers = range(len(order)) if step % 2 == 0 else range(len(order) - 1, -1, -1)
        for k in layers:
            desired = []
            for node in order[k]:
                total, weight = 0.0, 0.0
                for other in (*preds[node], *succs[node]):
                    pull = 8.0 if isinstance(node, _Dummy) and isinstance(other, _Dummy) else 1.0
                    total += pull * slots[other]
                    weight += pull
                desired.append(total / weight if weight else slots[node])
            for node, y in zip(order[k], isotonic_spaced(desired, 1.0), strict=True):
                slots[node] = y
    return slots
