"""py export: a genotype in a network template, written out as one standalone PyTorch source file.

The file reads like the hand-written network in ``benchmarks/assembly_overhead.py``: the primitives
are small helper functions, every motif the cell uses (Liu et al. 2018, section 2.2) is one class
with its layers built in ``__init__`` and an explicit ``forward`` that computes node after node, and
``Network`` places the cell in the template of DESIGN.md, "Networks". It imports only torch.

It builds exactly the module ``hiernas.network.build_network`` builds, down to the state_dict keys,
so weights trained by hiernas load into it directly. That fixes a few spellings:

- a motif's modules sit in ``self.edges`` (an ``nn.ModuleList``) in the assembler's order: live
  nodes ascending, their in-edges by ascending source; identity edges have no module (the tensor
  is passed through), pools and motifs that output zeros do, so they take a place in the list;
- a motif's closing 1×1 convolution is ``self.closing``; the network's layers are ``features``
  (stem, ``stage{s}_cell{n}``, ``stage{s}_sep{n}``, ``reduce{s}``, ``head``), ``pool`` and
  ``classifier``.

Channel counts are written as expressions in a motif class's two arguments, ``w`` (its input's
width) and ``c`` (the stage width C): with concatenation every node is a·w + b·c wide, which is how
one class serves every place the motif is used. The output is formatted as ``ruff format`` would
(88 columns), so that it stays readable and diffs well when edited by hand.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from hiernas.config import NetworkConfig
from hiernas.errors import InputError
from motifs.files import genotype_text
from motifs.genotype import Genotype
from motifs.operations import OPERATIONS

LINE = 88
INDENT = "    "


@dataclass(frozen=True, slots=True)
class Width:
    """A channel count as ``w_count``·w + ``c_count``·c."""

    w_count: int
    c_count: int

    def plus(self, other: Width) -> Width:
        return Width(self.w_count + other.w_count, self.c_count + other.c_count)

    def text(self) -> str:
        terms = [
            name if count == 1 else f"{count} * {name}"
            for name, count in (("w", self.w_count), ("c", self.c_count))
            if count
        ]
        return " + ".join(terms) or "0"


INPUT_WIDTH, STAGE_WIDTH = Width(1, 0), Width(0, 1)


@dataclass(frozen=True, slots=True)
class PrimitiveSource:
    """How a primitive is written: its helper function and the arguments it is called with
    (``{w}`` and ``{c}`` stand for its input's width and the stage width)."""

    arguments: str
    definition: str


# Mirrors motifs.operations: the same layers with the same defaults (the tests build both and
# compare outputs for every registered primitive). identity has no module: its input is passed on.
PRIMITIVES: dict[str, PrimitiveSource | None] = {
    "identity": None,
    "conv1x1": PrimitiveSource(
        "{w}, {c}",
        '''def conv1x1(w: int, c: int) -> nn.Sequential:
    """1x1 convolution from w to c channels."""
    return conv_bn_relu(w, c, 1)
''',
    ),
    "conv3x3": PrimitiveSource(
        "{w}, {c}",
        '''def conv3x3(w: int, c: int) -> nn.Sequential:
    """3x3 convolution from w to c channels."""
    return conv_bn_relu(w, c, 3)
''',
    ),
    "dwconv3x3": PrimitiveSource(
        "{w}",
        '''def dwconv3x3(w: int) -> nn.Sequential:
    """3x3 depthwise convolution: keeps the w channels."""
    return conv_bn_relu(w, w, 3, groups=w)
''',
    ),
    "sepconv3x3": PrimitiveSource(
        "{w}, {c}",
        '''def sepconv3x3(w: int, c: int) -> nn.Sequential:
    """3x3 depthwise, then 1x1 from w to c channels."""
    return separable_conv(w, c)
''',
    ),
    "maxpool3x3": PrimitiveSource(
        "",
        '''def maxpool3x3() -> nn.MaxPool2d:
    """3x3 max pooling, stride 1: keeps the shape."""
    return nn.MaxPool2d(3, stride=1, padding=1)
''',
    ),
    "avgpool3x3": PrimitiveSource(
        "",
        '''def avgpool3x3() -> nn.AvgPool2d:
    """3x3 average pooling, stride 1, of real pixels only (the padding is not counted)."""
    return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
''',
    ),
}

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
    writer = _Writer(genotype, network.merge == "concat")
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


def class_name(genotype: Genotype, level: int, motif: int) -> str:
    """``Cell`` for the top-level motif, ``Level{ℓ}Motif{m}`` (1-based, as matrices name them)
    for the others."""
    return "Cell" if level == len(genotype.levels) - 1 else f"Level{level + 2}Motif{motif + 1}"


class _Writer:
    """Writes motif classes, noting which primitives and torch functions they use."""

    def __init__(self, genotype: Genotype, concat: bool) -> None:
        self.genotype = genotype
        self.concat = concat
        self.primitives_used: set[str] = set()
        self.needs_torch = False

    def motif_class(self, level: int, motif: int) -> str:
        genotype = self.genotype
        name = class_name(genotype, level, motif)
        what = (
            f"The cell (the level-{level + 2} motif)"
            if name == "Cell"
            else f"Level-{level + 2} motif {motif + 1}"
        )
        live = genotype.levels[level][motif].live_edges()
        if not live:
            self.needs_torch = True
            return (
                f"class {name}(nn.Module):\n"
                f'{INDENT}"""{what}: no path from input to output, so it outputs zeros."""\n\n'
                f"{INDENT}def forward(self, x0: Tensor) -> Tensor:\n"
                f"{INDENT * 2}return torch.zeros_like(x0)\n"
            )
        feeds: dict[int, list[tuple[int, int]]] = {}
        for edge in live:
            feeds.setdefault(edge.dst, []).append((edge.src, edge.op))
        widths = {0: INPUT_WIDTH}
        names = {0: "x0"}
        modules: list[tuple[str, str]] = []  # (constructor call, comment)
        body: list[str] = []
        described: list[str] = []
        for node in sorted(feeds):
            terms: list[str] = []
            width = Width(0, 0)
            for src, op in sorted(feeds[node]):
                label, call, out = self._edge(level, op, widths[src])
                described.append(f"{src} → {node} {label}")
                if call is None:
                    terms.append(names[src])
                else:
                    terms.append(f"self.edges[{len(modules)}]({names[src]})")
                    modules.append((call, f"edges[{len(modules)}]: {src} → {node}"))
                width = width.plus(out)
            # With "sum" every edge gives C channels (the assembler requires a C-wide input).
            widths[node] = width if self.concat else STAGE_WIDTH
            if len(terms) == 1 and terms[0] in names.values():
                # One identity edge: the same tensor, under its source's name.
                names[node] = terms[0]
            else:
                names[node] = f"x{node}"
                body.extend(self._merge(names[node], terms))
        output = max(feeds)
        merge = "concatenated" if self.concat else "summed"
        docstring = _docstring_lines(
            [
                f"{what}, w channels in and out, c the stage width.",
                "",
                *_wrapped("Edges: ", described, ", ", "."),
                *_wrapped(
                    f"Node widths ({merge} inputs): ",
                    [f"{node}: {widths[node].text()}" for node in sorted(feeds)],
                    "; ",
                    ".",
                ),
            ]
        )
        init = [f"{INDENT * 2}super().__init__()"]
        if modules:
            init.append(f"{INDENT * 2}self.edges = nn.ModuleList(")
            init.append(f"{INDENT * 3}[")
            init.extend(f"{INDENT * 4}{call},  # {comment}" for call, comment in modules)
            init.append(f"{INDENT * 3}]")
            init.append(f"{INDENT * 2})")
        init.append(f"{INDENT * 2}self.closing = conv_bn_relu({widths[output].text()}, w, 1)")
        return (
            f"class {name}(nn.Module):\n"
            f"{docstring}\n"
            f"{INDENT}def __init__(self, w: int, c: int) -> None:\n"
            + "\n".join(init)
            + f"\n\n{INDENT}def forward(self, x0: Tensor) -> Tensor:\n"
            + "".join(line + "\n" for line in body)
            + f"{INDENT * 2}return self.closing({names[output]})\n"
        )

    def _edge(self, level: int, op: int, width: Width) -> tuple[str, str | None, Width]:
        """(label, constructor call or None for a pass-through, output width) of an edge."""
        if level == 0:
            name = self.genotype.primitives[op - 1]
            self.primitives_used.add(name)
            source = PRIMITIVES[name]
            out = STAGE_WIDTH if OPERATIONS[name].to_stage_width else width
            if source is None:
                return name, None, out
            arguments = source.arguments.format(w=width.text(), c="c")
            return name, f"{name}({arguments})", out
        lower = class_name(self.genotype, level - 1, op - 1)
        # A motif closes back to its input's width; one without a live edge takes no arguments.
        if not self.genotype.levels[level - 1][op - 1].live_edges():
            return f"motif {op}", f"{lower}()", width
        return f"motif {op}", f"{lower}({width.text()}, c)", width

    def _merge(self, target: str, terms: list[str]) -> list[str]:
        """``target = merge(terms)`` as ruff would format it, one or more lines at 2 indents."""
        pad = INDENT * 2
        if len(terms) == 1:
            return [f"{pad}{target} = {terms[0]}"]
        if self.concat:
            self.needs_torch = True
            listed = f"[{', '.join(terms)}], 1"
            one_line = f"{pad}{target} = torch.cat({listed})"
            if len(one_line) <= LINE:
                return [one_line]
            if len(INDENT * 3 + listed) <= LINE:
                return [f"{pad}{target} = torch.cat(", INDENT * 3 + listed, f"{pad})"]
            return [
                f"{pad}{target} = torch.cat(",
                f"{INDENT * 3}[",
                *(f"{INDENT * 4}{term}," for term in terms),
                f"{INDENT * 3}],",
                f"{INDENT * 3}1,",
                f"{pad})",
            ]
        added = " + ".join(terms)
        one_line = f"{pad}{target} = {added}"
        if len(one_line) <= LINE:
            return [one_line]
        if len(INDENT * 3 + added) <= LINE:
            return [f"{pad}{target} = (", INDENT * 3 + added, f"{pad})"]
        return [
            f"{pad}{target} = (",
            f"{INDENT * 3}{terms[0]}",
            *(f"{INDENT * 3}+ {term}" for term in terms[1:]),
            f"{pad})",
        ]


def _wrapped(head: str, items: list[str], separator: str, end: str) -> list[str]:
    """``head`` and ``items`` joined, wrapped to docstring lines without splitting an item."""
    width = LINE - len(INDENT)
    lines, line = [], head + items[0]
    for item in items[1:]:
        if len(line) + len(separator) + len(item) > width:
            lines.append(line + separator.rstrip())
            line = item
        else:
            line += separator + item
    return [*lines, line + end]


def _docstring_lines(lines: list[str]) -> str:
    """A class docstring: one line when it fits, else the text then the closing quotes alone."""
    if len(lines) == 1 and len(INDENT) + len(lines[0]) + 6 <= LINE:
        return f'{INDENT}"""{lines[0]}"""\n'
    rest = "".join(f"{INDENT}{line}\n" if line else "\n" for line in lines[1:])
    return f'{INDENT}"""{lines[0]}\n{rest}{INDENT}"""\n'
