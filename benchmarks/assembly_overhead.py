"""What the generic assembly costs against writing the same network by hand.

One fixed genotype (``sample(PRESETS["hierarchical"], random.Random(0))``, the paper's hierarchical
space after 1000 mutations) is assembled into the search template (Liu et al. 2018, section 4.1:
C0 = 16, N = 1, three stages) and also written out below as a plain ``nn.Module`` with explicit
layers and an explicit forward: identities are just the tensor, pools are functional calls. Both get
the very same weights (state copied across; parameter counts and outputs asserted equal), then
training steps (forward, cross-entropy, backward, SGD with momentum) are timed on the CPU,
alternating the two (ABBA) in one process after a warm-up, and compared by their medians.

Both wall-clock and CPU time are measured. The ratio printed last is of the CPU time of the process:
on a machine shared with other jobs, wall time also counts the waits for a free core, which belong to
neither network; with one thread (the default) CPU time is the step's own work. The wall-clock ratio
is printed too; on an idle machine the two agree.

    python benchmarks/assembly_overhead.py [--batch 64] [--size 32] [--pairs 12] [--threads 1]

The last line is ``assembly_overhead_ratio: X`` (assembled / hand-written median CPU time per step;
target ≤ 1.02).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hiernas.config import NetworkConfig
from hiernas.network import build_network
from hiernas.network_size import count_parameters
from motifs import PRESETS, Genotype, sample

# The genotype the hand-written network below spells out, as live edges (src, dst, op) per motif
# (primitives: 1 conv1x1, 2 dwconv3x3, 3 sepconv3x3, 4 maxpool3x3, 5 avgpool3x3, 6 identity).
# Checked at start-up, so a change to ``sample`` cannot silently compare two different networks.
EXPECTED_LIVE_EDGES = [
    [(0, 1, 6), (0, 2, 6), (0, 3, 3), (1, 2, 3), (1, 3, 2), (2, 3, 5)],
    [(0, 1, 6), (0, 2, 2), (0, 3, 4), (1, 2, 1), (1, 3, 2), (2, 3, 5)],
    [(0, 1, 5), (0, 2, 2), (0, 3, 2), (1, 2, 1), (1, 3, 1), (2, 3, 4)],
    [(0, 2, 4), (0, 3, 5), (2, 3, 2)],  # motif 4: the cell never uses it
    [(0, 1, 3), (0, 2, 6), (0, 3, 5), (1, 2, 3), (1, 3, 2), (2, 3, 6)],
    [(0, 1, 6), (1, 2, 6), (1, 3, 1), (2, 3, 3)],
    [(0, 1, 2), (0, 2, 3), (0, 4, 5), (1, 2, 2), (1, 3, 6), (2, 3, 6), (2, 4, 3), (3, 4, 1)],
]


def the_genotype() -> Genotype:
    genotype = sample(PRESETS["hierarchical"], random.Random(0))
    live = [[tuple(e) for e in motif.live_edges()] for level in genotype.levels for motif in level]
    assert live == EXPECTED_LIVE_EDGES, "sample() changed: rewrite the hand-written network"
    return genotype


# ---- The hand-written network -------------------------------------------------------------------


def conv_bn_relu(cin: int, cout: int, kernel: int, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, padding=kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(),
    )


def dwconv(c: int) -> nn.Sequential:
    return conv_bn_relu(c, c, 3, groups=c)


def sepconv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin, bias=False),
        nn.Conv2d(cin, cout, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(),
    )


def maxpool(x: Tensor) -> Tensor:
    return F.max_pool2d(x, 3, 1, 1)


def avgpool(x: Tensor) -> Tensor:
    return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


class Motif1(nn.Module):
    """0>1 identity, 0>2 identity, 0>3 sepconv, 1>2 sepconv, 1>3 dwconv, 2>3 avgpool."""

    def __init__(self, w: int, c: int) -> None:
        super().__init__()
        self.sep12 = sepconv(w, c)
        self.sep03 = sepconv(w, c)
        self.dw13 = dwconv(w)
        self.close = conv_bn_relu(2 * w + 2 * c, w, 1)

    def forward(self, x0: Tensor) -> Tensor:
        x2 = torch.cat([x0, self.sep12(x0)], 1)
        return self.close(torch.cat([self.sep03(x0), self.dw13(x0), avgpool(x2)], 1))


class Motif2(nn.Module):
    """0>1 identity, 0>2 dwconv, 0>3 maxpool, 1>2 conv1x1, 1>3 dwconv, 2>3 avgpool."""

    def __init__(self, w: int, c: int) -> None:
        super().__init__()
        self.dw02 = dwconv(w)
        self.conv12 = conv_bn_relu(w, c, 1)
        self.dw13 = dwconv(w)
        self.close = conv_bn_relu(3 * w + c, w, 1)

    def forward(self, x0: Tensor) -> Tensor:
        x2 = torch.cat([self.dw02(x0), self.conv12(x0)], 1)
        return self.close(torch.cat([maxpool(x0), self.dw13(x0), avgpool(x2)], 1))


class Motif3(nn.Module):
    """0>1 avgpool, 0>2 dwconv, 0>3 dwconv, 1>2 conv1x1, 1>3 conv1x1, 2>3 maxpool."""

    def __init__(self, w: int, c: int) -> None:
        super().__init__()
        self.dw02 = dwconv(w)
        self.conv12 = conv_bn_relu(w, c, 1)
        self.dw03 = dwconv(w)
        self.conv13 = conv_bn_relu(w, c, 1)
        self.close = conv_bn_relu(2 * w + 2 * c, w, 1)

    def forward(self, x0: Tensor) -> Tensor:
        x1 = avgpool(x0)
        x2 = torch.cat([self.dw02(x0), self.conv12(x1)], 1)
        return self.close(torch.cat([self.dw03(x0), self.conv13(x1), maxpool(x2)], 1))


class Motif5(nn.Module):
    """0>1 sepconv, 0>2 identity, 0>3 avgpool, 1>2 sepconv, 1>3 dwconv, 2>3 identity."""

    def __init__(self, w: int, c: int) -> None:
        super().__init__()
        self.sep01 = sepconv(w, c)
        self.sep12 = sepconv(c, c)
        self.dw13 = dwconv(c)
        self.close = conv_bn_relu(2 * w + 2 * c, w, 1)

    def forward(self, x0: Tensor) -> Tensor:
        x1 = self.sep01(x0)
        x2 = torch.cat([x0, self.sep12(x1)], 1)
        return self.close(torch.cat([avgpool(x0), self.dw13(x1), x2], 1))


class Motif6(nn.Module):
    """0>1 identity, 1>2 identity, 1>3 conv1x1, 2>3 sepconv."""

    def __init__(self, w: int, c: int) -> None:
        super().__init__()
        self.conv13 = conv_bn_relu(w, c, 1)
        self.sep23 = sepconv(w, c)
        self.close = conv_bn_relu(2 * c, w, 1)

    def forward(self, x0: Tensor) -> Tensor:
        return self.close(torch.cat([self.conv13(x0), self.sep23(x0)], 1))


class Cell(nn.Module):
    """0>1 m2, 0>2 m3, 0>4 m5, 1>2 m2, 1>3 m6, 2>3 m6, 2>4 m3, 3>4 m1 (node widths C, 2C, 3C, 6C)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.m2_01 = Motif2(c, c)
        self.m3_02 = Motif3(c, c)
        self.m2_12 = Motif2(c, c)
        self.m6_13 = Motif6(c, c)
        self.m6_23 = Motif6(2 * c, c)
        self.m5_04 = Motif5(c, c)
        self.m3_24 = Motif3(2 * c, c)
        self.m1_34 = Motif1(3 * c, c)
        self.close = conv_bn_relu(6 * c, c, 1)

    def forward(self, x0: Tensor) -> Tensor:
        x1 = self.m2_01(x0)
        x2 = torch.cat([self.m3_02(x0), self.m2_12(x1)], 1)
        x3 = torch.cat([self.m6_13(x1), self.m6_23(x2)], 1)
        return self.close(torch.cat([self.m5_04(x0), self.m3_24(x2), self.m1_34(x3)], 1))


