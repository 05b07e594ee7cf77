"""Run by a fresh interpreter to check a generated network source file on its own.

    python -I standalone_check.py NETWORK.py WORK_DIR

It imports NETWORK.py with the hiernas packages made unimportable (the file must need only torch),
builds ``Network()``, loads ``WORK_DIR/state.pt`` into it strictly (the state_dict keys must be the
hiernas network's), runs ``WORK_DIR/images.pt`` through it in eval mode and writes the logits and
the parameter count to ``WORK_DIR/outputs.pt`` for the exporting process to compare.

This file imports nothing of hiernas itself, so that it can be run by path like this.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from pathlib import Path

BLOCKED = ("hiernas", "motifs", "evolution")


class _Blocker(importlib.abc.MetaPathFinder):
    """Refuses the hiernas packages, so that an import of them in the file fails here."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"the generated file imports {name}, but must need only torch")


def main(source: Path, work: Path) -> None:
    import torch

    sys.meta_path.insert(0, _Blocker())
    spec = importlib.util.spec_from_file_location("exported_network", source)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{source}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.Network()
    model.load_state_dict(torch.load(work / "state.pt", weights_only=True), strict=True)
    model.eval()
    with torch.no_grad():
        logits = model(torch.load(work / "images.pt", weights_only=True))
    parameters = sum(p.numel() for p in model.parameters())
    torch.save({"logits": logits, "parameters": parameters}, work / "outputs.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
