"""Which network a genotype is exported in: template, input shape and class count.

DESIGN.md, "Networks": the paper searches in a small template (C0 = 16, N = 1; the config's
``network`` section) and trains the final architecture in a large one (C0 = 64, N = 2;
``evaluation_template``).
``--template`` picks one; by default the evaluation template when trained weights are given (that is
what ``hiernas train`` trains) and the search template otherwise. A run on the NB201 table exports
NB201's own network instead of the search template (``hiernas.nb201_network``): that is the
network its accuracies and sizes belong to. So does a bare NB201 genotype exported with no
configuration at all (no run, ``--config`` or weights), as ``hiernas describe`` sizes it.

The configuration comes, first that applies, from ``--config``, the ``config.yaml`` that ``hiernas
train`` wrote beside the weights, the run directory's ``config.yaml``, or the paper's setting on
CIFAR-10 (as ``hiernas describe`` uses). ``--set`` overrides apply to whichever is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hiernas.commands.describe import ASSUMED_CLASSES, DATA_SHAPES
from hiernas.config import NetworkConfig, RunConfig, load_config
from hiernas.network import evaluation_network

TemplateKind = Literal["search", "evaluation", "nb201"]
# What --template chooses; "nb201" is chosen by the run itself (a table run, see make_template).
TEMPLATES: tuple[TemplateKind, ...] = ("search", "evaluation")


@dataclass(frozen=True, slots=True)
class Template:
    kind: TemplateKind
    network: NetworkConfig
    image_shape: tuple[int, int, int]
    classes: int
    # The seed untrained networks are initialised from (the config's run seed).
    seed: int

    def describe(self) -> str:
        net = self.network
        channels, height, width = self.image_shape
        if self.kind == "nb201":
            return (
                f"NAS-Bench-201 network (stem 16, 3 stages of 5 cells, residual reductions), "
                f"{channels}x{height}x{width} images, {self.classes} classes"
            )
        return (
            f"{self.kind} template C0={net.channels}, N={net.cells_per_stage}, {net.stages} stages, "
            f"{net.merge} merge, {channels}x{height}x{width} images, {self.classes} classes"
        )


def load_export_config(
    config: str | None, overrides: Sequence[str], *, beside_weights: Path | None, run_config: Path | None
) -> RunConfig:
    """The configuration an export uses (see the module docstring for the order)."""
    if config is not None:
        return load_config(config, overrides)
    for candidate in (beside_weights, run_config):
        if candidate is not None:
            return load_config(str(candidate), overrides, plugins=False)
    return load_config("paper", ["data.dataset=cifar10", *overrides], prefer_preset=True)


def make_template(
    config: RunConfig, kind: TemplateKind, *, classes: int | None = None, nb201: bool = False
) -> Template:
    """``classes`` (read from trained weights) stands in where the data set does not say how many
    classes it has (an image folder, which is only known once read). ``nb201``: NAS-Bench-201's
    network on the config's data instead of the search template."""
    if config.evaluator.kind == "table" and kind == "search":
        # A table run's accuracies were measured on NB201's own network, on the column's data set.
        from hiernas.nb201 import column_shape

        shape, table_classes = column_shape(config.evaluator.fitness)  # type: ignore[union-attr]
        return Template("nb201", config.network, shape, table_classes, config.seed)
    image_shape, known_classes = DATA_SHAPES[config.data.dataset]
    if nb201 and kind == "search":
        return Template("nb201", config.network, image_shape, known_classes or ASSUMED_CLASSES, config.seed)
    network = config.network if kind == "search" else evaluation_network(config)
    return Template(kind, network, image_shape, known_classes or classes or ASSUMED_CLASSES, config.seed)
