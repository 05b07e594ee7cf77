"""Batch-norm statistics for an untrained network, so that its checks compare something.

A freshly initialised network in eval mode normalises with running statistics of mean 0 and
variance 1, which do not match its activations: they shrink layer after layer, and the logits end
up the classifier's bias, the same to 1e-5 for every image. An export that got an edge wrong would
then still agree with the module within the 1e-4 tolerance. One pass in training mode over random
images (a seeded ``torch.Generator``) sets every batch norm's statistics to those images' (a
cumulative average, ``momentum=None``), so that eval-mode logits depend on the input at the scale
of trained ones. Trained weights are never touched.
"""

from __future__ import annotations

import torch
from torch import nn

from hiernas.export.checks import random_images

CALIBRATION_BATCH = 16
CALIBRATION_SEED = 7


def calibrate_batch_norm(model: nn.Module, image_shape: tuple[int, int, int]) -> None:
    """Replace the running statistics of every batch norm in ``model`` by those of one batch of
    random images; leaves ``model`` in eval mode with its momentum settings unchanged."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    model.train()
    try:
        with torch.no_grad():
            model(random_images(image_shape, CALIBRATION_BATCH, seed=CALIBRATION_SEED))
    finally:
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum
        model.eval()
