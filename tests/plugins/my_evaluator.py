"""A user's own evaluators, as ``evaluator: {kind: python, target: "plugins.my_evaluator:NAME"}``.

``score`` is pure and instant; ``size_only`` asks for the assembled network; ``broken`` raises on
some genotypes; ``gated`` finishes only when the test allows it, so that a test decides when
evaluations end instead of guessing how fast the machine is.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from motifs.canonical import canonical_key
from motifs.genotype import Genotype


def _accuracy(genotype: Genotype) -> float:
    """A deterministic stand-in for an accuracy in [0, 1): the network's key read as a number."""
    return int(canonical_key(genotype)[:8], 16) / 16**8


def score(genotype: Genotype, context: Any) -> dict[str, Any]:
    return {
        "accuracy": _accuracy(genotype),
        "seed": context.seed,
        "steps": context.steps,
        "offset": context.settings.get("offset"),
    }


def size_only(genotype: Genotype, context: Any, module: Any) -> dict[str, Any]:
    """Minimises the parameter count of the module it is handed."""
    return {"size": sum(p.numel() for p in module.parameters()), "module_type": type(module).__name__}


def broken(genotype: Genotype, context: Any) -> dict[str, Any]:
    if int(canonical_key(genotype)[0], 16) % 2:
        raise RuntimeError(f"this evaluator cannot score {canonical_key(genotype)[:8]}")
    return {"accuracy": _accuracy(genotype)}


def gated(genotype: Genotype, context: Any) -> dict[str, Any]:
    """Waits until the test grants this run's driver a token (a file ``grant-<driver pid>-<n>``,
    taken by deleting it) or creates ``open``. While waiting, ``waiting-<driver pid>-<seed>``
    says an evaluation of that driver is in flight. A worker orphaned by a killed driver has
    another parent, so it can never take the tokens of the next one."""
    gate = Path(context.settings["gate"])
    drivers = {os.getpid(), os.getppid()}  # inline: this process; local: the worker's parent
    for driver in drivers:
        (gate / f"waiting-{driver}-{context.seed}").touch()
    while not (gate / "open").exists():
        for token in gate.glob("grant-*"):
            if int(token.name.split("-")[1]) in drivers:
                try:
                    token.unlink()
                except FileNotFoundError:
                    continue  # another worker took it
                return score(genotype, context)
        time.sleep(0.01)
    return score(genotype, context)
