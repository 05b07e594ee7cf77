"""``hiernas export`` through the real CLI: every format for the paper's hierarchical space, the
flat space and an NB201 cell; a real run directory's top K; weights from a real (tiny) ``hiernas
train``; the generated source imported by a fresh interpreter that cannot import hiernas; bad input.

Networks are small (C0 = 4, N = 1, two stages on 8×8 one-channel images) and genotypes lightly
mutated, because the ONNX exporter's time grows with the number of layers.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import random
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

from evolution.journal import FILENAME as JOURNAL_FILE
from evolution.journal import Journal
from hiernas.cli import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK, main
from hiernas.commands.group import cli
from hiernas.config import NetworkConfig, load_config
from hiernas.export import FORMATS, checks
from hiernas.export.motif_classes import PRIMITIVES
from hiernas.export.python_source import python_source
from hiernas.nb201 import arch_to_genotype
from hiernas.network import build_network, evaluation_network
from hiernas.training import THREADS_ENV
from motifs import PRESETS, Genotype, Motif, sample
from motifs.files import load_genotype, save_genotype
from motifs.operations import OPERATIONS
from tests.engine_helpers import run_table_search, synthetic_nb201_table

SMALL = NetworkConfig(channels=4, cells_per_stage=1, stages=2)
SMALL_CONFIG = (
    "network: {channels: 4, cells_per_stage: 1, stages: 2}\n"
    "evaluation_template: {channels: 4, cells_per_stage: 1}\n"
    "data: {dataset: digits}\n"
)
IMAGE = (1, 8, 8)
NB201_ARCH = "|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_1x1~0|none~1|nor_conv_3x3~2|"

# Run by a fresh ``python -I -B``: hiernas, motifs and evolution cannot be imported there, so the
# generated file must build the network with torch alone. Loads weights strictly, writes logits.
CHILD = """
import importlib.abc, importlib.util, sys, torch

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("hiernas", "motifs", "evolution"):
            raise ModuleNotFoundError(name)

sys.meta_path.insert(0, Block())
source, weights, images, out = sys.argv[1:]
spec = importlib.util.spec_from_file_location("net", source)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
model = module.Network()
model.load_state_dict(torch.load(weights, weights_only=True), strict=True)
model.eval()
with torch.no_grad():
    logits = model(torch.load(images, weights_only=True))
torch.save({"logits": logits, "parameters": sum(p.numel() for p in model.parameters()),
            "keys": sorted(model.state_dict())}, out)
"""


pytestmark = pytest.mark.usefixtures("one_torch_thread")


GENOTYPES: dict[str, Genotype] = {
    "hierarchical": sample(PRESETS["hierarchical"], random.Random(3), 40),
    "flat": sample(PRESETS["flat"], random.Random(3), 25),
    "nb201": arch_to_genotype(NB201_ARCH),
}


@pytest.fixture
def small_config(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_CONFIG)
    return path


def _save(genotype: Genotype, path: Path) -> Path:
    save_genotype(genotype, path)
    return path


def _export(*args: object) -> int:
    return main(["export", *map(str, args)])


def _network(genotype: Genotype, network: NetworkConfig = SMALL, seed: int = 0) -> nn.Module:
    """The hiernas network with weights and batch-norm statistics drawn from a seeded generator
    (fresh batch norms are an identity in eval mode, which would hide a wrong export)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_network(genotype, network, IMAGE[0], 10)
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.normal_(0, 0.2, generator=generator)
            module.running_var.uniform_(0.5, 2.0, generator=generator)
            module.weight.data.uniform_(0.5, 1.5, generator=generator)
            module.bias.data.normal_(0, 0.2, generator=generator)
    return model.eval()


def _images(batch: int, seed: int = 99) -> torch.Tensor:
    return torch.randn((batch, *IMAGE), generator=torch.Generator().manual_seed(seed))


