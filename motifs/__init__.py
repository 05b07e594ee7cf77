"""motifs: the hierarchical representation of Liu et al. 2018 (genotypes, mutation, identity,
assembly into torch modules, drawing). It knows nothing of search or training."""

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
