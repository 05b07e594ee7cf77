"""py export: a genotype in a network template, written out as one standalone PyTorch source file.

The file reads like the hand-written network in ``benchmarks/assembly_overhead.py``: the primitives
are small helper functions, every motif the cell uses is one class (written by ``motif_classes``),
and ``Network`` places the cell in the template of DESIGN.md, "Networks". It imports only torch.

It builds exactly the module ``hiernas.network.build_network`` builds, down to the state_dict keys,
so weights trained by hiernas load into it directly: the network's layers are ``features`` (stem,
``stage{s}_cell{n}``, ``stage{s}_sep{n}``, ``reduce{s}``, ``head``), ``pool`` and ``classifier``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from hiernas.config import NetworkConfig
from hiernas.errors import InputError
from hiernas.export.motif_classes import INDENT, LINE, PRIMITIVES, MotifWriter
from motifs.files import genotype_text
from motifs.genotype import Genotype

_LAYERS = '''def conv_bn_relu(
    in_channels: int,
    out_channels: int,
    kernel: int,
    *,
    groups: int = 1,
    stride: int = 1,
) -> nn.Sequential:
    """Convolution without bias (batch norm supplies it), then batch norm and ReLU."""
    return nn.Sequential(
        nn.Conv2d(
            in_channels,
            out_channels,
            kernel,
            stride=stride,
            padding=kernel // 2,
            groups=groups,
            bias=False,
        ),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    )


def separable_conv(
    in_channels: int, out_channels: int, *, stride: int = 1
) -> nn.Sequential:
    """3x3 depthwise then 1x1 pointwise convolution, one batch norm and ReLU after both."""
    return nn.Sequential(
        nn.Conv2d(
            in_channels,
            in_channels,
            3,
            stride=stride,
            padding=1,
            groups=in_channels,
            bias=False,
        ),
        nn.Conv2d(in_channels, out_channels, 1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    )
'''

_NETWORK = '''class Network(nn.Module):
    """The cell in its template: a 3x3 convolution stem with `channels` channels, `stages`
    stages of `cells_per_stage` cells (a stride-1 separable convolution between two cells of a
    stage), each stage after the first entered through a stride-2 separable convolution that
    doubles the channels, a stride-1 separable convolution after the last cell, global average
    pooling, a linear layer."""

    def __init__(
        self,
        in_channels: int = {in_channels},
        classes: int = {classes},
        channels: int = {channels},
        cells_per_stage: int = {cells_per_stage},
        stages: int = {stages},
    ) -> None:
        super().__init__()
        width = channels
        layers: OrderedDict[str, nn.Module] = OrderedDict(
            stem=conv_bn_relu(in_channels, width, 3)
        )
        for stage in range(1, stages + 1):
            if stage > 1:
                layers[f"reduce{{stage - 1}}"] = separable_conv(
                    width, 2 * width, stride=2
                )
                width *= 2
            for cell in range(1, cells_per_stage + 1):
                if cell > 1:
                    layers[f"stage{{stage}}_sep{{cell - 1}}"] = separable_conv(width, width)
                layers[f"stage{{stage}}_cell{{cell}}"] = {cell}
        layers["head"] = separable_conv(width, width)
        self.features = nn.Sequential(layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(width, classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.pool(self.features(x)).flatten(1))
'''


def python_source(
    genotype: Genotype,
    network: NetworkConfig,
    in_channels: int,
    classes: int,
    *,
    title: str,
    about: Sequence[str] = (),
) -> str:
    """The source file. ``title`` heads its docstring; ``about`` adds lines under it (where the
    genotype came from, its fitness). ``Network()`` with no arguments is the given template."""
    missing = sorted(name for name in set(genotype.primitives) if name not in PRIMITIVES)
    if missing:
        raise InputError(
            f"py export: no source is known for primitive(s) {', '.join(missing)} "
            f"(known: {', '.join(sorted(PRIMITIVES))})"
        )
    writer = MotifWriter(genotype, network.merge == "concat")
    classes_text = [
        writer.motif_class(level, motif)
        for level, motifs in enumerate(genotype.used_motifs())
        for motif in sorted(motifs)
    ]
    helpers = [
        source.definition
        for name in sorted(writer.primitives_used)
        if (source := PRIMITIVES[name]) is not None
    ]
    cell = "Cell()" if genotype.cell.live_edges() == () else "Cell(width, width)"
    network_text = _NETWORK.format(
        in_channels=in_channels,
        classes=classes,
        channels=network.channels,
        cells_per_stage=network.cells_per_stage,
        stages=network.stages,
        cell=cell,
    )
    imports = ["from collections import OrderedDict", ""]
    if writer.needs_torch:
        imports.append("import torch")
    imports.append("from torch import Tensor, nn")
    # One blank line after the module docstring, two between top-level definitions.
    head = _docstring(genotype, network, in_channels, classes, title, about) + "\n" + "\n".join(imports)
    definitions = [_LAYERS, *helpers, *classes_text, network_text]
    return "\n\n\n".join([head, *(part.strip("\n") for part in definitions)]) + "\n"


def _docstring(
    genotype: Genotype,
    network: NetworkConfig,
    in_channels: int,
    classes: int,
    title: str,
    about: Sequence[str],
) -> str:
    template = (
        f"Network() is the template C0 = {network.channels}, N = {network.cells_per_stage}, "
        f"{network.stages} stages, {network.merge} merge, for {in_channels}-channel images "
        f"and {classes} classes. The file needs only torch, and its state_dict keys are those "
        f"of the hiernas network, so weights trained by hiernas load directly:"
    )
    lines = [
        _docstring_text(title),
        "",
        *(
            _docstring_text(wrapped)
            for line in about
            for wrapped in textwrap.wrap(line, LINE, break_on_hyphens=False)
        ),
        *([""] if about else []),
        *textwrap.wrap(template, LINE),
        "",
        "    model = Network()",
        '    model.load_state_dict(torch.load("model.pt", weights_only=True))',
        "    model.eval()",
        "",
        "The genotype (hiernas-genotype/1; Liu et al. 2018, arXiv 1711.00436):",
        "",
        *(INDENT + line for line in genotype_text(genotype).splitlines()),
    ]
    return '"""' + "\n".join(line.rstrip() for line in lines) + '\n"""\n'


def _docstring_text(text: str) -> str:
    """``text`` escaped for the inside of a regular triple-quoted string: it reads back as itself
    and can never end the string. Titles and notes carry names and values from files and journals
    (a genotype file's name, a canonical key, a path), and the exported file is run and imported,
    so whatever they contain must stay text. Backslashes and double quotes are escaped, and so is
    every unprintable character (a newline, a NUL), the way ``repr`` writes it."""
    escaped = []
    for char in text:
        if char in '\\"':
            escaped.append("\\" + char)
        elif not char.isprintable():
            escaped.append(repr(char)[1:-1])
        else:
            escaped.append(char)
    return "".join(escaped)
