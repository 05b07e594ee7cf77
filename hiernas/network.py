"""The network template a genotype's cell is placed in (DESIGN.md, "Networks").

Liu et al. 2018, section 2.3 (and their figure 2): a 3×3 convolution stem with C0 channels, then
stages of N cells separated by 3×3 separable convolutions of stride 2 that double the channels, then
global average pooling and a linear classifier. The paper searches with C0 = 16, N = 1 and trains
the final architecture with C0 = 64, N = 2: the config's ``network`` section is the search template,
and the evaluation template is that section with ``evaluation_template``'s width and depth.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import Tensor, nn

from hiernas.config import NetworkConfig, RunConfig
from motifs.assembly import build_cell
from motifs.genotype import Genotype
from motifs.operations import conv_bn_relu, separable_conv


class Network(nn.Module):
    """``features`` (stem, cells and reductions, named in order) → global average pool → linear."""

    def __init__(self, features: nn.Sequential, width: int, classes: int) -> None:
        super().__init__()
        self.features = features
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(width, classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.pool(self.features(x)).flatten(1))


def evaluation_network(config: RunConfig) -> NetworkConfig:
    """The search template's network section with the evaluation template's width and depth."""
    shape = config.evaluation_template
    return config.network.model_copy(
        update={"channels": shape.channels, "cells_per_stage": shape.cells_per_stage}
    )


def build_network(genotype: Genotype, network: NetworkConfig, in_channels: int, classes: int) -> nn.Module:
    """[B, in_channels, H, W] images → [B, classes] logits. Every cell is its own ``build_cell``
    instance (own weights); the cells of stage s are C0·2^(s−1) channels wide."""
    if in_channels < 1 or classes < 1:
        raise ValueError(f"in_channels and classes must be positive, got {in_channels} and {classes}")
    width = network.channels
    layers: OrderedDict[str, nn.Module] = OrderedDict(stem=conv_bn_relu(in_channels, width, 3))
    for stage in range(1, network.stages + 1):
        if stage > 1:
            layers[f"reduce{stage - 1}"] = separable_conv(width, 2 * width, stride=2)
            width *= 2
        for cell in range(1, network.cells_per_stage + 1):
            layers[f"stage{stage}_cell{cell}"] = build_cell(genotype, width, width, network.merge)
    return Network(nn.Sequential(layers), width, classes)
