"""A plug-in whose import fails, as a user's module with a mistake would."""

from motifs.operations import register_operation


@register_operation("identity", to_stage_width=True)
def wider_identity(in_channels: int, channels: int) -> None:
    """Clashes with the built-in identity, which keeps its input's width."""
