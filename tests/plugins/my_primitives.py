"""A user's own primitive, as a plug-in module (README, "Your own primitives"): a 5×5 convolution
to the stage width. The tests name it in a config's ``plugins`` list."""

from __future__ import annotations

from torch import nn

from motifs.operations import conv_bn_relu, register_operation


@register_operation("conv5x5", to_stage_width=True)
def conv5x5(in_channels: int, channels: int) -> nn.Module:
    return conv_bn_relu(in_channels, channels, 5)
