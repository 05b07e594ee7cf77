"""A plug-in evaluator that fails the first evaluation of every network and scores it on the next.

For testing ``search.retry_failed``: a failure that is not the network's fault (a timeout, a CUDA
out-of-memory while other workers share the GPU) must not condemn the network for the whole run.

The evaluator is a plain function ``(genotype, context) -> {"accuracy": x}``, the shape of a
``python`` plug-in evaluator. It remembers which networks it has seen with one marker file per
canonical key in the directory named by the environment variable ``FAIL_FIRST_MARKERS`` (created
with O_EXCL, so the count is shared by every worker process and survives a resume). The accuracy is
a deterministic fraction in [0.5, 1): more live convolutions score higher.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from motifs import Genotype
from motifs.canonical import canonical_key
from tests.evaluators import toy_fitness

MARKERS = "FAIL_FIRST_MARKERS"


def fail_first_call(genotype: Genotype, context: Any) -> dict[str, float]:
    """Raise on the first call for this network (in the whole run); its accuracy on later calls."""
    markers = Path(os.environ[MARKERS])
    try:
        os.close(os.open(markers / canonical_key(genotype), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return {"accuracy": 1 - 1 / (2 + toy_fitness(genotype))}
    raise RuntimeError("injected: the first evaluation of every network fails")
