"""Network templates (DESIGN.md, "Networks"; Liu et al. 2018, section 2.3) and their profile."""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from hiernas.config import NetworkConfig
from hiernas.network import build_network
from hiernas.network_size import count_parameters, flops_per_image
from motifs import PRESETS, Genotype, sample
from motifs.assembly import MotifModule
from tests.torch_helpers import seeded_weights

SEARCH = NetworkConfig()
EVALUATION = NetworkConfig(channels=64, cells_per_stage=2)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def genotype(preset: str, seed: int = 0) -> Genotype:
    return sample(PRESETS[preset], random.Random(seed), 200)


def images(channels: int, size: int, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, channels, size, size, generator=torch.Generator().manual_seed(0))


def cells(model: nn.Module) -> list[nn.Module]:
    return [module for name, module in model.features.named_children() if "_cell" in name]


def test_search_template_is_the_config_default() -> None:
    assert (SEARCH.channels, SEARCH.cells_per_stage, SEARCH.stages) == (16, 1, 3)


@pytest.mark.parametrize("preset", ["hierarchical", "flat", "nb201"])
@pytest.mark.parametrize("template", [SEARCH, EVALUATION], ids=["search", "evaluation"])
def test_templates_give_logits_for_every_preset(preset: str, template: NetworkConfig) -> None:
    with seeded_weights():
        model = build_network(genotype(preset), template, 3, 10)
    # 16×16 rather than 32×32 keeps the evaluation template quick; the shapes work the same way.
    logits = model(images(3, 16))
    assert logits.shape == (2, 10) and torch.isfinite(logits).all()
    assert len(cells(model)) == 3 * template.cells_per_stage


def test_stages_double_the_width_and_halve_the_resolution() -> None:
    config = NetworkConfig(channels=8, stages=4, cells_per_stage=2)
    with seeded_weights():
        model = build_network(genotype("hierarchical"), config, 3, 7)
    names = [name for name, _ in model.features.named_children()]
    # A stride-1 separable convolution between the two cells of a stage and after the last cell
    # (docs/paper.md, "Template").
    assert names == [
        "stem",
        *("stage1_cell1", "stage1_sep1", "stage1_cell2", "reduce1"),
        *("stage2_cell1", "stage2_sep1", "stage2_cell2", "reduce2"),
        *("stage3_cell1", "stage3_sep1", "stage3_cell2", "reduce3"),
        *("stage4_cell1", "stage4_sep1", "stage4_cell2", "head"),
    ]
    head = model.features.head
    assert (head[0].stride, head[0].groups, head[1].out_channels) == ((1, 1), 64, 64)
    assert model.classifier.in_features == 8 * 2**3
    features = model.features(images(3, 16))
    assert features.shape == (2, 64, 2, 2)
    assert model(images(3, 16)).shape == (2, 7)


def test_one_stage_has_no_reduction() -> None:
    with seeded_weights():
        model = build_network(genotype("flat"), NetworkConfig(channels=4, stages=1), 3, 2)
    assert [name for name, _ in model.features.named_children()] == ["stem", "stage1_cell1", "head"]
    assert model(images(3, 8)).shape == (2, 2)


def test_digits_input_one_channel_8x8() -> None:
    with seeded_weights():
        model = build_network(genotype("hierarchical"), SEARCH, 1, 10)
    assert model.features.stem[0].in_channels == 1
    logits = model(images(1, 8, batch=3))
    assert logits.shape == (3, 10)
    logits.sum().backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())


def test_sum_merge_builds_and_is_smaller() -> None:
    g = genotype("hierarchical", 3)
    with seeded_weights():
        concat = build_network(g, SEARCH, 3, 10)
        summed = build_network(g, NetworkConfig(merge="sum"), 3, 10)
    assert summed(images(3, 16)).shape == (2, 10)
    assert count_parameters(summed) < count_parameters(concat)


def test_every_cell_has_its_own_weights() -> None:
    with seeded_weights():
        model = build_network(genotype("hierarchical"), EVALUATION, 3, 10)
    first, second = cells(model)[:2]
    assert isinstance(first, MotifModule)
    assert {id(p) for p in first.parameters()}.isdisjoint(id(p) for p in second.parameters())


def test_parameter_count_is_every_parameter_once() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), nn.Linear(4, 2))
    assert count_parameters(model) == 3 * 4 * 9 + 2 * 4 + (4 * 2 + 2)


def test_flops_are_twice_the_multiply_adds_and_modes_are_kept() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False),
        nn.BatchNorm2d(8),
        nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 10),
    )
    model.train()
    model[1].eval()  # a mixed state must come back as it was
    expected = 2 * (16 * 16 * 9 * 3 * 8 + 16 * 16 * 9 * 8 + 8 * 10)
    assert flops_per_image(model, (3, 16, 16)) == expected
    assert model.training and not model[1].training and model[0].training
    # Running statistics are untouched: the count runs in eval mode.
    assert model[1].num_batches_tracked.item() == 0


def test_search_network_profile_on_cifar_shape() -> None:
    with seeded_weights():
        model = build_network(PRESETS["hierarchical"].initial(), SEARCH, 3, 10)
    # Identity chains: stem, closing 1×1 convolutions (cell + 4 motifs per cell), reductions, the
    # stride-1 separable convolution after the last cell, classifier.
    closings = sum(5 * (c * c + 2 * c) for c in (16, 32, 64))
    stem = 3 * 16 * 9 + 2 * 16
    reductions = sum(c * 9 + c * 2 * c + 2 * 2 * c for c in (16, 32))
    head = 64 * 9 + 64 * 64 + 2 * 64
    assert count_parameters(model) == stem + closings + reductions + head + 64 * 10 + 10
    assert flops_per_image(model, (3, 32, 32)) > 0


def test_evaluation_template_shape_is_network_configuration_and_old_keys_still_load() -> None:
    from hiernas.config import ConfigError, config_from_dict
    from hiernas.network import evaluation_network

    config = config_from_dict({"network": {"channels": 8}, "evaluation_template": {"channels": 24}})
    assert evaluation_network(config) == NetworkConfig(channels=24, cells_per_stage=2)
    # Configs written when the shape sat among the final training's settings keep working.
    legacy = config_from_dict({"final": {"channels": 32, "cells_per_stage": 3, "steps": 10}})
    assert (legacy.evaluation_template.channels, legacy.evaluation_template.cells_per_stage) == (32, 3)
    assert legacy.final.steps == 10
    with pytest.raises(ConfigError, match=r"final\.channels: moved to evaluation_template\.channels"):
        config_from_dict({"final": {"channels": 32}, "evaluation_template": {"channels": 16}})
