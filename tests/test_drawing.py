"""Drawings of genotypes (hiernas.drawing) and ``hiernas show``.

Each figure is rendered once per format and preset (module-scoped), since rendering is the slow part.
"""

from __future__ import annotations

import io
import itertools
import random
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import networkx as nx
import pytest
from PIL import Image

from hiernas.cli import main
from hiernas.drawing import draw, flatten, to_dot
from hiernas.drawing.layout import isotonic_spaced, layered_layout
from motifs import PRESETS, Genotype, Motif, Space, sample
from motifs.files import save_genotype
from motifs.space import PAPER_PRIMITIVES

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_BYTES = 1_000_000
PRESET_NAMES = ("hierarchical", "flat", "nb201")


def _sampled(preset: str, seed: int = 0) -> Genotype:
    return sample(PRESETS[preset], random.Random(seed), 1000)


@pytest.fixture(scope="module")
def drawings(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """(preset, suffix) → the drawing of that preset's seed-0 sample."""
    folder = tmp_path_factory.mktemp("drawings")
    paths = {}
    for preset in PRESET_NAMES:
        for suffix in (".png", ".svg", ".dot"):
            paths[(preset, suffix)] = draw(_sampled(preset), folder / f"{preset}{suffix}")
    return paths


def _used_by_search(genotype: Genotype) -> list[set[int]]:
    """Which motifs the cell reaches, found top-down by a plain worklist (independent of
    Genotype.used_motifs)."""
    used = [set() for _ in genotype.levels]
    todo = [(len(genotype.levels) - 1, 0)]
    while todo:
        level_index, motif_index = todo.pop()
        if motif_index in used[level_index]:
            continue
        used[level_index].add(motif_index)
        if level_index > 0:
            todo.extend(
                (level_index - 1, edge.op - 1)
                for edge in genotype.levels[level_index][motif_index].live_edges()
            )
    return used


def _expected_counts(genotype: Genotype, level_index: int, motif_index: int) -> tuple[int, int, int]:
    """(primitive edges, closing convolutions, zero motifs) of one motif expanded recursively."""
    live = genotype.levels[level_index][motif_index].live_edges()
    if not live:
        return 0, 0, 1
    primitives = closings = zeros = 0
    for edge in live:
        if level_index == 0:
            primitives += 1
        else:
            p, c, z = _expected_counts(genotype, level_index - 1, edge.op - 1)
            primitives, closings, zeros = primitives + p, closings + c, zeros + z
    return primitives, closings + 1, zeros


# ---------------------------------------------------------------------------------------------- files


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_png_is_a_sensible_image(drawings: dict[tuple[str, str], Path], preset: str) -> None:
    data = drawings[(preset, ".png")].read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) < MAX_BYTES
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        width, height = image.size
    assert 600 <= width <= 3000
    assert 400 <= height <= 4500


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_svg_parses_and_titles_every_motif(drawings: dict[tuple[str, str], Path], preset: str) -> None:
    path = drawings[(preset, ".svg")]
    assert path.stat().st_size < MAX_BYTES
    root = ElementTree.parse(path).getroot()
    assert root.tag.endswith("svg")
    text = path.read_text(encoding="utf-8")  # text stays text (svg.fonttype none)
    genotype = _sampled(preset)
    for level_index, level in enumerate(genotype.levels[:-1]):
        for motif_index in range(len(level)):
            assert f"level {level_index + 2} · motif {motif_index + 1}" in text
    assert f"level {genotype.height} · cell" in text
    assert "flattened to primitives" in text


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_dot_has_one_cluster_per_motif_and_every_live_label(
    drawings: dict[tuple[str, str], Path], preset: str
) -> None:
    text = drawings[(preset, ".dot")].read_text(encoding="utf-8")
    genotype = _sampled(preset)
    motif_count = sum(len(level) for level in genotype.levels)
    clusters = re.findall(r'subgraph "cluster_([^"]+)"', text)
    assert len(clusters) == len(set(clusters)) == motif_count + 1  # + the flattened cell
    assert text.count("{") == text.count("}")
    for level_index, level in enumerate(genotype.levels):
        for motif_index, motif in enumerate(level):
            prefix = f"L{level_index + 2}_m{motif_index + 1}"
            for edge in motif.live_edges():
                label = genotype.primitives[edge.op - 1] if level_index == 0 else f"motif {edge.op}"
                line = f'"{prefix}_n{edge.src}" -> "{prefix}_n{edge.dst}" [label="{label}"'
                assert line in text


