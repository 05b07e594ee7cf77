"""The shape of a search space: primitive set, motifs per level and nodes per motif.

Liu et al. 2018, section 4.1: the hierarchical space has L = 3 (six primitives, M_2 = 6 motifs of
4 nodes, one cell of 5 nodes); the flat space has L = 2 (one motif of 11 nodes over the primitives).
"""

from __future__ import annotations

from dataclasses import dataclass

from motifs.genotype import Genotype, Motif
from motifs.primitives import PRIMITIVES, known_names

PAPER_PRIMITIVES = ("conv1x1", "dwconv3x3", "sepconv3x3", "maxpool3x3", "avgpool3x3", "identity")
NB201_PRIMITIVES = ("identity", "conv1x1", "conv3x3", "avgpool3x3")


class SpaceError(ValueError):
    """A space description that cannot hold genotypes (unknown primitive, bad sizes...)."""


@dataclass(frozen=True, slots=True)
class Space:
    """``motifs[k]`` and ``nodes[k]`` describe level k+2; the top level holds one motif."""

    primitives: tuple[str, ...]
    motifs: tuple[int, ...]
    nodes: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.primitives:
            raise SpaceError("space.primitives: needs at least one primitive")
        for name in self.primitives:
            if name not in PRIMITIVES:
                raise SpaceError(f"space.primitives: unknown primitive {name!r} (known: {known_names()})")
        if len(set(self.primitives)) != len(self.primitives):
            raise SpaceError("space.primitives: a primitive is listed twice")
        if "identity" not in self.primitives:
            raise SpaceError(
                "space.primitives: must include 'identity' (the initial motifs are "
                "chains of identity mappings)"
            )
        if not self.motifs or len(self.motifs) != len(self.nodes):
            raise SpaceError("space.levels: needs one or more levels, each with motifs and nodes")
        if self.motifs[-1] != 1:
            raise SpaceError(
                f"space.levels: the top level must hold exactly 1 motif (the cell), not {self.motifs[-1]}"
            )
        for k, (m, n) in enumerate(zip(self.motifs, self.nodes, strict=True)):
            if m < 1:
                raise SpaceError(f"space.levels[{k}].motifs: must be at least 1, got {m}")
            if n < 2:
                raise SpaceError(f"space.levels[{k}].nodes: must be at least 2, got {n}")

    @property
    def height(self) -> int:
        """L: the number of levels, counting the primitives as level 1."""
        return len(self.motifs) + 1

    @classmethod
    def of(cls, genotype: Genotype) -> Space:
        """The space a genotype lives in."""
        return cls(
            genotype.primitives,
            tuple(len(level) for level in genotype.levels),
            tuple(level[0].nodes for level in genotype.levels),
        )

    def initial(self) -> Genotype:
        """Every motif a chain of identity mappings (section 3.1, "Initialisation").

        At level 2 the chain uses the identity primitive; above, motif 1 of the level below, which
        is itself an identity chain.
        """
        identity = self.primitives.index("identity") + 1
        levels = tuple(
            tuple(Motif.chain(n, identity if k == 0 else 1) for _ in range(m))
            for k, (m, n) in enumerate(zip(self.motifs, self.nodes, strict=True))
        )
        return Genotype(self.primitives, levels)

    def check(self, genotype: Genotype) -> None:
        """Raise ``SpaceError`` unless ``genotype`` has exactly this space's shape."""
        other = Space.of(genotype)
        if other != self:
            raise SpaceError(
                f"genotype does not fit the space: it has primitives {list(other.primitives)}, "
                f"motifs {list(other.motifs)} and nodes {list(other.nodes)}; the space has "
                f"{list(self.primitives)}, {list(self.motifs)} and {list(self.nodes)}"
            )


PRESETS: dict[str, Space] = {
    # The paper's hierarchical representation (section 4.1).
    "hierarchical": Space(PAPER_PRIMITIVES, motifs=(6, 1), nodes=(4, 5)),
    # The paper's flat baseline: one 11-node motif over the six primitives.
    "flat": Space(PAPER_PRIMITIVES, motifs=(1,), nodes=(11,)),
    # NAS-Bench-201's cell: one 4-node motif over its four operations (0 = none).
    "nb201": Space(NB201_PRIMITIVES, motifs=(1,), nodes=(4,)),
}
PRESETS["paper"] = PRESETS["hierarchical"]
