"""Decoded data sets cached as uncompressed uint8 ``.npz`` files, keyed by their source.

Decoding 60,000 JPEGs takes seconds; reading the same pixels back from an uncompressed ``.npz`` is a
single sequential read (~180 MB for CIFAR-10, well under a second from a warm page cache). zlib
compression would halve the file but cost more time to inflate than the read it saves.

The key is the source's resolved path with its size and modification time (for a folder: every
file's relative path, size and mtime), so editing or replacing the source invalidates the entry
without hashing hundreds of megabytes on every start.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from hiernas.data.dataset import Dataset

# Bumped whenever the decoded layout changes, so old cache files are never misread.
CACHE_FORMAT = 1


def cache_dir(configured: str | None = None) -> Path:
    """The configured folder, else ``$HIERNAS_CACHE``, else ``~/.cache/hiernas``."""
    if configured:
        return Path(configured).expanduser()
    env = os.environ.get("HIERNAS_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "hiernas"


def source_key(path: Path, kind: str) -> str:
    """A short hex key for ``path`` as a ``kind`` source; it changes when the source changes."""
    path = path.resolve()
    digest = hashlib.sha256(f"{CACHE_FORMAT}\0{kind}\0{path}".encode())
    if path.is_dir():
        # Sorted walk so the key does not depend on the file system's listing order.
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = Path(root, name)
                stat = full.stat()
                rel = full.relative_to(path).as_posix()
                digest.update(f"\0{rel}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    else:
        stat = path.stat()
        digest.update(f"\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:20]


def cache_path(directory: Path, name: str, key: str) -> Path:
    return directory / f"{name}-{key}.npz"


def load_cached(path: Path) -> Dataset | None:
    """The cached data set, or None when absent or unreadable (it is then rebuilt and replaced)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            return Dataset(
                name=str(f["name"]),
                classes=tuple(str(c) for c in f["classes"]),
                train_x=f["train_x"],
                train_y=f["train_y"].astype(np.int64),
                test_x=f["test_x"],
                test_y=f["test_y"].astype(np.int64),
                flip=bool(f["flip"]),
            )
    except (OSError, KeyError, ValueError, EOFError):
        return None


def save_cached(path: Path, dataset: Dataset) -> None:
    """Write atomically (temporary file, then rename) so a killed run never leaves half a cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(
                f,
                name=np.array(dataset.name),
                classes=np.array(dataset.classes),
                train_x=dataset.train_x,
                train_y=dataset.train_y,
                test_x=dataset.test_x,
                test_y=dataset.test_y,
                flip=np.array(dataset.flip),
            )
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