class HandWritten(nn.Module):
    """The search template around that cell: stem, three stages of one cell, two reductions, the
    stride-1 separable convolution after the last cell."""

    def __init__(self, c: int = 16, classes: int = 10) -> None:
        super().__init__()
        self.stem = conv_bn_relu(3, c, 3)
        self.cell1 = Cell(c)
        self.reduce1 = sepconv(c, 2 * c, stride=2)
        self.cell2 = Cell(2 * c)
        self.reduce2 = sepconv(2 * c, 4 * c, stride=2)
        self.cell3 = Cell(4 * c)
        self.head = sepconv(4 * c, 4 * c)
        self.classifier = nn.Linear(4 * c, classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.cell1(self.stem(x))
        x = self.cell2(self.reduce1(x))
        x = self.head(self.cell3(self.reduce2(x)))
        return self.classifier(x.mean((2, 3)))


# ---- Measurement ---------------------------------------------------------------------------------


def copy_state(source: nn.Module, target: nn.Module) -> None:
    """Both register their layers in the same order (edges by target node, then by source node;
    closing convolution last), so their states line up entry by entry."""
    source_state, target_state = source.state_dict(), target.state_dict()
    assert len(source_state) == len(target_state), (len(source_state), len(target_state))
    for (name, value), (other, slot) in zip(source_state.items(), target_state.items(), strict=True):
        assert value.shape == slot.shape, (name, other, value.shape, slot.shape)
        slot.copy_(value)


def training_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, images: Tensor, labels: Tensor
) -> tuple[float, float]:
    """One SGD step; returns (wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    optimizer.zero_grad(set_to_none=True)
    F.cross_entropy(model(images), labels).backward()
    optimizer.step()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    # Small images make the step dispatch-bound: the setting that shows Python overhead most.
    parser.add_argument("--size", type=int, default=32, help="image height and width")
    parser.add_argument("--pairs", type=int, default=12, help="ABBA rounds (each times both twice)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    genotype = the_genotype()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        assembled = build_network(genotype, NetworkConfig(), 3, 10)
    hand = HandWritten()
    copy_state(assembled, hand)
    assert count_parameters(assembled) == count_parameters(hand), "not the same network"

    generator = torch.Generator().manual_seed(0)
    images = torch.randn(args.batch, 3, args.size, args.size, generator=generator)
    labels = torch.randint(0, 10, (args.batch,), generator=generator)
    with torch.no_grad():
        for mode in ("eval", "train"):
            getattr(assembled, mode)(), getattr(hand, mode)()
            torch.testing.assert_close(assembled(images), hand(images), rtol=1e-5, atol=1e-5)
    copy_state(assembled, hand)  # the train-mode check moved both running statistics alike

    models = {"assembled": assembled, "hand-written": hand}
    optimizers = {
        name: torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9) for name, model in models.items()
    }
    wall: dict[str, list[float]] = {name: [] for name in models}
    cpu: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.warmup):
        for name, model in models.items():
            training_step(model, optimizers[name], images, labels)
    # ABBA: a slow drift of the machine (other processes, thermal) hits both sides equally.
    for _ in range(args.pairs):
        for name in ("assembled", "hand-written", "hand-written", "assembled"):
            step_wall, step_cpu = training_step(models[name], optimizers[name], images, labels)
            wall[name].append(step_wall)
            cpu[name].append(step_cpu)

    print(
        f"training step, batch {args.batch} of 3x{args.size}x{args.size}, CPU, {args.threads} thread(s), "
        f"{2 * args.pairs} steps each"
    )
    print(f"{'network':<14}{'params':>10}{'wall median ms':>16}{'wall min ms':>13}{'CPU median ms':>15}")
    for name, model in models.items():
        print(
            f"{name:<14}{count_parameters(model):>10,}{statistics.median(wall[name]) * 1e3:>16.1f}"
            f"{min(wall[name]) * 1e3:>13.1f}{statistics.median(cpu[name]) * 1e3:>15.1f}"
        )
    wall_ratio = statistics.median(wall["assembled"]) / statistics.median(wall["hand-written"])
    cpu_ratio = statistics.median(cpu["assembled"]) / statistics.median(cpu["hand-written"])
    print(f"wall-clock ratio (assembled / hand-written): {wall_ratio:.3f}")
    print(f"assembly_overhead_ratio: {cpu_ratio:.3f}")


if __name__ == "__main__":
    main()
