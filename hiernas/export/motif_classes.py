"""py export: each motif of a genotype written as one PyTorch class.

A motif (Liu et al. 2018, section 2.2) becomes a class with its layers built in ``__init__`` and an
explicit ``forward`` that computes node after node. Its modules are spelled as
``hiernas.network.build_network`` spells them, so the state_dict keys match:

- a motif's modules sit in ``self.edges`` (an ``nn.ModuleList``) in the assembler's order: live
  nodes ascending, their in-edges by ascending source; identity edges have no module (the tensor
  is passed through), pools and motifs that output zeros do, so they take a place in the list;
- a motif's closing 1×1 convolution is ``self.closing``.

Channel counts are written as expressions in a motif class's two arguments, ``w`` (its input's
width) and ``c`` (the stage width C): with concatenation every node is a·w + b·c wide, which is how
one class serves every place the motif is used. The output is formatted as ``ruff format`` would
(88 columns), so that it stays readable and diffs well when edited by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def class_name(genotype: Genotype, level: int, motif: int) -> str:
    """``Cell`` for the top-level motif, ``Level{ℓ}Motif{m}`` (1-based, as matrices name them)
    for the others."""
    return "Cell" if level == len(genotype.levels) - 1 else f"Level{level + 2}Motif{motif + 1}"


class MotifWriter:
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