def _run_standalone(source: Path, weights: Path, images: torch.Tensor, tmp_path: Path) -> dict:
    child, image_file, out = tmp_path / "child.py", tmp_path / "images.pt", tmp_path / "child-out.pt"
    child.write_text(CHILD)
    torch.save(images, image_file)
    result = subprocess.run(
        [sys.executable, "-I", "-B", str(child), str(source), str(weights), str(image_file), str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return torch.load(out, weights_only=True)


def _jit_load(path: Path) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is what is tested here
        return torch.jit.load(str(path))


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hiernas: error:"), captured.err
    assert captured.out == ""
    return lines[0]


# json / yaml ---------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", GENOTYPES)
@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_genotype_file_exports_in_the_design_format(preset: str, fmt: str, tmp_path: Path) -> None:
    genotype = GENOTYPES[preset]
    source = _save(genotype, tmp_path / f"{preset}.json")
    out = tmp_path / "out"
    assert _export(source, "--format", fmt, "-o", out) == EXIT_OK
    written = out / f"{preset}.{fmt}"
    assert sorted(p.name for p in out.iterdir()) == [written.name]
    data = (json.loads if fmt == "json" else yaml.safe_load)(written.read_text())
    assert data == genotype.to_dict() and load_genotype(written) == genotype


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real evolution run on a synthetic NB201 table (inline executor, 30 evaluations)."""
    base = tmp_path_factory.mktemp("run")
    table = synthetic_nb201_table(base / "table.csv")
    run = base / "run"
    run_table_search(run, table, budget=30)
    return run


def _fingerprint(directory: Path) -> dict[str, str]:
    """The run's files; SQLite's own -wal/-shm companions, which any reader of a WAL database may
    create, are left out."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if not p.name.endswith(("-wal", "-shm"))
    }


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_top_k_of_a_run_with_fitness_and_metrics(fmt: str, run_dir: Path, tmp_path: Path) -> None:
    before = _fingerprint(run_dir)
    out = tmp_path / "out"
    assert _export(run_dir, "--top", 3, "--format", fmt, "-o", out) == EXIT_OK
    assert _fingerprint(run_dir) == before  # a read-only snapshot: the run is not touched
    journal = Journal.open(run_dir / JOURNAL_FILE, read_only=True)
    try:
        expected = journal.top(3)
    finally:
        journal.close()
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"rank{r}.{fmt}" for r in (1, 2, 3)] + [f"ranking.{fmt}"]
    )
    ranking = (json.loads if fmt == "json" else yaml.safe_load)((out / f"ranking.{fmt}").read_text())
    assert ranking["format"] == "hiernas-ranking/1"
    assert [g["rank"] for g in ranking["genotypes"]] == [1, 2, 3]
    for entry, result in zip(ranking["genotypes"], expected, strict=True):
        assert entry["fitness"] == result.fitness and entry["metrics"] == result.metrics
        assert entry["key"] == result.key and entry["genotype"] == result.genotype
        assert load_genotype(out / entry["file"]).to_dict() == result.genotype
    fitness = [g["fitness"] for g in ranking["genotypes"]]
    assert fitness == sorted(fitness, reverse=True)


