"""NAS-Bench-201's own network for a cell (Dong & Yang, ICLR 2020, section 2.1 and figure 1).

The table's accuracies were measured on this network, not on hiernas's search template, so an NB201
run sizes (and exports) it: a 3×3 convolution stem of 16 channels with batch norm, three stages of
5 cells (16, 32, 64 channels) joined by residual reduction blocks (a ResNet basic block of stride 2
whose shortcut is a 2×2 average pool and a 1×1 convolution), then batch norm, ReLU, global average
pooling and a linear classifier. In a cell, node j sums the operations applied to every earlier node
and node 3 is the output; the operations are ``none`` (zero), ``skip_connect``,
``nor_conv_1x1`` and ``nor_conv_3x3`` (ReLU-Conv-BN) and ``avg_pool_3x3`` (stride 1, padding not
counted). This follows the benchmark's ``TinyNetwork``/``InferCell``: its parameter counts are
the published ones (0.073306 M for the all-``none`` cell, 1.531546 M for all 3×3 convolutions on
CIFAR-10, checked in tests/test_pareto_nb201.py).
"""

from __future__ import annotations

from torch import Tensor, nn

from hiernas.nb201 import NODES, TO_NB201, check_genotype
from motifs.genotype import Genotype

STEM_CHANNELS = 16
CELLS_PER_STAGE = 5


def _relu_conv_bn(c_in: int, c_out: int, kernel: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ReLU(inplace=False),
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
    )


class _Zero(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.mul(0.0)


def _operation(name: str, channels: int) -> nn.Module:
    if name == "nor_conv_3x3":
        return _relu_conv_bn(channels, channels, 3, 1)
    if name == "nor_conv_1x1":
        return _relu_conv_bn(channels, channels, 1, 1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    if name == "skip_connect":
        return nn.Identity()
    return _Zero()


class Cell(nn.Module):
    """Node j = Σ_{i<j} op_ij(node i); the output is the last node."""

    def __init__(self, ops: list[list[str]], channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(
            nn.ModuleList(_operation(ops[j][i], channels) for i in range(j)) for j in range(NODES)
        )

    def forward(self, x: Tensor) -> Tensor:
        nodes = [x]
        for j in range(1, NODES):
            nodes.append(sum(op(nodes[i]) for i, op in enumerate(self.edges[j])))  # type: ignore[arg-type]
        return nodes[-1]


class ResidualReduction(nn.Module):
    """ResNet basic block of stride 2 between stages (NB201's ``ResNetBasicblock``)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = _relu_conv_bn(c_in, c_out, 3, 2)
        self.conv_b = _relu_conv_bn(c_out, c_out, 3, 1)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, stride=2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


def cell_ops(genotype: Genotype) -> list[list[str]]:
    """``ops[j][i]``: the NB201 operation on edge i → j (``NB201Error`` outside the space)."""
    check_genotype(genotype)
    names = ("none", *(TO_NB201[name] for name in genotype.primitives))
    matrix = genotype.cell.matrix
    return [[names[matrix[i][j]] for i in range(j)] for j in range(NODES)]


def build_nb201_network(genotype: Genotype, in_channels: int = 3, classes: int = 10) -> nn.Module:
    """[B, in_channels, H, W] images → [B, classes] logits, NB201's macro structure."""
    ops = cell_ops(genotype)
    width = STEM_CHANNELS
    layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width)]
    for stage in range(3):
        if stage:
            layers.append(ResidualReduction(width, 2 * width))
            width *= 2
        layers.extend(Cell(ops, width) for _ in range(CELLS_PER_STAGE))
    layers += [nn.BatchNorm2d(width), nn.ReLU(inplace=False), nn.AdaptiveAvgPool2d(1), nn.Flatten(1)]
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)


# Per process: (3×3 convolutions, 1×1 convolutions, input shape, classes) → (params, FLOPs).
_SIZES: dict[tuple[int, int, tuple[int, int, int], int], tuple[int, int]] = {}


def nb201_size(genotype: Genotype, input_shape: tuple[int, int, int], classes: int) -> tuple[int, int]:
    """(parameters, FLOPs per ``input_shape`` image) of NB201's network for this cell.

    Every edge is computed in NB201's network (dead ones too), and only convolutions carry
    parameters or counted FLOPs, all at their stage's width and resolution: so the size depends on
    how many edges hold each convolution, and is counted once per such pair (28 in all)."""
    ops = [op for row in cell_ops(genotype) for op in row]
    key = (ops.count("nor_conv_3x3"), ops.count("nor_conv_1x1"), tuple(input_shape), classes)
    if key not in _SIZES:
        import torch

        from hiernas.network_size import count_parameters, flops_per_image

        with torch.random.fork_rng(devices=[]):
            model = build_nb201_network(genotype, input_shape[0], classes)
        _SIZES[key] = (count_parameters(model), flops_per_image(model, input_shape))  # type: ignore[index]
    return _SIZES[key]  # type: ignore[index]
