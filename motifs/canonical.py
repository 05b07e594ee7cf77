"""The identity of an architecture: an exact canonical form and a key derived from it.

What is identified (DESIGN.md, "Identity of an architecture"): two genotypes get the same form
exactly when their live graphs are isomorphic, level by level, with the same primitive or motif on
corresponding edges. Dead nodes and edges, motifs the cell never reaches, the numbering of nodes,
the order of the primitive list and of the motifs within a level do not enter it. Different forms
therefore always mean different graphs, and a cache hit is never a wrong answer.

What is not identified: graphs that differ but compute the same thing. The known case is a chain
of identity edges. A node whose only input is an identity edge equals its source (assembly passes
identity through without a module), so 0→1→3 through two identities and 0→3 through one build the
same modules with the same weights and outputs, yet get different keys (tests/test_canonical.py
pins this). Contracting such nodes would need a multigraph form (two identity paths into one
concatenating node are not one edge: the concatenation doubles the width the closing 1×1 sees), so
the key stays exact on graphs; the cost is an occasional duplicate evaluation, never a wrong result.

How it is built, and why collisions cannot happen:

1. Top-down, find the motifs the cell uses: those named by a live edge (an edge on an input → output
   path) of a used motif one level up. A used motif with no live edge is the zero motif ("z").
2. Bottom-up, level by level, write each used motif's live graph in canonical form (below), with its
   edge labels being "p:<primitive name>" at level 2 and "m<k>" above, where k is the position of the
   lower motif's form in that level's sorted table of distinct forms. The sorted table depends only
   on the network, so the labels do too, and no form is nested inside another (no blow-up with
   depth).
3. A motif's live graph is a DAG with a distinguished input and output and labelled edges. Its
   canonical form is the lexicographically least edge list over a set of node orderings that is
   itself invariant under renumbering: colour refinement (1-dimensional Weisfeiler-Lehman on
   labelled in- and out-edges) down to a stable partition, then individualisation of each node of
   the first non-singleton colour class in turn (nauty's search tree, without its automorphism
   pruning). The only pruning: of "twins" (nodes of one class with identical labelled in- and
   out-neighbourhoods) one is tried, since swapping two twins is an automorphism and both branches
   give the same least leaf. Every leaf lists all edges, so equal forms mean isomorphic graphs.

The form is exact. ``canonical_key`` is the first 128 bits of its SHA-256, used as a compact index;
the chance that two of a billion distinct architectures share a key is about 1e-21.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache

from motifs.genotype import Genotype, Motif

ZERO = "z"

# (src, dst, label) over nodes 0..m-1, node 0 the input and m-1 the output.
LabelledEdge = tuple[int, int, str]


def canonical_form(genotype: Genotype) -> str:
    """The exact canonical text of the network ``genotype`` assembles into."""
    used = genotype.used_motifs()
    labels: list[str] = [f"p:{name}" for name in genotype.primitives]
    tables: list[str] = []
    for level_index, level in enumerate(genotype.levels):
        label_tuple = tuple(labels)
        forms = {m: _motif_form(level[m], label_tuple) for m in used[level_index]}
        table = sorted(set(forms.values()))
        position = {form: k for k, form in enumerate(table)}
        # The labels an edge of the next level uses for each motif of this level. Unused motifs
        # never appear on a live edge above, so they need no label.
        labels = [f"m{position[forms[m]]}" if m in forms else "" for m in range(len(level))]
        tables.append(";".join(table))
    return f"L{genotype.height}|" + "|".join(tables)


def canonical_key(genotype: Genotype) -> str:
    """32 hex digits identifying the architecture (see the module docstring)."""
    return hashlib.sha256(canonical_form(genotype).encode()).hexdigest()[:32]


@lru_cache(maxsize=65536)
def _motif_form(motif: Motif, labels: tuple[str, ...]) -> str:
    """A motif's canonical form given the labels of the level below. Memoised: a mutation changes
    one motif, so its child shares every other motif (and usually their labels) with its parent."""
    live = motif.live_edges()
    if not live:
        return ZERO
    nodes = sorted({e.src for e in live} | {e.dst for e in live})
    renumber = {node: k for k, node in enumerate(nodes)}
    edges = [(renumber[e.src], renumber[e.dst], labels[e.op - 1]) for e in live]
    best = canonical_dag(len(nodes), edges)
    return f"{len(nodes)}:" + ",".join(f"{a}>{b}{label}" for a, b, label in best)


def canonical_dag(size: int, edges: Sequence[LabelledEdge]) -> tuple[LabelledEdge, ...]:
    """The least sorted edge list over the individualisation-refinement leaves (module docstring).

    Node 0 is the input and node size-1 the output; both keep their roles in every ordering.
    """
    label_rank = {label: r for r, label in enumerate(sorted({e[2] for e in edges}))}
    into: list[list[tuple[int, int]]] = [[] for _ in range(size)]
    out_of: list[list[tuple[int, int]]] = [[] for _ in range(size)]
    for src, dst, label in edges:
        into[dst].append((label_rank[label], src))
        out_of[src].append((label_rank[label], dst))
    neighbourhood = [(frozenset(into[v]), frozenset(out_of[v])) for v in range(size)]

    def refine(colours: list[int]) -> list[int]:
        classes = len(set(colours))
        while True:
            signatures = [
                (
                    colours[v],
                    sorted((r, colours[u]) for r, u in into[v]),
                    sorted((r, colours[w]) for r, w in out_of[v]),
                )
                for v in range(size)
            ]
            order = {sig: c for c, sig in enumerate(sorted(set(map(_freeze, signatures))))}
            colours = [order[_freeze(sig)] for sig in signatures]
            if len(order) == classes:
                return colours
            classes = len(order)

    def search(colours: list[int]) -> tuple[LabelledEdge, ...]:
        colours = refine(colours)
        if len(set(colours)) == size:
            return tuple(sorted((colours[a], colours[b], label) for a, b, label in edges))
        cell_colour = min(c for c in set(colours) if colours.count(c) > 1)
        cell = [v for v in range(size) if colours[v] == cell_colour]
        representatives: dict[tuple[frozenset, frozenset], int] = {}
        for v in cell:
            representatives.setdefault(neighbourhood[v], v)
        return min(
            search([2 * c + (0 if u == v else 1) for u, c in enumerate(colours)])
            for v in representatives.values()
        )

    start = [1] * size
    start[0], start[size - 1] = 0, 2
    return search(start)


def _freeze(signature: tuple[int, list, list]) -> tuple:
    colour, ins, outs = signature
    return colour, tuple(ins), tuple(outs)
