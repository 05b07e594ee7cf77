"""The NAS-Bench-201 table evaluator (hiernas.evaluators.table)."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest

from evolution.evaluation import EvalContext
from evolution.objectives import ACCURACY
from hiernas.config import CONFIG_DIR, load_config
from hiernas.errors import InputError
from hiernas.evaluators.table import TableError, TableEvaluator
from hiernas.nb201 import NB201Error, arch_to_genotype
from motifs import PRESETS, Genotype, Motif

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"
CHAIN = "|skip_connect~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|"
CONTEXT = EvalContext(seed=0)
HEADER = "index,arch,cifar10-test-12ep,cifar10-val-12ep\n"

# CHAIN's network is NB201's own (hiernas.nb201_network) on CIFAR-10, counted by hand. Its cells hold
# no convolution, so only the stem, the two residual reductions, the last BN and the classifier count:
#   stem 3×3 conv 3→16 + BN              432 + 32        at 32×32: 2·1024·9·3·16  =   884,736 FLOPs
#   reduction 1: 3×3 s2 16→32 + BN       4608 + 64       at 16×16: 2·256·9·16·32  = 2,359,296
#                3×3 32→32 + BN          9216 + 64                 2·256·9·32·32  = 4,718,592
#                shortcut 1×1 16→32      512                       2·256·16·32    =   262,144
#   reduction 2: 3×3 s2 32→64 + BN       18432 + 128     at 8×8:   2·64·9·32·64   = 2,359,296
#                3×3 64→64 + BN          36864 + 128               2·64·9·64·64   = 4,718,592
#                shortcut 1×1 32→64      2048                      2·64·32·64     =   262,144
#   last BN 64, classifier 64→10         128 + 650                 2·64·10        =     1,280
# NB201 publishes 0.073306 M parameters for this network.
CHAIN_PARAMS = 464 + 4672 + 9280 + 512 + 18560 + 36992 + 2048 + 128 + 650
CHAIN_FLOPS = 884_736 + 2 * (2_359_296 + 4_718_592 + 262_144) + 1_280


def _small_table(tmp_path: Path, text: str | None = None) -> Path:
    path = tmp_path / "small.csv"
    path.write_text(text if text is not None else f"{HEADER}0,{CHAIN},50.5,40.25\n1,{BEST},,\n")
    return path


def test_best_row(nb201_table: Path) -> None:
    evaluator = TableEvaluator(nb201_table, "cifar10-val-12ep")
    assert evaluator.objectives == (ACCURACY,)
    result = evaluator(arch_to_genotype(BEST), CONTEXT)
    # The fitness is a fraction; the table's percent stays in the metrics as written.
    assert result.ok and result.fitness == pytest.approx(0.84892)
    assert result.metrics["cifar10-val-12ep"] == pytest.approx(84.892)
    assert result.metrics["index"] == 13714
    assert result.metrics["arch"] == BEST
    assert result.metrics["cifar10-test-12ep"] == pytest.approx(89.03)
    assert set(result.metrics) == {
        "index",
        "arch",
        "cifar10-val-12ep",
        "cifar10-test-12ep",
        "cifar100-val-12ep",
        "cifar100-test-12ep",
        "imagenet16-val-12ep",
        "imagenet16-test-12ep",
        "params",
        "flops",
    }
    assert result.metrics["params"] > CHAIN_PARAMS and result.metrics["flops"] > CHAIN_FLOPS


def test_the_config_builds_a_valid_evaluator(nb201_table: Path) -> None:
    config = load_config(CONFIG_DIR / "nb201.yaml", [f"evaluator.table={nb201_table}"])
    evaluator = TableEvaluator.from_config(config.evaluator)
    evaluator.validate(config.space.to_space())
    assert evaluator(config.space.to_space().initial(), CONTEXT).ok


def test_primitive_order_does_not_matter(nb201_table: Path) -> None:
    evaluator = TableEvaluator(nb201_table, "cifar100-val-12ep")
    reordered = arch_to_genotype(BEST, ("avgpool3x3", "conv3x3", "conv1x1", "identity"))
    assert evaluator(reordered, CONTEXT) == evaluator(arch_to_genotype(BEST), CONTEXT)


def test_pickles_without_its_table(tmp_path: Path) -> None:
    evaluator = TableEvaluator(_small_table(tmp_path), "cifar10-val-12ep")
    before = evaluator(arch_to_genotype(CHAIN), CONTEXT)
    data = pickle.dumps(evaluator)
    assert len(data) < 1000  # the parsed table is not shipped to workers
    copy = pickle.loads(data)
    assert copy(arch_to_genotype(CHAIN), CONTEXT) == before
    assert before.fitness == 0.4025 and before.metrics == {
        "index": 0,
        "arch": CHAIN,
        "cifar10-test-12ep": 50.5,
        "cifar10-val-12ep": 40.25,
        "params": CHAIN_PARAMS,
        "flops": CHAIN_FLOPS,
    }


def test_relative_path_is_fixed_at_construction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _small_table(tmp_path)
    monkeypatch.chdir(tmp_path)
    evaluator = TableEvaluator("small.csv", "cifar10-val-12ep")
    monkeypatch.chdir("/")
    assert evaluator(arch_to_genotype(CHAIN), CONTEXT).ok


def test_unknown_architecture_and_missing_value_fail(tmp_path: Path) -> None:
    evaluator = TableEvaluator(_small_table(tmp_path), "cifar10-val-12ep")
    other = "|nor_conv_1x1~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    missing = evaluator(arch_to_genotype(other), CONTEXT)
    assert missing.status == "failed" and "is not in the table" in missing.error
    assert missing.metrics["arch"] == other
    blank = evaluator(arch_to_genotype(BEST), CONTEXT)
    assert blank.status == "failed" and "no finite 'cifar10-val-12ep' value" in blank.error


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    path = _small_table(tmp_path)
    assert TableEvaluator(path, "cifar10-val-12ep")(arch_to_genotype(CHAIN), CONTEXT).fitness == 0.4025
    path.write_text(f"{HEADER}0,{CHAIN},50.5,41.0\n")
    assert TableEvaluator(path, "cifar10-val-12ep")(arch_to_genotype(CHAIN), CONTEXT).fitness == 0.41


def test_genotype_outside_the_space_raises(tmp_path: Path) -> None:
    evaluator = TableEvaluator(_small_table(tmp_path), "cifar10-val-12ep")
    with pytest.raises(NB201Error, match="3 levels"):
        evaluator(PRESETS["hierarchical"].initial(), CONTEXT)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TableError, match=r"^evaluator\.table: no such file .*nope\.csv$"):
        TableEvaluator(tmp_path / "nope.csv", "cifar10-val-12ep").validate()


def test_unknown_fitness_column_lists_the_columns(tmp_path: Path) -> None:
    evaluator = TableEvaluator(_small_table(tmp_path), "cifar10-valid")
    with pytest.raises(TableError) as raised:
        evaluator.validate()
    message = str(raised.value)
    assert message.startswith("evaluator.fitness: no column 'cifar10-valid'")
    assert "cifar10-test-12ep, cifar10-val-12ep" in message


def test_text_fitness_column_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(TableError, match=r"'arch' .* is not numeric"):
        TableEvaluator(_small_table(tmp_path), "arch").validate()


def test_wrong_space(tmp_path: Path) -> None:
    evaluator = TableEvaluator(_small_table(tmp_path), "cifar10-val-12ep")
    evaluator.validate(PRESETS["nb201"])
    with pytest.raises(InputError, match=r"space: .*one 4-node motif.*11 nodes"):
        evaluator.validate(PRESETS["flat"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("index,name,acc\n0,x,1\n", "no 'arch' column in the header \\(found: index, name, acc\\)"),
        (f"{HEADER}0,{CHAIN},1\n", "line 2 has 3 fields, the header has 4"),
        (f"{HEADER}0,|none~0|,1,2\n", re.escape("line 2: NB201 architecture '|none~0|': expected 3 groups")),
        (f"{HEADER}0,{CHAIN},1,2\n1,{CHAIN},3,4\n", "line 3 repeats the architecture of line 2"),
        (HEADER, "has a header but no rows"),
        ("arch,arch\n", "column 'arch' appears twice"),
    ],
)
def test_malformed_tables(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(TableError, match=message):
        TableEvaluator(_small_table(tmp_path, text), "cifar10-val-12ep").validate()


def test_binary_file_and_directory(tmp_path: Path) -> None:
    binary = tmp_path / "table.csv"
    binary.write_bytes(b"\xff\xfe\x00\x01" * 10)
    with pytest.raises(TableError, match=r"not a text file|not a valid CSV"):
        TableEvaluator(binary, "cifar10-val-12ep").validate()
    with pytest.raises(TableError, match="is a directory"):
        TableEvaluator(tmp_path, "cifar10-val-12ep").validate()


def test_from_config_requires_a_path() -> None:
    class Unset:
        table = None
        fitness = "cifar10-val-12ep"

    with pytest.raises(TableError, match=r"--set evaluator\.table="):
        TableEvaluator.from_config(Unset())  # type: ignore[arg-type]


def test_subset_genotype_is_looked_up(tmp_path: Path) -> None:
    evaluator = TableEvaluator(_small_table(tmp_path), "cifar10-val-12ep")
    genotype = Genotype(("conv3x3", "identity"), ((Motif.chain(4, 2),),))
    assert evaluator(genotype, CONTEXT).fitness == 0.4025
