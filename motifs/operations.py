"""The level-1 primitives' module builders, by name (as in DARTS' ``operations.py``).

Every primitive is stride 1 with "same" padding, so any of them can sit on any edge of a motif.
A builder takes the channel count of its input and the stage width C (Liu et al. 2018, section 2.3:
"C is the number of channels"); convolutions produce C channels, per-channel operations keep the
input's width. With concatenation merges a node can be wider than C, which is why the two differ.
Every convolution is followed by batch norm and ReLU. Names and widths live in the torch-free
``motifs.primitives``; ``register_operation`` fills both, and is how a user's plug-in module adds
its own primitive (README, "Your own primitives").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from motifs.primitives import declare_primitive


@dataclass(frozen=True, slots=True)
class Operation:
    """A named primitive: how to build it and how wide its output is."""

    name: str
    build: Callable[[int, int], nn.Module]
    # True: outputs C channels (a convolution that maps to the stage width); False: keeps the input's.
    to_stage_width: bool

    def out_channels(self, in_channels: int, channels: int) -> int:
        return channels if self.to_stage_width else in_channels


OPERATIONS: dict[str, Operation] = {}


def register_operation(name: str, *, to_stage_width: bool) -> Callable:
    """Add a builder ``(in_channels, channels) -> nn.Module`` under ``name``, and the name with its
    output width to ``motifs.primitives``. Registering the same builder again (a module imported
    twice) is harmless; another builder under a known name is an error."""

    def decorate(build: Callable[[int, int], nn.Module]) -> Callable[[int, int], nn.Module]:
        known = OPERATIONS.get(name)
        if known is not None and _origin(known.build) != _origin(build):
            raise ValueError(f"operation {name!r} is already registered by {'.'.join(_origin(known.build))}")
        declare_primitive(name, to_stage_width=to_stage_width)
        OPERATIONS[name] = Operation(name, build, to_stage_width)
        return build

    return decorate


def _origin(build: Callable) -> tuple[str, str]:
    return build.__module__, build.__qualname__


def conv_bn_relu(
    in_channels: int, out_channels: int, kernel: int, *, groups: int = 1, stride: int = 1
) -> nn.Sequential:
    """Convolution without bias (batch norm supplies it), then batch norm and ReLU."""
    return nn.Sequential(
        nn.Conv2d(
            in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False
        ),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=False),
    )


def separable_conv(in_channels: int, out_channels: int, *, stride: int = 1) -> nn.Sequential:
    """3×3 depthwise then 1×1 pointwise convolution, one batch norm and ReLU after both."""
    return nn.Sequential(
        nn.Conv2d(in_channels, in_channels, 3, stride=stride, padding=1, groups=in_channels, bias=False),
        nn.Conv2d(in_channels, out_channels, 1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=False),
    )


@register_operation("conv1x1", to_stage_width=True)
def conv1x1(in_channels: int, channels: int) -> nn.Module:
    return conv_bn_relu(in_channels, channels, 1)


@register_operation("conv3x3", to_stage_width=True)
def conv3x3(in_channels: int, channels: int) -> nn.Module:
    return conv_bn_relu(in_channels, channels, 3)


@register_operation("dwconv3x3", to_stage_width=False)
def dwconv3x3(in_channels: int, channels: int) -> nn.Module:
    return conv_bn_relu(in_channels, in_channels, 3, groups=in_channels)


@register_operation("sepconv3x3", to_stage_width=True)
def sepconv3x3(in_channels: int, channels: int) -> nn.Module:
    return separable_conv(in_channels, channels)


@register_operation("maxpool3x3", to_stage_width=False)
def maxpool3x3(in_channels: int, channels: int) -> nn.Module:
    return nn.MaxPool2d(3, stride=1, padding=1)


@register_operation("avgpool3x3", to_stage_width=False)
def avgpool3x3(in_channels: int, channels: int) -> nn.Module:
    # Padding cells are not averaged in, so a border pixel is the mean of real pixels only.
    return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)


@register_operation("identity", to_stage_width=False)
def identity(in_channels: int, channels: int) -> nn.Module:
    return nn.Identity()