def test_dot_is_deterministic() -> None:
    genotype = _sampled("hierarchical", 3)
    assert to_dot(genotype) == to_dot(genotype)


def test_unsupported_suffix_names_the_allowed_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.svg, \.png, \.dot"):
        draw(_sampled("nb201"), tmp_path / "x.pdf")


# --------------------------------------------------------------------------------- what is marked


def test_unused_motifs_are_marked(drawings: dict[tuple[str, str], Path]) -> None:
    genotype = _sampled("hierarchical")
    used = _used_by_search(genotype)
    assert [set(level) for level in genotype.used_motifs()] == used
    unused = [m + 1 for m in range(len(genotype.levels[0])) if m not in used[0]]
    assert unused, "seed 0 of the hierarchical preset has an unused motif; pick another seed if not"
    svg = drawings[("hierarchical", ".svg")].read_text(encoding="utf-8")
    dot = drawings[("hierarchical", ".dot")].read_text(encoding="utf-8")
    for k in unused:
        assert f"level 2 · motif {k} (unused)" in svg
        assert f'label="level 2 · motif {k} (unused)"' in dot
    assert svg.count("(unused)") == dot.count("(unused)") == len(unused)


def test_used_motifs_follow_live_edges_only() -> None:
    space = Space(PAPER_PRIMITIVES, motifs=(3, 1), nodes=(3, 3))
    genotype = space.initial()
    # Cell: 0 -> 2 through motif 2 (live); 0 -> 1 through motif 3 is dead (node 1 leads nowhere).
    cell = Motif(((0, 3, 2), (0, 0, 0), (0, 0, 0)))
    genotype = Genotype(genotype.primitives, (genotype.levels[0], (cell,)))
    assert genotype.used_motifs() == (frozenset({1}), frozenset({0}))
    dot = to_dot(genotype)
    assert "level 2 · motif 1 (unused)" in dot
    assert "level 2 · motif 3 (unused)" in dot
    assert "level 2 · motif 2 (unused)" not in dot


# ------------------------------------------------------------------------------- flattened cell


@pytest.mark.parametrize(
    ("space", "seed"),
    [
        (PRESETS["hierarchical"], 0),
        (PRESETS["hierarchical"], 1),
        (PRESETS["hierarchical"], 2),
        (PRESETS["flat"], 0),
        (PRESETS["nb201"], 0),
        # Four levels: motifs of motifs of motifs, and small motifs so that some have no path.
        (Space(PAPER_PRIMITIVES, motifs=(4, 3, 1), nodes=(3, 3, 4)), 5),
        (Space(PAPER_PRIMITIVES, motifs=(4, 3, 1), nodes=(3, 3, 4)), 6),
    ],
)
def test_flattened_cell_counts_match_recursive_expansion(space: Space, seed: int) -> None:
    genotype = sample(space, random.Random(seed), 300)
    graph = flatten(genotype)
    kinds = [data["kind"] for _, _, data in graph.edges(data=True)]
    primitives, closings, zeros = _expected_counts(genotype, len(genotype.levels) - 1, 0)
    assert kinds.count("primitive") == primitives
    assert kinds.count("closing") == closings
    assert kinds.count("zeros") == zeros
    # A DAG from the input to the output in which every node lies on an input → output path.
    assert nx.is_directed_acyclic_graph(graph)
    assert [n for n in graph if graph.in_degree(n) == 0] == ["x0"]
    assert [n for n in graph if graph.out_degree(n) == 0] == ["out"]


