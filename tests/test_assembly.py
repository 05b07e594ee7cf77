"""Assembly of genotypes into torch modules (Liu et al. 2018, sections 2.2-2.3; DESIGN.md, "Assembly").

Tensors are tiny (batch 2, 8×8, 4 channels) so that every property runs in milliseconds. Weights
are drawn under a locally forked and seeded torch RNG, inputs from an explicit ``torch.Generator``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from motifs import PRESETS, Genotype, Motif
from motifs.assembly import MotifModule, MotifPlan, ZeroMotif, build_cell
from motifs.operations import OPERATIONS
from tests.strategies import genotypes
from tests.torch_helpers import seeded_weights

BATCH, SIZE, C = 2, 8, 4


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def images(channels: int = C, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(BATCH, channels, SIZE, SIZE, generator=generator, requires_grad=True)


def check_trains(module: nn.Module, x: torch.Tensor, out_channels: int) -> torch.Tensor:
    """Forward in training mode keeps the spatial shape and is finite; so are all gradients."""
    module.train()
    y = module(x)
    assert y.shape == (BATCH, out_channels, SIZE, SIZE)
    assert torch.isfinite(y).all()
    # Weighted, so that batch norm's outputs do not sum to a constant with zero gradient.
    weights = torch.linspace(-1, 1, y.numel()).reshape(y.shape)
    (y * weights).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    for name, parameter in module.named_parameters():
        assert parameter.grad is None or torch.isfinite(parameter.grad).all(), name
    return y


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def genotype_of(
    *levels: list[list[list[int]]], primitives: tuple[str, ...] = PRESETS["paper"].primitives
) -> Genotype:
    """Levels given as lists of matrices, level 2 first."""
    return Genotype(primitives, tuple(tuple(Motif(tuple(map(tuple, m))) for m in level) for level in levels))


def op(name: str) -> int:
    return PRESETS["paper"].primitives.index(name) + 1


@pytest.mark.parametrize("name", sorted(OPERATIONS))
@pytest.mark.parametrize("in_channels", [C, 6])
def test_every_primitive_builds_keeps_shape_and_trains(name: str, in_channels: int) -> None:
    operation = OPERATIONS[name]
    with seeded_weights():
        module = operation.build(in_channels, C)
    x = images(in_channels)
    check_trains(module, x, operation.out_channels(in_channels, C))


@settings(max_examples=40)
@given(genotypes(max_mutations=60), st.sampled_from(["concat", "sum"]), st.integers(0, 2**16))
def test_random_genotypes_assemble_keep_shape_and_train(genotype: Genotype, merge: str, seed: int) -> None:
    with seeded_weights(seed):
        cell = build_cell(genotype, C, C, merge)  # type: ignore[arg-type]
    check_trains(cell, images(seed=seed), C)


@settings(max_examples=15)
@given(genotypes(max_mutations=60))
def test_concat_cells_accept_any_input_width(genotype: Genotype) -> None:
    # The cell closes back to its input's width, which need not be the stage width C.
    with seeded_weights():
        cell = build_cell(genotype, 6, C)
    check_trains(cell, images(6), 6)


def test_concat_widths_add_up_in_source_order() -> None:
    # Node 1 = conv1x1(x0) (C wide) ⊕ nothing; node 3 = cat(dwconv(x0): 6, conv1x1(x1): C).
    cell_matrix = [[0, op("conv1x1"), 0, op("dwconv3x3")], [0, 0, 0, op("conv1x1")], [0] * 4, [0] * 4]
    with seeded_weights():
        cell = build_cell(genotype_of([cell_matrix]), 6, C)
    assert isinstance(cell, MotifModule)
    assert cell.program == (((0, True),), ((0, True), (1, True)))
    closing_conv = cell.closing[0]
    assert closing_conv.in_channels == 6 + C and closing_conv.out_channels == 6
    # Concatenation puts the dwconv (from node 0) before the conv1x1 (from node 1).
    assert cell.edges[1][0].groups == 6 and cell.edges[2][0].kernel_size == (1, 1)


def test_motif_plan_keeps_live_nodes_in_order() -> None:
    matrix = ((0, 1, 2, 0, 0), (0, 0, 0, 0, 3), (0, 0, 0, 0, 0), (0, 0, 0, 0, 4), (0, 0, 0, 0, 0))
    # Node 2 has no way out and node 3 no way in: only 0 → 1 → 4 is live.
    assert MotifPlan.of(Motif(matrix)) == MotifPlan(sources=((0,), (1,)), ops=((1,), (3,)))


@pytest.mark.parametrize(
    "dead_edges",
    [
        pytest.param({(0, 2): "conv3x3"}, id="node-without-way-out"),
        pytest.param({(2, 3): "conv3x3"}, id="node-without-way-in"),
        pytest.param({(0, 2): "sepconv3x3", (1, 2): "conv1x1"}, id="merging-node-without-way-out"),
    ],
)
def test_dead_nodes_are_not_built(dead_edges: dict[tuple[int, int], str]) -> None:
    primitives = (*PRESETS["paper"].primitives, "conv3x3")
    live = [[0, op("conv1x1"), 0, 0], [0, 0, 0, op("sepconv3x3")], [0, 0, 0, 0], [0, 0, 0, 0]]
    dead = [row[:] for row in live]
    for (i, j), name in dead_edges.items():
        dead[i][j] = primitives.index(name) + 1
    # Built from the same seed: if nothing dead is built, both draw the very same weights.
    with seeded_weights():
        without = build_cell(genotype_of([live], primitives=primitives), C, C)
    with seeded_weights():
        with_dead = build_cell(genotype_of([dead], primitives=primitives), C, C)
    assert n_params(with_dead) == n_params(without)
    assert len(list(with_dead.modules())) == len(list(without.modules()))
    x = images()
    torch.testing.assert_close(with_dead(x), without(x))


def test_unused_motifs_are_not_built() -> None:
    identity_chain = PRESETS["hierarchical"].initial()
    # Motif 2 of level 2 is never named by the cell, whatever its edges.
    busy = identity_chain.with_edge(0, 1, 0, 3, op("sepconv3x3")).with_edge(0, 1, 1, 3, op("conv1x1"))
    with seeded_weights():
        assert n_params(build_cell(busy, C, C)) == n_params(build_cell(identity_chain, C, C))


def test_a_motif_without_an_input_output_path_outputs_zeros() -> None:
    no_path = [[0, op("conv1x1"), 0, 0], [0, 0, 0, 0], [0, 0, 0, op("conv1x1")], [0, 0, 0, 0]]
    with seeded_weights():
        cell = build_cell(genotype_of([no_path]), C, C)
    assert isinstance(cell, ZeroMotif) and n_params(cell) == 0
    x = images()
    assert torch.equal(cell(x), torch.zeros_like(x))


def test_a_zero_motif_on_an_edge_contributes_zeros_of_its_input_width() -> None:
    zero = [[0] * 3 for _ in range(3)]
    through = [[0, 0, op("identity")], [0, 0, 0], [0, 0, 0]]
    # The cell concatenates motif 1 (zeros) and motif 2 (identity) of x0: 2·C channels.
    cell_matrix = [[0, 0, 0], [0, 0, 0], [0, 0, 0]]
    cell_matrix[0][2] = 1
    cell_matrix[0][1], cell_matrix[1][2] = 2, 2
    with seeded_weights():
        cell = build_cell(genotype_of([zero, through], [cell_matrix]), C, C)
    check_trains(cell, images(), C)
    # Edges in program order: 0 → 1 (motif 2), then into node 2: 0 → 2 (motif 1), 1 → 2 (motif 2).
    assert [type(edge) for edge in cell.edges] == [MotifModule, ZeroMotif, MotifModule]
    assert cell.closing[0].in_channels == 2 * C


def test_each_motif_instance_has_its_own_weights() -> None:
    # The identity-chain cell uses level-2 motif 1 on all four of its edges.
    with seeded_weights():
        cell = build_cell(PRESETS["hierarchical"].initial(), C, C)
    instances = list(cell.edges)
    assert len(instances) == 4 and all(isinstance(m, MotifModule) for m in instances)
    ids = [{id(p) for p in m.parameters()} for m in instances]
    for a in range(4):
        for b in range(a + 1, 4):
            assert ids[a].isdisjoint(ids[b])
    with torch.no_grad():
        instances[0].closing[0].weight.add_(1.0)
    assert not torch.equal(instances[0].closing[0].weight, instances[1].closing[0].weight)


def test_the_identity_chain_genotype_is_closing_convolutions_only() -> None:
    for preset, closings in (("hierarchical", 1 + 4), ("flat", 1), ("nb201", 1)):
        with seeded_weights():
            cell = build_cell(PRESETS[preset].initial(), C, C)
        # Each closing 1×1 convolution has C·C weights and batch norm's C scales and C shifts.
        assert n_params(cell) == closings * (C * C + 2 * C), preset
        check_trains(cell, images(), C)


def test_identity_edges_pass_their_input_through_without_a_module() -> None:
    # 0 → 1 identity, 1 → 2 identity, 0 → 2 conv1x1: node 2 = cat(conv1x1(x0), x0).
    matrix = [[0, op("identity"), op("conv1x1")], [0, 0, op("identity")], [0, 0, 0]]
    with seeded_weights():
        cell = build_cell(genotype_of([matrix]), C, C)
    assert cell.program == (((0, False),), ((0, True), (1, False)))
    assert len(cell.edges) == 1 and not any(isinstance(m, nn.Identity) for m in cell.modules())
    x = images()
    with torch.no_grad():
        expected = cell.closing(torch.cat([cell.edges[0](x), x], 1))
        torch.testing.assert_close(cell(x), expected)


def test_equal_seeds_build_equal_cells() -> None:
    genotype = PRESETS["hierarchical"].initial().with_edge(1, 0, 0, 2, 3)
    outputs = []
    for _ in range(2):
        with seeded_weights(5):
            cell = build_cell(genotype, C, C)
        outputs.append(cell(images()))
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda g: build_cell(g, 6, C, "sum"), "merge 'sum'"),
        (lambda g: build_cell(g, C, C, "mean"), "merge: expected"),  # type: ignore[arg-type]
        (lambda g: build_cell(g, 0, C), "channels must be positive"),
    ],
)
def test_bad_arguments_are_refused_clearly(call: Callable[[Genotype], nn.Module], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(PRESETS["flat"].initial())
