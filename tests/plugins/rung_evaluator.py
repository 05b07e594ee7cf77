"""A user's evaluator that honours successive halving (``search.fidelity``), for the engine's tests.

``stepped`` "trains" to ``context.steps``: its accuracy is a deterministic function of the network
and the steps (more steps, higher accuracy, approaching the network's own ceiling), so a run's
promotions are known in advance. It checks what the driver hands over: a checkpoint to continue
from must be this network's and be at fewer steps, or the evaluation fails; the checkpoint reached is
written to ``save_to`` atomically (a temporary file, then a rename). The checkpoint is JSON. The
metrics record the paths and the steps continued from, so a test reads what the driver handed over.

``lossy_stepped`` records a training loss that ranks networks in the reverse order of their accuracy
(the fittest has the highest loss), so a run with ``search.fidelity.rank_by: loss`` promotes other
candidates than one ranking by fitness.

``gated_stepped`` first waits for a token of the test (``my_evaluator.gated``), so that a test decides
when each evaluation ends.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from motifs.canonical import canonical_key
from motifs.genotype import Genotype
from tests.plugins.my_evaluator import _accuracy, gated


def stepped(genotype: Genotype, context: Any) -> dict[str, Any]:
    key = canonical_key(genotype)
    resumed = 0
    if context.resume_from is not None:
        checkpoint = json.loads(Path(context.resume_from).read_text())
        if checkpoint["key"] != key or checkpoint["steps"] >= context.steps:
            raise RuntimeError(f"checkpoint {context.resume_from} is not a start for {key[:8]}")
        resumed = checkpoint["steps"]
    if context.save_to is not None:
        temporary = Path(f"{context.save_to}.tmp")
        temporary.write_text(json.dumps({"key": key, "steps": context.steps}))
        os.replace(temporary, context.save_to)
    return {
        "accuracy": _accuracy(genotype) * context.steps / (context.steps + 10),
        "steps": context.steps,
        "resumed_from_steps": resumed,
        "resume_from": context.resume_from,
        "save_to": context.save_to,
        "loss_curve": [[context.steps, 10 / (context.steps + 10)]],  # a list, as the train evaluator's
    }


stepped.supports_fidelity = True  # type: ignore[attr-defined]


def lossy_stepped(genotype: Genotype, context: Any) -> dict[str, Any]:
    result = stepped(genotype, context)
    loss = _accuracy(genotype) * 10 / (context.steps + 10)
    return {**result, "loss_curve": [[context.steps, loss]]}


lossy_stepped.supports_fidelity = True  # type: ignore[attr-defined]


def gated_stepped(genotype: Genotype, context: Any) -> dict[str, Any]:
    gated(genotype, context)
    return stepped(genotype, context)


gated_stepped.supports_fidelity = True  # type: ignore[attr-defined]


def unaware(genotype: Genotype, context: Any) -> dict[str, Any]:
    """An evaluator written before successive halving: it does not declare support."""
    return {"accuracy": _accuracy(genotype)}
