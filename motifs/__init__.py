"""motifs: the hierarchical representation of Liu et al. 2018 (genotypes, mutation, identity,
validation, files). It knows nothing of search or training, and importing it does not load torch:
primitive names and widths are in ``motifs.primitives``; only ``motifs.operations`` and
``motifs.assembly``, imported where a network is built, need torch."""

from motifs.genotype import FORMAT, Edge, Genotype, Motif
from motifs.mutation import Mutation, mutate, sample
from motifs.space import PRESETS, Space, SpaceError
from motifs.validation import GenotypeError

__all__ = [
    "FORMAT",
    "PRESETS",
    "Edge",
    "Genotype",
    "GenotypeError",
    "Motif",
    "Mutation",
    "Space",
    "SpaceError",
    "mutate",
    "sample",
]
