"""What the drawings look like: colours, sizes, and the names panels and edges carry."""

from __future__ import annotations

from motifs.genotype import Genotype

SUFFIXES = (".svg", ".png", ".dot")

# Colour-blind-safe colours (Paul Tol's "vibrant" and "muted" sets) for the known primitives; grey is
# kept for what is dead or unused, black for the closing 1×1 convolutions.
PRIMITIVE_COLOURS = {
    "conv1x1": "#CC3311",
    "conv3x3": "#AA4499",
    "dwconv3x3": "#EE7733",
    "sepconv3x3": "#117733",
    "maxpool3x3": "#0077BB",
    "avgpool3x3": "#33BBEE",
    "identity": "#999933",
}
# For primitives outside the table above, and for the motifs of a level (tab10 without its grey).
FALLBACK_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#17becf",
)
CLOSING_COLOUR = "#000000"
DEAD_COLOUR = "#b4b4b4"
DEAD_TEXT = "#8c8c8c"

LIGHT_FRAME = "#d0d0d0"

# Geometry, in inches unless said otherwise. Sized for a page-wide figure (about 12 in) that stays
# legible when scaled to a paper's text width.
MAX_INLINE_SPACING = 1.25  # beyond this, straight edges are labelled under the line
MIN_SPACING = 0.9  # least distance between consecutive nodes of an arc diagram
ARC_RAD = 0.38  # matplotlib arc3 "rad": an arc of span s peaks at ARC_RAD·s/2 node distances
NODE_RADIUS = 0.155
LABEL_SIZE = 9.0  # points
TITLE_SIZE = 11.5  # points
FLAT_ARC_SPACING = 0.8  # node distance of a flattened cell drawn as an unlabelled arc diagram
FLAT_UNIT = 0.95  # inches per layer of the flattened cell
FLAT_SLOT = 0.6  # layer units between two slots of a layer
MAX_WIDTH = 13.5  # the widest the flattened cell may be before it is scaled down
MARGIN = 0.35
GAP = 0.3  # between panels
TITLE_SPACE = 0.38
HEADING_SPACE = 0.45
NOTE_SPACE = 0.45
LEGEND_COLUMNS = 4
PNG_DPI = 150


def op_name(genotype: Genotype, level_index: int, op: int) -> str:
    """The name an edge label uses: the primitive at level 2, "motif k" (1-based) above."""
    return genotype.primitives[op - 1] if level_index == 0 else f"motif {op}"


def motif_title(genotype: Genotype, level_index: int, motif_index: int) -> str:
    if level_index == len(genotype.levels) - 1:
        return f"level {level_index + 2} · cell"
    return f"level {level_index + 2} · motif {motif_index + 1}"


def motif_tag(genotype: Genotype, level_index: int, motif_index: int) -> str:
    """The short name a closing convolution carries in the flattened panel: "m3", or "L3 m2" when
    there are several levels of motifs below the cell."""
    if level_index == len(genotype.levels) - 1:
        return "cell"
    if len(genotype.levels) == 2:
        return f"m{motif_index + 1}"
    return f"L{level_index + 2} m{motif_index + 1}"


def primitive_colour(genotype: Genotype, name: str) -> str:
    if name in PRIMITIVE_COLOURS:
        return PRIMITIVE_COLOURS[name]
    return FALLBACK_COLOURS[genotype.primitives.index(name) % len(FALLBACK_COLOURS)]


def motif_colour(motif_index: int) -> str:
    return FALLBACK_COLOURS[motif_index % len(FALLBACK_COLOURS)]


def edge_colour(genotype: Genotype, level_index: int, op: int) -> str:
    if level_index == 0:
        return primitive_colour(genotype, genotype.primitives[op - 1])
    return motif_colour(op - 1)
