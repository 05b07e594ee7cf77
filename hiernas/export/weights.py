"""Trained weights for an export, from what ``hiernas train`` writes (``hiernas.final_training``).

``--weights`` may name the training folder itself (its ``model.pt``, or ``checkpoint.pt`` while the
training is unfinished), the ``model.pt`` state_dict, or a ``checkpoint.pt`` (whose ``model`` entry
holds the weights). Weights that do not belong to the genotype are bad input, found two ways: the
``genotype.json`` that ``hiernas train`` keeps beside them names another architecture (compared by
canonical key, so renumbered but identical networks pass), or the tensors do not fit the network
(names or shapes differ), which also catches a template other than the one trained.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from hiernas.errors import InputError
from hiernas.final_training import CHECKPOINT_FILE, CONFIG_FILE, GENOTYPE_FILE, MODEL_FILE
from motifs.canonical import canonical_key
from motifs.files import load_genotype
from motifs.genotype import Genotype


@dataclass(frozen=True)
class TrainedWeights:
    path: Path
    state: dict[str, Tensor]
    # hiernas train's record of what was trained, when the weights sit in its folder.
    genotype_file: Path | None
    config_file: Path | None

    @property
    def classes(self) -> int | None:
        classifier = self.state.get("classifier.weight")
        return int(classifier.shape[0]) if classifier is not None and classifier.dim() == 2 else None


def read_weights(path: Path) -> TrainedWeights:
    if path.is_dir():
        candidates = [path / MODEL_FILE, path / CHECKPOINT_FILE]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise InputError(
                f"{path}: holds no {MODEL_FILE} or {CHECKPOINT_FILE} (is it a 'hiernas train' folder?)"
            )
        path = found
    elif not path.is_file():
        raise InputError(f"{path}: no such weights file")
    try:
        # weights_only: a weights file is tensors and numbers, never code to run.
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for a file that is not its own
        raise InputError(f"{path}: not a PyTorch weights file ({type(error).__name__})") from None
    if isinstance(data, dict) and isinstance(data.get("model"), dict) and "format" in data:
        data = data["model"]  # a checkpoint: the model's state_dict is one of its entries
    if not isinstance(data, dict) or not data or not all(isinstance(v, Tensor) for v in data.values()):
        raise InputError(f"{path}: not a state_dict or a 'hiernas train' checkpoint")
    beside = path.parent
    return TrainedWeights(
        path,
        {str(k): v for k, v in data.items()},
        beside / GENOTYPE_FILE if (beside / GENOTYPE_FILE).is_file() else None,
        beside / CONFIG_FILE if (beside / CONFIG_FILE).is_file() else None,
    )


def check_genotype(weights: TrainedWeights, genotype: Genotype) -> None:
    """Refuse weights whose training folder records another architecture."""
    if weights.genotype_file is None:
        return
    trained = load_genotype(weights.genotype_file)
    if canonical_key(trained) != canonical_key(genotype):
        raise InputError(
            f"{weights.path}: these weights were trained for another genotype ({weights.genotype_file}); "
            "export that genotype, or give the weights trained for this one"
        )


def load_into(model: nn.Module, weights: TrainedWeights, where: str) -> None:
    """Load the weights into ``model`` after checking that every name and shape fits."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights.state))
    unexpected = sorted(set(weights.state) - set(expected))
    reshaped = sorted(
        k for k in set(expected) & set(weights.state) if expected[k].shape != weights.state[k].shape
    )
    if missing or unexpected or reshaped:
        example = (missing or unexpected or reshaped)[0]
        raise InputError(
            f"{weights.path}: the weights do not fit this genotype in the {where} ({len(missing)} "
            f"tensors missing, {len(unexpected)} unexpected, {len(reshaped)} of another shape, e.g. "
            f"{example}); were they trained for another genotype or template?"
        )
    model.load_state_dict(weights.state)