def test_top_k_beyond_the_finished_exports_what_there_is(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert _export(run_dir, "--top", 1000, "--format", "json", "-o", out) == EXIT_OK
    journal = Journal.open(run_dir / JOURNAL_FILE, read_only=True)
    try:
        finished = len(journal.top(1000))
    finally:
        journal.close()
    assert len(list(out.glob("rank[0-9]*.json"))) == finished
    assert f"only {finished} finished evaluations" in capsys.readouterr().err


def test_top_k_of_a_run_as_networks(run_dir: Path, tmp_path: Path, small_config: Path) -> None:
    out = tmp_path / "out"
    args = ["--top", 2, "--format", "torchscript", "--config", small_config, "-o", out]
    assert _export(run_dir, *args) == EXIT_OK
    assert sorted(p.name for p in out.iterdir()) == ["rank1.torchscript.pt", "rank2.torchscript.pt"]


# py --------------------------------------------------------------------------------------------


def _ruff() -> str | None:
    beside = Path(sys.executable).with_name("ruff")
    return str(beside) if beside.exists() else shutil.which("ruff")


@pytest.mark.slow  # two fresh interpreters: the exporter's own check and this test's
@pytest.mark.parametrize("preset", GENOTYPES)
def test_py_is_standalone_and_builds_the_same_module(preset: str, tmp_path: Path, small_config: Path) -> None:
    genotype = GENOTYPES[preset]
    source = _save(genotype, tmp_path / f"{preset}.json")
    model = _network(genotype)
    weights = tmp_path / "weights.pt"
    torch.save(model.state_dict(), weights)
    out = tmp_path / "out"
    args = ["--format", "py", "--config", small_config, "--template", "search", "--weights", weights]
    assert _export(source, *args, "-o", out) == EXIT_OK
    generated = out / f"{preset}.py"
    assert sorted(p.name for p in out.iterdir()) == [generated.name]  # no __pycache__, no temporary

    text = generated.read_text()
    assert "hiernas" not in "".join(line for line in text.splitlines() if line.startswith(("import", "from")))
    assert "class Cell(nn.Module):" in text and "class Network(nn.Module):" in text
    assert ("class Level2Motif" in text) == (preset == "hierarchical")

    images = _images(5)
    child = _run_standalone(generated, weights, images, tmp_path)
    with torch.no_grad():
        expected = model(images)
    assert child["parameters"] == sum(p.numel() for p in model.parameters())
    assert child["keys"] == sorted(model.state_dict())
    assert (child["logits"] - expected).abs().max().item() <= 1e-5

    ruff = _ruff()
    if ruff is not None:  # reads like hand-written code: lint-clean and already formatted
        for command in (["check", "--isolated"], ["format", "--isolated", "--check"]):
            result = subprocess.run([ruff, *command, str(generated)], capture_output=True, text=True)
            assert result.returncode == 0, result.stdout + result.stderr


def _import(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(f"generated_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _with_dead_motifs() -> Genotype:
    """Motif 2 has no input → output path (it outputs zeros) and the cell uses it; motif 1 too."""
    base = sample(PRESETS["hierarchical"], random.Random(5), 60)
    level2 = list(base.levels[0])
    level2[1] = Motif(((0, 1, 0, 0), (0, 0, 0, 0), (0, 0, 0, 5), (0, 0, 0, 0)))
    cell = Motif(((0, 2, 1, 0, 0), (0, 0, 0, 0, 2), (0, 0, 0, 3, 0), (0, 0, 0, 0, 1), (0, 0, 0, 0, 0)))
    return Genotype(base.primitives, (tuple(level2), (cell,)))


@pytest.mark.parametrize(
    ("name", "genotype", "merge"),
    [
        ("sum", GENOTYPES["hierarchical"], "sum"),
        ("flat_sum", GENOTYPES["flat"], "sum"),
        ("dead_motifs", _with_dead_motifs(), "concat"),
        ("zero_cell", Genotype(PRESETS["flat"].primitives, ((Motif.chain(11, 0),),)), "concat"),
        ("initial", PRESETS["hierarchical"].initial(), "concat"),
    ],
)
def test_py_source_for_every_shape_of_cell(name: str, genotype: Genotype, merge: str, tmp_path: Path) -> None:
    # In-process (tests may import generated code): sum merges, motifs and cells that output zeros,
    # identity chains whose nodes are all passed through.
    network = NetworkConfig(channels=4, stages=2, merge=merge)  # type: ignore[arg-type]
    path = tmp_path / f"{name}.py"
    path.write_text(python_source(genotype, network, IMAGE[0], 10, title="Test."))
    model = _network(genotype, network)
    generated = _import(path).Network()  # type: ignore[attr-defined]
    generated.load_state_dict(model.state_dict(), strict=True)
    generated.eval()
    images = _images(3)
    with torch.no_grad():
        assert torch.equal(generated(images), model(images))
    assert sum(p.numel() for p in generated.parameters()) == sum(p.numel() for p in model.parameters())


def test_every_registered_primitive_has_source(tmp_path: Path) -> None:
    assert set(PRIMITIVES) == set(OPERATIONS)
    # Each primitive alone on the one edge of a 2-node cell: the same layers, the same outputs.
    for name in OPERATIONS:
        genotype = Genotype((name,), ((Motif(((0, 1), (0, 0))),),))
        path = tmp_path / f"only_{name}.py"
        path.write_text(python_source(genotype, SMALL, IMAGE[0], 10, title=name))
        assert (f"def {name}(" in path.read_text()) == (name != "identity")
        model = _network(genotype)
        generated = _import(path).Network()  # type: ignore[attr-defined]
        generated.load_state_dict(model.state_dict(), strict=True)
        generated.eval()
        with torch.no_grad():
            assert torch.equal(generated(_images(2)), model(_images(2))), name


# torchscript / onnx ----------------------------------------------------------------------------


@pytest.mark.parametrize("preset", GENOTYPES)
@pytest.mark.parametrize("fmt", ["torchscript", pytest.param("onnx", marks=pytest.mark.slow)])
def test_traced_exports_match_the_module(preset: str, fmt: str, tmp_path: Path, small_config: Path) -> None:
    genotype = GENOTYPES[preset]
    source = _save(genotype, tmp_path / f"{preset}.json")
    model = _network(genotype, seed=1)
    weights = tmp_path / "weights.pt"
    torch.save(model.state_dict(), weights)
    out = tmp_path / "out"
    args = ["--format", fmt, "--config", small_config, "--template", "search", "--weights", weights]
    assert _export(source, *args, "-o", out) == EXIT_OK
    images = _images(5)  # neither the export's example batch nor its check batch
    with torch.no_grad():
        expected = model(images)
    if fmt == "torchscript":
        (written,) = out.iterdir()
        assert written.name == f"{preset}.torchscript.pt"
        with torch.no_grad():
            actual = _jit_load(written)(images)
    else:
        onnx = pytest.importorskip("onnx")
        onnxruntime = pytest.importorskip("onnxruntime")
        (written,) = out.iterdir()
        assert written.name == f"{preset}.onnx"
        graph = onnx.load(str(written))
        assert max(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")) >= 17
        session = onnxruntime.InferenceSession(str(written), providers=["CPUExecutionProvider"])
        actual = torch.from_numpy(session.run(None, {"images": images.numpy()})[0])
    assert (actual - expected).abs().max().item() <= 1e-4


def test_untrained_export_depends_on_its_input(tmp_path: Path, small_config: Path) -> None:
    # Untrained networks get batch-norm statistics from random images, so the on-the-spot check
    # compares logits that vary with the input (fresh statistics would make them all the bias).
    source = _save(GENOTYPES["hierarchical"], tmp_path / "g.json")
    out = tmp_path / "out"
    assert _export(source, "--format", "torchscript", "--config", small_config, "-o", out) == EXIT_OK
    with torch.no_grad():
        logits = _jit_load(out / "g.torchscript.pt")(_images(4))
    assert logits.std(0).mean().item() > 1e-2


# weights from hiernas train ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(genotype file, output folder) of a real two-step ``hiernas train`` on the digits."""
    base = tmp_path_factory.mktemp("trained")
    genotype = _save(GENOTYPES["hierarchical"], base / "g.json")
    out = base / "train"
    overrides = [
        "evaluation_template.channels=4",
        "evaluation_template.cells_per_stage=1",
        "final.steps=2",
        "final.batch_size=32",
        "network.stages=2",
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(THREADS_ENV, "1")
        args = ["train", str(genotype), "paper", "-o", str(out)]
        assert main([*args, *(a for o in overrides for a in ("--set", o))]) == EXIT_OK
    assert (out / "model.pt").is_file()
    return genotype, out


def _trained_network(out: Path) -> nn.Module:
    config = load_config(str(out / "config.yaml"))
    genotype = load_genotype(out / "genotype.json")
    model = build_network(genotype, evaluation_network(config), IMAGE[0], 10)
    model.load_state_dict(torch.load(out / "model.pt", weights_only=True))
    return model.eval()


def test_weights_from_a_train_folder(trained: tuple[Path, Path], tmp_path: Path) -> None:
    genotype, folder = trained
    out = tmp_path / "out"
    # The template and data shape come from the config.yaml that train wrote beside the weights.
    assert _export(genotype, "--format", "torchscript", "--weights", folder, "-o", out) == EXIT_OK
    images = _images(4)
    with torch.no_grad():
        expected = _trained_network(folder)(images)
        actual = _jit_load(out / "g.torchscript.pt")(images)
    assert (actual - expected).abs().max().item() <= 1e-4


def test_trained_model_file_loads_into_the_generated_source(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    genotype, folder = trained
    out = tmp_path / "out"
    assert _export(genotype, "--format", "py", "--weights", folder / "model.pt", "-o", out) == EXIT_OK
    images = _images(4)
    # Network() defaults to the template trained, and model.pt loads into it as it is.
    child = _run_standalone(out / "g.py", folder / "model.pt", images, tmp_path)
    with torch.no_grad():
        expected = _trained_network(folder)(images)
    assert (child["logits"] - expected).abs().max().item() <= 1e-5


def test_weights_from_an_unfinished_training_checkpoint(trained: tuple[Path, Path], tmp_path: Path) -> None:
    genotype, folder = trained
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    for name in ("genotype.json", "config.yaml"):
        shutil.copy(folder / name, unfinished / name)
    state = torch.load(folder / "model.pt", weights_only=True)
    torch.save({"format": 1, "step": 1, "model": state}, unfinished / "checkpoint.pt")
    out = tmp_path / "out"
    assert _export(genotype, "--format", "torchscript", "--weights", unfinished, "-o", out) == EXIT_OK
    images = _images(4)
    with torch.no_grad():
        expected = _trained_network(folder)(images)
        actual = _jit_load(out / "g.torchscript.pt")(images)
    assert (actual - expected).abs().max().item() <= 1e-4


def test_weights_of_another_genotype_are_refused(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, folder = trained
    other = _save(GENOTYPES["nb201"], tmp_path / "other.json")
    out = tmp_path / "out"
    # The train folder records its genotype.
    assert _export(other, "--format", "py", "--weights", folder, "-o", out) == EXIT_BAD_INPUT
    assert "trained for another genotype" in _one_error_line(capsys)
    # A bare state_dict does not fit the other network's layers.
    bare = tmp_path / "bare.pt"
    shutil.copy(folder / "model.pt", bare)
    assert _export(other, "--format", "onnx", "--weights", bare, "-o", out) == EXIT_BAD_INPUT
    assert "do not fit" in _one_error_line(capsys)
    # Nor does the right genotype in the other template (evaluation weights, search template).
    same = _save(load_genotype(folder / "genotype.json"), tmp_path / "same.json")
    args = ["--format", "torchscript", "--weights", bare, "--template", "search"]
    assert _export(same, *args, "--set", "network.channels=8", "-o", out) == EXIT_BAD_INPUT
    assert "do not fit" in _one_error_line(capsys)
    assert not out.exists() or not any(out.iterdir())


# bad input and failed checks --------------------------------------------------------------------


def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], run_dir: Path
) -> None:
    genotype = _save(GENOTYPES["nb201"], tmp_path / "g.json")
    not_weights = tmp_path / "notes.txt"
    not_weights.write_text("not weights")
    empty_run = tmp_path / "empty-run"
    empty_run.mkdir()
    Journal.create(empty_run / JOURNAL_FILE).close()
    out = tmp_path / "out"
    cases = [
        ([tmp_path / "missing.json", "--format", "json"], "no such run directory or genotype file"),
        ([genotype, "--format", "json", "--top", 0], "--top"),
        ([genotype, "--format", "xml"], "--format"),
        ([genotype, "--format", "json", "--top", 3], "one genotype file"),
        ([genotype, "--format", "json", "--weights", not_weights], "--weights"),
        ([genotype, "--format", "yaml", "--config", "paper"], "--config applies to networks"),
        ([genotype, "--format", "py", "--weights", tmp_path / "missing.pt"], "no such weights file"),
        ([genotype, "--format", "py", "--weights", not_weights], "not a PyTorch weights file"),
        ([genotype, "--format", "py", "--weights", tmp_path], "holds no model.pt"),
        ([run_dir, "--format", "py", "--top", 2, "--weights", not_weights], "not a PyTorch weights file"),
        ([empty_run, "--format", "json"], "no finished evaluation"),
        ([tmp_path, "--format", "json"], "not a hiernas run"),
        ([genotype, "--format", "py", "--config", tmp_path / "nope.yaml"], "nope.yaml"),
    ]
    for args, fragment in cases:
        assert _export(*args, "-o", out) == EXIT_BAD_INPUT, args
        assert fragment in _one_error_line(capsys), args
    assert not out.exists() or not any(out.iterdir())


def test_top_k_with_one_set_of_weights_is_refused(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = tmp_path / "w.pt"
    torch.save(_network(GENOTYPES["nb201"]).state_dict(), weights)
    assert _export(run_dir, "--format", "py", "--top", 2, "--weights", weights) == EXIT_BAD_INPUT
    assert "fit one genotype" in _one_error_line(capsys)


@pytest.mark.parametrize("fmt", ["py", "torchscript"])
def test_a_failed_check_exits_1_and_leaves_no_file(
    fmt: str,
    tmp_path: Path,
    small_config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(checks, "TOLERANCE", -1.0)  # nothing can pass
    source = _save(GENOTYPES["nb201"], tmp_path / "g.json")
    out = tmp_path / "out"
    assert _export(source, "--format", fmt, "--config", small_config, "-o", out) == EXIT_INTERNAL
    assert "differ from the PyTorch module's" in capsys.readouterr().err
    assert list(out.iterdir()) == []


def test_cli_formats_are_the_exporters() -> None:
    (option,) = [p for p in cli.commands["export"].params if p.name == "fmt"]
    assert tuple(option.type.choices) == FORMATS.names()  # type: ignore[attr-defined]
