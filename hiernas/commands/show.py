"""``hiernas show``: draw a genotype file (every motif of every level, and the flattened cell)."""

from __future__ import annotations

from pathlib import Path

from hiernas.drawing import SUFFIXES, draw
from hiernas.errors import InputError
from motifs.files import load_genotype


def run_show(genotype_path: Path, output: Path | None) -> None:
    """Draw ``genotype_path`` to ``output`` (default: beside it, with .svg) and print where."""
    output = genotype_path.with_suffix(".svg") if output is None else output
    # Checked before loading and drawing, so that a typo costs nothing and names what is allowed.
    if output.suffix.lower() not in SUFFIXES:
        raise InputError(
            f"{output}: cannot draw to {output.suffix or 'a name without suffix'}; "
            f"use one of {', '.join(SUFFIXES)}"
        )
    if not output.parent.is_dir():
        raise InputError(f"{output}: cannot be written (no folder {output.parent})")
    genotype = load_genotype(genotype_path)
    try:
        draw(genotype, output)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise InputError(f"{output}: cannot be written ({reason})") from None
    print(output)