def test_a_used_motif_without_path_becomes_a_zeros_edge() -> None:
    genotype = PRESETS["hierarchical"].initial()  # the cell: a chain of 4 edges through motif 1
    empty = Motif(tuple(tuple(0 for _ in range(4)) for _ in range(4)))
    genotype = Genotype(genotype.primitives, ((empty, *genotype.levels[0][1:]), genotype.levels[1]))
    graph = flatten(genotype)
    assert [data["kind"] for _, _, data in graph.edges(data=True)].count("zeros") == 4
    assert "level 2 · motif 1 (no input→output path: outputs zeros)" in to_dot(genotype)


def test_flattened_hierarchical_cell_shows_every_closing_convolution() -> None:
    genotype = _sampled("hierarchical")
    graph = flatten(genotype)
    closing = [data["motif"] for _, _, data in graph.edges(data=True) if data["kind"] == "closing"]
    cell_motifs = [f"m{edge.op}" for edge in genotype.cell.live_edges()]
    assert sorted(closing) == sorted([*cell_motifs, "cell"])


# ------------------------------------------------------------------------------------------ layout


def test_isotonic_spacing_keeps_order_and_gap() -> None:
    result = isotonic_spaced([0.0, 0.1, 0.2, 5.0, 4.0], 1.0)
    assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(result))
    assert isotonic_spaced([0.0, 3.0], 1.0) == [0.0, 3.0]  # already far enough apart: untouched


def test_layered_layout_runs_left_to_right_without_overlaps() -> None:
    graph = flatten(_sampled("hierarchical", 1))
    layout = layered_layout(graph)
    assert layout == layered_layout(graph)  # deterministic
    for route in layout.routes.values():
        xs = [x for x, _ in route]
        assert xs == sorted(xs) and len(set(xs)) == len(xs)
    # Nodes and the dummy points of long edges: within a layer, all at least one slot apart.
    points = list(layout.positions.values())
    points += [point for route in layout.routes.values() for point in route[1:-1]]
    by_layer: dict[float, list[float]] = {}
    for x, y in points:
        by_layer.setdefault(x, []).append(y)
    for ys in by_layer.values():
        ys.sort()
        assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(ys))


# --------------------------------------------------------------------------------------------- CLI


@pytest.fixture
def genotype_file(tmp_path: Path) -> Path:
    path = tmp_path / "genotype.json"
    save_genotype(_sampled("nb201"), path)
    return path


def test_show_writes_svg_beside_the_genotype_by_default(
    genotype_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", str(genotype_file)]) == 0
    output = genotype_file.with_suffix(".svg")
    assert ElementTree.parse(output).getroot().tag.endswith("svg")
    assert capsys.readouterr().out.strip() == str(output)


@pytest.mark.parametrize("suffix", [".png", ".dot"])
def test_show_writes_the_asked_format(genotype_file: Path, tmp_path: Path, suffix: str) -> None:
    output = tmp_path / f"drawing{suffix}"
    assert main(["show", str(genotype_file), "-o", str(output)]) == 0
    data = output.read_bytes()
    assert data.startswith(PNG_SIGNATURE) if suffix == ".png" else data.startswith(b"digraph")


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


def test_show_rejects_an_unsupported_suffix(
    genotype_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", str(genotype_file), "-o", str(tmp_path / "drawing.pdf")]) == 2
    assert ".svg, .png, .dot" in _one_error_line(capsys)
    assert not (tmp_path / "drawing.pdf").exists()


def test_show_rejects_a_malformed_genotype(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "hiernas-genotype/1", "primitives": ["identity"], "levels": [', "utf-8")
    assert main(["show", str(bad), "-o", str(tmp_path / "bad.dot")]) == 2
    assert "bad.json" in _one_error_line(capsys)


def test_show_rejects_an_unwritable_output(
    genotype_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "missing" / "drawing.png"
    assert main(["show", str(genotype_file), "-o", str(output)]) == 2
    assert "cannot be written" in _one_error_line(capsys)
    # A folder where the file should go fails only when written, and is reported the same way.
    folder = tmp_path / "taken.dot"
    folder.mkdir()
    assert main(["show", str(genotype_file), "-o", str(folder)]) == 2
    assert "cannot be written" in _one_error_line(capsys)
