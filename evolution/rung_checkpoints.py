"""Where successive halving keeps the checkpoints that promotions continue, and when they go.

``FOLDER/<proposal>-<steps>.pt``, written by the evaluator (atomically) when the driver hands it
``save_to``. The driver hands a checkpoint over as ``resume_from`` only for a rung whose result is
recorded done, so a half-written file is never used. A checkpoint is deleted once nothing can
promote it any more: when its promotion's result is recorded, when its own rung failed, and all of
them at the end of the run. A resume first sweeps the folder of everything else (leftovers of a
session killed between recording a result and deleting, evaluators' temporary files).
"""

from __future__ import annotations

from pathlib import Path

from evolution.successive_halving import Fidelity, Halving


class RungCheckpoints:
    def __init__(self, folder: Path, fidelity: Fidelity) -> None:
        self.folder, self.fidelity = folder, fidelity

    def path(self, proposal_id: int, rung: int) -> Path:
        return self.folder / f"{proposal_id}-{self.fidelity.rungs[rung]}.pt"

    def resume_from(self, proposal_id: int, rung: int) -> Path | None:
        """The checkpoint an evaluation at ``rung`` continues, or None (rung 0, or it is gone: a
        promotion then trains from scratch)."""
        if rung == 0:
            return None
        path = self.path(proposal_id, rung - 1)
        return path if path.is_file() else None

    def save_to(self, proposal_id: int, rung: int) -> Path | None:
        """Where an evaluation at ``rung`` writes its checkpoint; None at the top rung."""
        return self.path(proposal_id, rung) if rung < self.fidelity.top else None

    def release(self, proposal_id: int, rung: int, ok: bool) -> None:
        """A result at ``rung`` is recorded: the checkpoint it continued can promote nothing any
        more, nor can this rung's own when the evaluation failed."""
        if rung > 0:
            self.path(proposal_id, rung - 1).unlink(missing_ok=True)
        if not ok and rung < self.fidelity.top:
            self.path(proposal_id, rung).unlink(missing_ok=True)

    def sweep(self, halving: Halving | None) -> None:
        """Delete every file in the folder but the checkpoints a promotion may still continue
        (done at a rung below the top, promotion not yet finished); all of them without ``halving``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        keep: set[Path] = set()
        if halving is not None:
            for rung in range(self.fidelity.top):
                finished_above = halving.results[rung + 1].keys() | halving.failed[rung + 1]
                keep.update(self.path(p, rung) for p in halving.results[rung] if p not in finished_above)
        for path in self.folder.iterdir():
            if path not in keep and path.is_file():
                path.unlink(missing_ok=True)
