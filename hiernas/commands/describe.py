"""``hiernas describe``: what a genotype file is as an architecture and what it costs.

The canonical key (``motifs.canonical``), the live edges of every motif the cell uses (Liu et al.
2018, section 2.2: only edges on an input → output path are built), and the parameter count and
FLOPs per image of the search template (section 4.1: C0 = 16, N = 1) it would be trained in.

An NB201 cell is sized in NAS-Bench-201's own network instead (``hiernas.nb201_network``: stem of
16, three stages of 5 cells, residual reductions, 32×32 images), the network its table's accuracies
belong to, exactly when ``hiernas export`` exports that network: for a table run (its config, or a
run directory's), and also for a genotype of the NB201 space described with no config at all.
``--config`` with a config that is not a table run sizes such a cell in that config's template.

Motifs are numbered from 1, as the matrix entries of the level above name them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hiernas.config import RunConfig, load_config
from hiernas.errors import InputError
from hiernas.nb201 import genotype_to_arch, is_cell
from hiernas.nb201_network import CELLS_PER_STAGE, STEM_CHANNELS, nb201_size
from hiernas.network import build_network
from hiernas.network_size import count_parameters, flop_counted_ops, flops_per_image
from motifs.canonical import canonical_key
from motifs.files import load_genotype
from motifs.genotype import Genotype

# (channels, height, width) and class count of each data set kind, known without loading it.
# A folder's images are decoded to 3×32×32; its classes are only known once it is read.
DATA_SHAPES: dict[str, tuple[tuple[int, int, int], int | None]] = {
    "digits": ((1, 8, 8), 10),
    "cifar10": ((3, 32, 32), 10),
    "folder": ((3, 32, 32), None),
}
ASSUMED_CLASSES = 10


def run_describe(
    genotype_path: Path, *, as_json: bool, config: str | None, overrides: Sequence[str] = ()
) -> None:
    """``genotype_path``: a genotype file, or a run directory (its ``best.json`` in its config)."""
    run_config_path = None
    if genotype_path.is_dir():
        run_config_path = genotype_path / "config.yaml"
        genotype_path = genotype_path / "best.json"
        if not genotype_path.is_file():
            raise InputError(f"{genotype_path}: no such file (the run has no finished evaluation yet?)")
    # The config first: its plug-ins register the primitives the genotype may name.
    if config is not None:
        run_config = load_config(config, overrides)
    elif run_config_path is not None and run_config_path.is_file():
        # A run directory's config, as hiernas export reads it: its plug-ins are not imported.
        run_config = load_config(str(run_config_path), overrides, plugins=False)
    else:
        # The paper's setting: its search template on CIFAR-10. Overrides still apply.
        run_config = load_config("paper", ["data.dataset=cifar10", *overrides], prefer_preset=True)
        run_config_path = None
    genotype = load_genotype(genotype_path)
    no_config = config is None and run_config_path is None
    summary = describe(genotype, run_config, nb201=no_config and is_cell(genotype))
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        print(_human(genotype_path, summary))


def describe(genotype: Genotype, config: RunConfig, *, nb201: bool = False) -> dict[str, Any]:
    """The JSON-ready description ``hiernas describe --json`` prints: in NAS-Bench-201's own network
    for a table run's config or when ``nb201``, in ``config``'s search template otherwise."""
    if config.evaluator.kind == "table" or nb201:
        return _describe_nb201(genotype, config)
    image_shape, classes = DATA_SHAPES[config.data.dataset]
    model = build_network(genotype, config.network, image_shape[0], classes or ASSUMED_CLASSES)
    return {
        "key": canonical_key(genotype),
        "network": "template",
        "params": count_parameters(model),
        "flops": flops_per_image(model, image_shape),
        "flops_counted": flop_counted_ops(),
        "template": config.network.model_dump(mode="json"),
        "dataset": config.data.dataset,
        "input_shape": list(image_shape),
        "classes": classes or ASSUMED_CLASSES,
        "classes_assumed": classes is None,
        "live_edges": live_edges(genotype),
    }


def _describe_nb201(genotype: Genotype, config: RunConfig) -> dict[str, Any]:
    # The same choice of network, input and classes as hiernas export and a table run's sizes.
    from hiernas.export.template import make_template

    template = make_template(config, "search", nb201=True)
    if config.evaluator.kind == "table":
        dataset = config.evaluator.fitness.split("-", 1)[0]  # type: ignore[union-attr]
    else:
        dataset = config.data.dataset
    params, flops = nb201_size(genotype, template.image_shape, template.classes)
    return {
        "key": canonical_key(genotype),
        "network": "nb201",
        "params": params,
        "flops": flops,
        "flops_counted": flop_counted_ops(),
        "template": None,
        "nb201": {
            "arch": genotype_to_arch(genotype),
            "description": template.describe(),
            "stem_channels": STEM_CHANNELS,
            "stage_channels": [STEM_CHANNELS, 2 * STEM_CHANNELS, 4 * STEM_CHANNELS],
            "cells_per_stage": CELLS_PER_STAGE,
            "reduction": "residual",
            "merge": "sum",
        },
        "dataset": dataset,
        "input_shape": list(template.image_shape),
        "classes": template.classes,
        "classes_assumed": False,
        "live_edges": live_edges(genotype),
    }


def live_edges(genotype: Genotype) -> list[dict[str, Any]]:
    """Per level, top level last: each motif the cell uses and its live edges with op names.

    A used motif with no live edge outputs zeros and is listed with no edges.
    """
    used = genotype.used_motifs()
    levels = []
    for k, level in enumerate(genotype.levels):
        motifs = []
        for m in sorted(used[k]):
            edges = [
                {"src": e.src, "dst": e.dst, "op": _op_name(genotype, k, e.op)} for e in level[m].live_edges()
            ]
            motifs.append({"motif": m + 1, "edges": edges})
        levels.append({"level": k + 2, "motifs": motifs})
    return levels


def _op_name(genotype: Genotype, level_index: int, op: int) -> str:
    return genotype.primitives[op - 1] if level_index == 0 else f"m{op}"


def _human(path: Path, summary: dict[str, Any]) -> str:
    net = summary["template"]
    c, h, w = summary["input_shape"]
    classes = f"{summary['classes']} classes" + (" (assumed)" if summary["classes_assumed"] else "")
    if net is None:
        nb201 = summary["nb201"]
        network = [
            f"network   {nb201['description']} ({summary['dataset']})",
            f"arch      {nb201['arch']} (every edge is computed, dead ones too)",
        ]
    else:
        network = [
            f"network   C0={net['channels']}, N={net['cells_per_stage']}, {net['stages']} stages, "
            f"{net['merge']} merge; {summary['dataset']} {c}x{h}x{w}, {classes}"
        ]
    lines = [
        f"genotype  {path}",
        f"key       {summary['key']}",
        *network,
        f"params    {summary['params']:,}",
        f"flops     {summary['flops']:,} per image (2 per multiply-add of convolutions and matmuls)",
        "live edges (src>dst op; mK: motif K of the level below)",
    ]
    top = summary["live_edges"][-1]["level"]
    for level in summary["live_edges"]:
        for motif in level["motifs"]:
            name = f"level {level['level']} " + (
                "cell" if level["level"] == top else f"motif {motif['motif']}"
            )
            edges = [f"{e['src']}>{e['dst']} {e['op']}" for e in motif["edges"]] or ["none (zeros)"]
            lines.extend(_wrapped(f"  {name}: ", edges))
    return "\n".join(lines)


def _wrapped(head: str, items: list[str], width: int = 100) -> list[str]:
    """``items`` joined by commas after ``head``, continued under it: a flat cell has dozens of
    edges, and an edge is never split across lines."""
    lines, line = [], head + items[0]
    for item in items[1:]:
        if len(line) + 2 + len(item) > width:
            lines.append(line + ",")
            line = " " * len(head) + item
        else:
            line += ", " + item
    return [*lines, line]
