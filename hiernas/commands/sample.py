"""``hiernas sample``: one random genotype, made the way the search initialises its population."""

from __future__ import annotations

import random
import sys
from collections.abc import Sequence
from pathlib import Path

from hiernas.config import load_config
from hiernas.errors import InputError
from motifs import sample
from motifs.files import genotype_text, save_genotype


def run_sample(
    source: str, *, seed: int, mutations: int | None, output: Path | None, overrides: Sequence[str] = ()
) -> None:
    config = load_config(source, overrides, prefer_preset=True)
    count = config.space.init_mutations if mutations is None else mutations
    genotype = sample(config.space.to_space(), random.Random(seed), count)
    if output is None:
        sys.stdout.write(genotype_text(genotype))
    else:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(f"{output.parent}: cannot be created ({error.strerror or error})") from None
        save_genotype(genotype, output)
