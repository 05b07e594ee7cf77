"""Reading and writing genotype files: JSON, or YAML with the same structure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from motifs.data_files import DataFileError, load_json, load_yaml
from motifs.genotype import Genotype
from motifs.size import check_size
from motifs.validation import GenotypeError

YAML_SUFFIXES = (".yaml", ".yml")


def parse_text(text: str, source: str) -> Any:
    """JSON or YAML text → plain data. YAML is a superset of JSON, but JSON is tried first so that
    a JSON syntax error is reported as one. Both are read with bounds (``motifs.data_files``)."""
    try:
        if source.endswith(YAML_SUFFIXES):
            return load_yaml(text)
        try:
            return load_json(text)
        except json.JSONDecodeError as json_error:
            if text.lstrip().startswith(("{", "[")):
                raise GenotypeError(
                    f"{source}: not valid JSON at line {json_error.lineno}, column "
                    f"{json_error.colno}: {json_error.msg}"
                ) from None
        try:
            return load_yaml(text)
        except DataFileError as error:
            if str(error).startswith("not valid YAML"):
                raise GenotypeError(f"{source}: neither valid JSON nor valid YAML") from None
            raise
    except DataFileError as error:
        raise GenotypeError(f"{source}: {error}") from None


def load_genotype(path: str | Path) -> Genotype:
    """Read and validate a genotype file; every error names the file. A genotype that expands
    beyond ``motifs.size.Limits`` is refused here, before anything is built or drawn from it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GenotypeError(f"{path}: no such genotype file") from None
    except IsADirectoryError:
        raise GenotypeError(f"{path}: is a directory, expected a genotype file") from None
    except UnicodeDecodeError:
        raise GenotypeError(f"{path}: not a text file (expected JSON or YAML)") from None
    except OSError as error:
        raise GenotypeError(f"{path}: cannot be read ({error.strerror})") from None
    data = parse_text(text, str(path))
    try:
        genotype = Genotype.from_dict(data)
        check_size(genotype)
        return genotype
    except GenotypeError as error:
        raise GenotypeError(f"{path}: {error}") from None


def genotype_text(genotype: Genotype, *, yaml_format: bool = False) -> str:
    """The file format as text. Matrices stay one row per line in JSON, so files read like the
    matrices they are."""
    data = genotype.to_dict()
    if yaml_format:
        return yaml.safe_dump(data, sort_keys=False, default_flow_style=None)
    levels = ",\n".join(
        '    {"motifs": [\n'
        + ",\n".join(
            "      [\n" + ",\n".join(f"        {json.dumps(row)}" for row in matrix) + "\n      ]"
            for matrix in level["motifs"]
        )
        + "\n    ]}"
        for level in data["levels"]
    )
    return (
        f'{{\n  "format": {json.dumps(data["format"])},\n'
        f'  "primitives": {json.dumps(data["primitives"])},\n'
        f'  "levels": [\n{levels}\n  ]\n}}\n'
    )


def save_genotype(genotype: Genotype, path: str | Path) -> None:
    """Write JSON, or YAML when the name ends in .yaml/.yml."""
    path = Path(path)
    path.write_text(genotype_text(genotype, yaml_format=path.suffix in YAML_SUFFIXES), encoding="utf-8")
