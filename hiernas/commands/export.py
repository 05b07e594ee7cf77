"""``hiernas export``: a run's best genotypes, or one genotype file, as files other tools read.

json/yaml write the genotypes (``hiernas.export.genotypes``); py, torchscript and onnx write the
network each genotype builds in a template (``hiernas.export.template``), untrained or with the
weights of ``hiernas train``. Every file is checked against the PyTorch module before it is put in
place (``hiernas.export.checks``); the paths written are printed, one a line.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from hiernas.errors import InputError
from hiernas.export import FORMATS
from hiernas.export.calibration import calibrate_batch_norm
from hiernas.export.checks import CHECK_BATCH, check_python_source, random_images, write_checked
from hiernas.export.genotypes import export_genotypes
from hiernas.export.python_source import python_source
from hiernas.export.sources import Exportable, Source, read_front, read_source
from hiernas.export.template import TEMPLATES, Template, load_export_config, make_template
from hiernas.export.traced import export_onnx, export_torchscript
from hiernas.export.weights import TrainedWeights, check_genotype, load_into, read_weights
from hiernas.nb201 import is_cell
from hiernas.nb201_network import build_nb201_network
from hiernas.network import build_network


def default_output(source: Path) -> Path:
    return Path("exports") / (source.name if source.is_dir() else source.stem)


def run_export(
    source_path: Path,
    *,
    fmt: str,
    top: int = 1,
    weights: Path | None = None,
    output: Path | None = None,
    config: str | None = None,
    template: str | None = None,
    overrides: Sequence[str] = (),
    front: bool = False,
) -> list[Path]:
    """Export and return the paths written (also printed on stdout)."""
    if fmt not in FORMATS:
        raise InputError(f"--format: {FORMATS.unknown(fmt)}")
    if template is not None and template not in TEMPLATES:
        raise InputError(f"--template: unknown template {template!r} (allowed: {', '.join(TEMPLATES)})")
    network_options = {"--weights": weights, "--template": template, "--config": config, "--set": overrides}
    given = [name for name, value in network_options.items() if value]
    if not FORMATS.get(fmt).network and given:
        raise InputError(f"{given[0]} applies to networks (py, torchscript, onnx), not to {fmt} exports")
    if front and top != 1:
        raise InputError("--front exports every member of the run's front; leave out --top")
    source = read_front(source_path) if front else read_source(source_path, top)
    trained = read_weights(weights) if weights is not None else None
    if trained is not None and len(source.entries) > 1:
        raise InputError(f"--weights fit one genotype, but --top {top} exports {len(source.entries)}")
    if not FORMATS.get(fmt).network:
        directory = _prepare(output or default_output(source_path))
        written = export_genotypes(source, directory, fmt)  # type: ignore[arg-type]
    else:
        chosen = _template(source, trained, config, template, overrides)
        if chosen.kind == "nb201" and fmt == "py":
            raise InputError(
                "--format py writes hiernas's templates; export NB201's network as torchscript or onnx,"
                " or choose a template with --template search"
            )
        # Built (and trained weights fitted) before anything is written: bad input leaves no folder.
        models = [_network(entry, chosen, trained) for entry in source.entries]
        directory = _prepare(output or default_output(source_path))
        written = _export_networks(source, models, directory, fmt, trained, chosen)
    if len(source.entries) < top:
        print(f"{source.path}: only {len(source.entries)} finished evaluations to export", file=sys.stderr)
    for path in written:
        print(path)
    return written


def _prepare(directory: Path) -> Path:
    if directory.exists() and not directory.is_dir():
        raise InputError(f"{directory}: exists and is not a directory; give -o a folder")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"{directory}: cannot be created ({error.strerror or error})") from None
    return directory


def _template(
    source: Source,
    trained: TrainedWeights | None,
    config: str | None,
    kind: str | None,
    overrides: Sequence[str],
) -> Template:
    run_config = load_export_config(
        config,
        overrides,
        beside_weights=trained.config_file if trained is not None else None,
        run_config=source.config_file,
    )
    # What hiernas train trains is the evaluation template, so trained weights default to it.
    chosen = kind or ("evaluation" if trained is not None else "search")
    classes = trained.classes if trained is not None else None
    # A bare NB201 genotype, with nothing that names a template: NB201's own network, as describe.
    bare = kind is None and trained is None and config is None and source.config_file is None
    nb201 = bare and all(is_cell(entry.genotype) for entry in source.entries)
    return make_template(run_config, chosen, classes=classes, nb201=nb201)  # type: ignore[arg-type]


def _export_networks(
    source: Source,
    models: list[nn.Module],
    directory: Path,
    fmt: str,
    trained: TrainedWeights | None,
    template: Template,
) -> list[Path]:
    written = []
    for entry, model in zip(source.entries, models, strict=True):
        path = directory / f"{entry.name}{FORMATS.get(fmt).suffix}"
        if fmt == "py":
            difference = _export_python(entry, model, template, trained, path)
        elif fmt == "torchscript":
            difference = export_torchscript(model, template.image_shape, path)
        else:
            difference = export_onnx(model, template.image_shape, path)
        print(
            f"{path.name}: {template.describe()}, {'trained weights' if trained else 'untrained'}; "
            f"outputs match the PyTorch module's to {difference:.2g}",
            file=sys.stderr,
        )
        written.append(path)
    return written


def _network(entry: Exportable, template: Template, trained: TrainedWeights | None) -> nn.Module:
    if trained is not None:
        check_genotype(trained, entry.genotype)
    # Default initialisers draw from the global RNG: seeded inside a fork, which restores it after.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(template.seed)
        if template.kind == "nb201":
            model = build_nb201_network(entry.genotype, template.image_shape[0], template.classes)
        else:
            model = build_network(entry.genotype, template.network, template.image_shape[0], template.classes)
    if trained is not None:
        load_into(model, trained, f"{template.kind} template")
    else:
        calibrate_batch_norm(model, template.image_shape)
    return model.eval()


def _export_python(
    entry: Exportable, model: nn.Module, template: Template, trained: TrainedWeights | None, path: Path
) -> float:
    about = [f"Genotype {entry.name}, canonical key {entry.key}."]
    if entry.fitness is not None:
        about.append(f"Rank {entry.rank} of its run, fitness {entry.fitness:.6g}.")
    if trained is not None:
        about.append(f"Trained weights: {trained.path}.")
    text = python_source(
        entry.genotype,
        template.network,
        template.image_shape[0],
        template.classes,
        title=f"{entry.name}: a network found by hiernas, written out as plain PyTorch.",
        about=about,
    )
    images = random_images(template.image_shape, CHECK_BATCH)
    return write_checked(
        path,
        lambda temporary: temporary.write_text(text, encoding="utf-8"),
        lambda temporary: check_python_source(temporary, model, images, f"{path}: py"),
    )
