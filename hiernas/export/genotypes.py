"""json/yaml: genotypes as files in the DESIGN.md format, with their fitness and metrics.

Each genotype gets its own file (``rank1.json``... for a run, ``<name>.json`` for a genotype file),
strictly in the ``hiernas-genotype/1`` format so that every command reads it back (``describe``,
``show``, ``train``, ``export``): that format admits no other keys, so the fitness, metrics,
canonical key and proposal of a run's genotypes go into one ranking file beside them
(``ranking.json``, format ``hiernas-ranking/1``), which repeats each genotype so it stands alone.

Each genotype file is read back through the validating loader and compared with what was meant.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml

from hiernas.export.checks import ExportCheckError
from hiernas.export.sources import Source
from hiernas.run_dir import write_atomically
from motifs.files import genotype_text, load_genotype

RANKING_FORMAT = "hiernas-ranking/1"
RANKING_NAME = "ranking"


def export_genotypes(source: Source, directory: Path, fmt: Literal["json", "yaml"]) -> list[Path]:
    """Write the genotype files (and, for a run, the ranking); returns the paths written."""
    written = []
    for entry in source.entries:
        path = directory / f"{entry.name}.{fmt}"
        write_atomically(path, genotype_text(entry.genotype, yaml_format=fmt == "yaml"))
        if load_genotype(path) != entry.genotype:
            path.unlink(missing_ok=True)
            raise ExportCheckError(f"{path}: reads back as another genotype; the file was removed")
        written.append(path)
    if source.is_run:
        path = directory / f"{RANKING_NAME}.{fmt}"
        ranking = _ranking(source, fmt)
        text = (
            json.dumps(ranking, indent=2) + "\n"
            if fmt == "json"
            else yaml.safe_dump(ranking, sort_keys=False, default_flow_style=None)
        )
        write_atomically(path, text)
        written.append(path)
    return written


def _ranking(source: Source, fmt: str) -> dict[str, Any]:
    return {
        "format": RANKING_FORMAT,
        "run": str(source.path),
        "genotypes": [
            {
                "rank": entry.rank,
                "file": f"{entry.name}.{fmt}",
                "fitness": entry.fitness,
                "metrics": entry.metrics,
                "key": entry.key,
                "proposal": entry.proposal,
                "genotype": entry.genotype.to_dict(),
            }
            for entry in source.entries
        ],
    }
