"""Evaluators for engine tests: deterministic fitness and every kind of fault on demand.

They live in an importable module (not a test file) because worker processes and Ray actors
unpickle them by module name.
"""

from __future__ import annotations

import math
import os
import signal
import time
from pathlib import Path

from evolution.evaluation import EvalContext, EvalResult
from motifs import Genotype
from motifs.canonical import canonical_key


def toy_fitness(genotype: Genotype) -> float:
    """Deterministic, smooth enough for selection to matter: live convolutions count, and the key
    breaks ties so that different networks rarely share a fitness."""
    convs = sum(
        1
        for level in genotype.levels[:1]
        for m in level
        for e in m.live_edges()
        if genotype.primitives[e.op - 1].startswith(("conv", "sepconv"))
    )
    return convs + int(canonical_key(genotype)[:6], 16) / 16**6


class ToyEvaluator:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    def __call__(self, genotype: Genotype, context: EvalContext) -> EvalResult:
        if self.delay:
            time.sleep(self.delay)
        return EvalResult.done(toy_fitness(genotype), seed=context.seed, worker=context.worker)


class FaultyEvaluator:
    """Injects the fault named by ``plan[n]`` into the n-th evaluation started in the run (counted
    with files in ``scratch``, so the count is shared by every worker process).

    Faults: raise, nan, oom (torch.cuda.OutOfMemoryError), hang (sleeps past any timeout),
    die (the worker kills itself with SIGKILL), die_once (dies on the first attempt only).
    """

    def __init__(self, scratch: Path, plan: dict[int, str], delay: float = 0.05) -> None:
        self.scratch, self.plan, self.delay = scratch, plan, delay

    def _ticket(self, context: EvalContext) -> tuple[int, bool]:
        """(the run-wide number of this evaluation's first start, whether this is a retry)."""
        mine = self.scratch / f"seed-{context.seed}"
        if mine.exists():
            return int(mine.read_text()), True
        number = 0
        while True:
            try:
                os.close(os.open(self.scratch / f"ticket-{number}", os.O_CREAT | os.O_EXCL))
                break
            except FileExistsError:
                number += 1
        mine.write_text(str(number))
        return number, False

    def __call__(self, genotype: Genotype, context: EvalContext) -> EvalResult:
        number, retry = self._ticket(context)
        fault = self.plan.get(number)
        time.sleep(self.delay)
        if fault == "raise":
            raise ValueError(f"injected failure in evaluation {number}")
        if fault == "nan":
            return EvalResult.done(math.nan)
        if fault == "oom":
            import torch

            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (injected)")
        if fault == "hang":
            time.sleep(3600)
        if fault == "die" or (fault == "die_once" and not retry):
            os.kill(os.getpid(), signal.SIGKILL)
        return EvalResult.done(toy_fitness(genotype))


class SlowStartEvaluator(ToyEvaluator):
    """Takes ``start`` seconds to unpickle, as a worker's first import of a big library does."""

    def __init__(self, start: float) -> None:
        super().__init__()
        self.start = start

    def __setstate__(self, state: dict) -> None:
        time.sleep(state["start"])
        self.__dict__.update(state)


class GatedEvaluator(ToyEvaluator):
    """Holds every evaluation until the file ``open`` exists in ``scratch``, so that a test can act
    while evaluations are known to be in flight. Each attempt leaves ``started-<seed>-<pid>``
    (holding the worker's name) when it begins and ``finished-<seed>-<pid>`` when it returns."""

    def __init__(self, scratch: Path) -> None:
        super().__init__()
        self.scratch = scratch

    def __call__(self, genotype: Genotype, context: EvalContext) -> EvalResult:
        attempt = f"{context.seed}-{os.getpid()}"
        self._leave(f"started-{attempt}", context.worker)
        while not (self.scratch / "open").exists():
            time.sleep(0.02)
        result = super().__call__(genotype, context)
        self._leave(f"finished-{attempt}", context.worker)
        return result

    def _leave(self, name: str, text: str) -> None:
        """Write the file whole under a hidden name, then rename it, so a reader never sees it half written."""
        hidden = self.scratch / f".{name}"
        hidden.write_text(text)
        os.replace(hidden, self.scratch / name)
