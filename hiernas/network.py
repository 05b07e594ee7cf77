"""The network templates a genotype's cell is placed in (DESIGN.md, "Networks"; docs/paper.md).

Liu et al. 2018, section 4.1 and figure 2: a 3×3 convolution stem with C0 channels, then stages of N
cells separated by 3×3 separable convolutions of stride 2 that double the channels, a 3×3 separable
convolution of stride 1 after the last cell, then global average pooling and a linear classifier.
Between two cells of one stage (N > 1, the large template) stands a 3×3 separable convolution of
stride 1, as in deep_architect's transcription of the figure's large model; NASLib and BenchENAS
build only the small template (N = 1), so they say nothing about it.

The search template (C0 = 16, N = 1) is the config's ``network`` section; the evaluation template
(C0 = 64, N = 2) is that section with ``evaluation_template``'s width and depth.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import Tensor, nn

from hiernas.config import NetworkConfig, RunConfig
from motifs.assembly import build_cell
from motifs.genotype import Genotype
from motifs.operations import conv_bn_relu, separable_conv


class Network(nn.Module):
    """``features`` (stem, cells and separable convolutions, named in order) → global average pool
    → linear."""

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
    instance (own weights); the cells of stage s are C0·2^(s−1) channels wide.

    ``features`` holds, in order: ``stem``; per stage s, ``reduce{s-1}`` (s > 1), then its cells
    ``stage{s}_cell{n}`` with ``stage{s}_sep{n-1}`` before every cell after the first; ``head``."""
    if in_channels < 1 or classes < 1:
        raise ValueError(f"in_channels and classes must be positive, got {in_channels} and {classes}")
    width = network.channels
    layers: OrderedDict[str, nn.Module] = OrderedDict(stem=conv_bn_relu(in_channels, width, 3))
    for stage in range(1, network.stages + 1):
        if stage > 1:
            layers[f"reduce{stage - 1}"] = separable_conv(width, 2 * width, stride=2)
            width *= 2
        for cell in range(1, network.cells_per_stage + 1):
            if cell > 1:
                layers[f"stage{stage}_sep{cell - 1}"] = separable_conv(width, width)
            layers[f"stage{stage}_cell{cell}"] = build_cell(genotype, width, width, network.merge)
    layers["head"] = separable_conv(width, width)
    return Network(nn.Sequential(layers), width, classes)
