"""``hiernas describe``: what a genotype file is as an architecture and what it costs.

The canonical key (``motifs.canonical``), the live edges of every motif the cell uses (Liu et al.
2018, section 2.2: only edges on an input → output path are built), and the parameter count and
FLOPs per image of the search template (section 4.1: C0 = 16, N = 1) it would be trained in.

Motifs are numbered from 1, as the matrix entries of the level above name them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hiernas.config import RunConfig, load_config
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
    # The config first: its plug-ins register the primitives the genotype may name.
    if config is None:
        # The paper's setting: its search template on CIFAR-10. Overrides still apply.
        run_config = load_config("paper", ["data.dataset=cifar10", *overrides], prefer_preset=True)
    else:
        run_config = load_config(config, overrides)
    genotype = load_genotype(genotype_path)
    summary = describe(genotype, run_config)
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        print(_human(genotype_path, summary))


def describe(genotype: Genotype, config: RunConfig) -> dict[str, Any]:
    """The JSON-ready description ``hiernas describe --json`` prints."""
    image_shape, classes = DATA_SHAPES[config.data.dataset]
    model = build_network(genotype, config.network, image_shape[0], classes or ASSUMED_CLASSES)
    return {
        "key": canonical_key(genotype),
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
    lines = [
        f"genotype  {path}",
        f"key       {summary['key']}",
        f"network   C0={net['channels']}, N={net['cells_per_stage']}, {net['stages']} stages, "
        f"{net['merge']} merge; {summary['dataset']} {c}x{h}x{w}, {classes}",
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
