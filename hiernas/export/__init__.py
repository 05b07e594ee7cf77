"""``hiernas export``: genotypes and networks in formats other tools read.

One module per format family, each checked on the spot by ``checks``:

    sources         the genotypes to export: a run's best (read-only journal snapshot) or one file
    genotypes       json/yaml: genotype files in the DESIGN.md format, with fitness and metrics
    python_source   py: a standalone PyTorch source file that builds the same module
    motif_classes   each motif of the genotype as a class of that file
    standalone_check  the script a fresh interpreter runs to check that source file
    traced          torchscript and onnx: the network in a template, with trained weights or not
    template        which network template, input shape and class count an export uses
    weights         trained weights from ``hiernas train`` (model.pt or checkpoint.pt)
    checks          outputs of an export against the PyTorch module's, within 1e-4
    calibration     batch-norm statistics for untrained networks, so that those checks bite
"""

from __future__ import annotations

from dataclasses import dataclass

from evolution.registry import Registry


@dataclass(frozen=True)
class ExportFormat:
    """What ``--format NAME`` writes: genotype files, or a network (built in a template)."""

    suffix: str
    network: bool


FORMATS: Registry[ExportFormat] = Registry("export format")
FORMATS.register("json")(ExportFormat(".json", network=False))
FORMATS.register("yaml")(ExportFormat(".yaml", network=False))
FORMATS.register("py")(ExportFormat(".py", network=True))
FORMATS.register("torchscript")(ExportFormat(".torchscript.pt", network=True))
FORMATS.register("onnx")(ExportFormat(".onnx", network=True))
