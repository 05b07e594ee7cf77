"""The size and cost of a network: parameters and FLOPs per image.

The paper (Liu et al. 2018, section 4) compares architectures by parameter count; FLOPs are added
because the hierarchical space mixes cheap (pooling, depthwise) and costly (dense) operations that
parameter counts alone hide.

What "FLOPs" means here is exactly what ``torch.utils.flop_counter.FlopCounterMode`` counts: matrix
multiplications and convolutions (including the linear classifier), each multiply-add counted as
2 FLOPs, so a k×k convolution from c_in/groups to c_out channels over an H×W output costs
2·H·W·k²·(c_in/groups)·c_out. Batch norm, ReLU, pooling, additions and concatenations are not
counted.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(module: nn.Module) -> int:
    """Every parameter element, trainable or not (shared parameters counted once); buffers such as
    batch norm's running statistics are not parameters and are not counted."""
    return sum(parameter.numel() for parameter in module.parameters())


def flop_counted_ops() -> str:
    """One line saying what ``flops_per_image`` counts, for reports."""
    return "convolutions and matmuls as 2 FLOPs per multiply-add (torch FlopCounterMode)"


def flops_per_image(module: nn.Module, input_shape: tuple[int, int, int]) -> int:
    """FLOPs of one forward pass of a single (C, H, W) image, in eval mode and without gradients.

    The module's train/eval modes are restored afterwards. The image is zeros on the module's
    device and dtype: FLOPs depend on shapes only.
    """
    reference = next(module.parameters(), None)
    device = reference.device if reference is not None else torch.device("cpu")
    dtype = reference.dtype if reference is not None else torch.float32
    image = torch.zeros((1, *input_shape), device=device, dtype=dtype)
    modes = [(sub, sub.training) for sub in module.modules()]
    counter = FlopCounterMode(display=False)
    try:
        module.eval()
        with torch.no_grad(), counter:
            module(image)
    finally:
        for sub, training in modes:
            sub.training = training
    return int(counter.get_total_flops())
