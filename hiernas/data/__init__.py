"""Data sets for hiernas: loading (``hiernas.data.load``), caching, the validation split, and
device-side batches (``hiernas.data.device``).

The package's top level imports numpy only: the decoding pool's worker processes import it, and
``hiernas.config`` (needed by ``load``) pulls in torch through ``motifs``.
"""

from hiernas.data.dataset import Dataset
from hiernas.data.split import Split, split_train_validation

__all__ = ["Dataset", "Split", "split_train_validation"]
