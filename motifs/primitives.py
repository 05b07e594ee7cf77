"""The level-1 primitives by name, and how wide each output is: the torch-free half of the registry.

Liu et al. 2018, section 2.3: convolutions map to the stage width C ("C is the number of
channels"), per-channel operations keep their input's width. Validation, spaces, canonical forms,
the journal and the reports only need these names and widths, so they never load torch; the module
builders live in ``motifs.operations``, which adds an entry here for every builder it registers
(the built-ins below, and a user's own primitives through ``register_operation``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Primitive:
    """A primitive's name, and whether its output is C wide (True) or as wide as its input."""

    name: str
    to_stage_width: bool

    def out_channels(self, in_channels: int, channels: int) -> int:
        return channels if self.to_stage_width else in_channels


PRIMITIVES: dict[str, Primitive] = {
    primitive.name: primitive
    for primitive in (
        Primitive("conv1x1", to_stage_width=True),
        Primitive("conv3x3", to_stage_width=True),
        Primitive("dwconv3x3", to_stage_width=False),
        Primitive("sepconv3x3", to_stage_width=True),
        Primitive("maxpool3x3", to_stage_width=False),
        Primitive("avgpool3x3", to_stage_width=False),
        Primitive("identity", to_stage_width=False),
    )
}


def declare_primitive(name: str, *, to_stage_width: bool) -> Primitive:
    """Add ``name`` to the table; declaring a known name again with the same width is harmless
    (a plug-in module imported twice), with another width an error."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a primitive's name must be a non-empty string, got {name!r}")
    primitive = Primitive(name, to_stage_width)
    known = PRIMITIVES.setdefault(name, primitive)
    if known != primitive:
        raise ValueError(f"primitive {name!r} is already declared with to_stage_width={known.to_stage_width}")
    return known


def known_names() -> str:
    """The known names, for error messages."""
    return ", ".join(sorted(PRIMITIVES))
