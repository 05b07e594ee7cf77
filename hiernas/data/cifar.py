"""CIFAR-10 in its original python format (``cifar-10-python.tar.gz``), downloaded or given.

The archive holds ``cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}``: pickled
dicts whose ``data`` is a (10000, 3072) uint8 array already in channel-major order, so the images
are one reshape away from (N, 3, 32, 32). The pickles are read with an unpickler that only admits
the numpy types the format needs, so a tampered archive cannot run code.

Without ``data.path`` the archive is downloaded from the authors' site into the cache folder and its
MD5 checked (a truncated or altered download is deleted and refused). An image-folder copy such as
``../shared/data/cifar10-jpeg.tar.gz`` is recognised and handed to the folder loader.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from hiernas.data.dataset import Dataset
from hiernas.errors import InputError

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
TRAIN_BATCHES = tuple(f"data_batch_{k}" for k in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_BATCH_FILES = frozenset((*TRAIN_BATCHES, TEST_BATCH, META))


def is_python_format(path: Path) -> bool:
    """Whether ``path`` (an archive or a folder) holds the python batches rather than image files."""
    if path.is_dir():
        return any((d / "data_batch_1").is_file() for d in (path, path / "cifar-10-batches-py"))
    try:
        with tarfile.open(path, mode="r|*") as archive:
            for member in archive:
                if member.isfile():
                    # The first file decides: the official archive starts with its batches/readme.
                    base = Path(member.name).name
                    return base in _BATCH_FILES or base == "readme.html"
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise InputError(
            f"{path}: not a readable tarball ({error}); download it again, or pass the extracted folder"
        ) from None
    return False


def load_cifar_python(path: Path) -> Dataset:
    """Read the batches from the official archive or its extracted folder."""
    batches = _read_folder(path) if path.is_dir() else _read_archive(path)
    missing = sorted(_BATCH_FILES - {META} - set(batches))
    if missing:
        raise InputError(
            f"{path}: CIFAR-10 batches missing ({', '.join(missing)}); the archive is incomplete, "
            f"download {ARCHIVE_NAME} again"
        )
    train = [_images_labels(path, name, batches[name]) for name in TRAIN_BATCHES]
    test_x, test_y = _images_labels(path, TEST_BATCH, batches[TEST_BATCH])
    classes = CLASSES
    if META in batches:
        names = batches[META].get(b"label_names") or batches[META].get("label_names")
        if names:
            classes = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
    return Dataset(
        name="cifar10",
        classes=classes,
        train_x=np.concatenate([x for x, _ in train]),
        train_y=np.concatenate([y for _, y in train]),
        test_x=test_x,
        test_y=test_y,
        flip=True,
    )


def download(directory: Path) -> Path:
    """The official archive in ``directory``, downloaded and MD5-checked if not there already."""
    target = directory / ARCHIVE_NAME
    if target.is_file():
        if _md5(target) == MD5:
            return target
        target.unlink()  # a corrupt earlier download: fetch it again rather than fail forever
    directory.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{ARCHIVE_NAME}-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(URL, timeout=60) as response:
            while block := response.read(1 << 20):
                out.write(block)
        digest = _md5(Path(temp))
        if digest != MD5:
            raise InputError(
                f"{URL}: downloaded file has MD5 {digest}, expected {MD5}; try again, or download "
                f"{ARCHIVE_NAME} yourself and pass --set data.path=FILE"
            )
        os.replace(temp, target)
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", None) or error
        raise InputError(
            f"cannot download CIFAR-10 from {URL} ({reason}); without network access, copy "
            f"{ARCHIVE_NAME} (or an image-folder copy) here and pass --set data.path=FILE"
        ) from None
    finally:
        Path(temp).unlink(missing_ok=True)
    return target


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Admits only what CIFAR's pickles contain: dicts, lists, bytes and numpy arrays."""

    _ALLOWED = frozenset(
        {
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"),
            # Protocol-2 pickles written by Python 3 spell bytes as _codecs.encode(str, "latin1").
            ("_codecs", "encode"),
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _unpickle(data: bytes, where: str) -> dict[Any, Any]:
    try:
        value = _NumpyOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise InputError(
            f"{where}: not a CIFAR-10 python batch ({error}); download the archive again"
        ) from None
    if not isinstance(value, dict):
        raise InputError(f"{where}: not a CIFAR-10 python batch; download the archive again")
    return value


def _read_archive(path: Path) -> dict[str, dict[Any, Any]]:
    batches: dict[str, dict[Any, Any]] = {}
    try:
        with tarfile.open(path, mode="r|*") as archive:
            for member in archive:
                base = Path(member.name).name
                if member.isfile() and base in _BATCH_FILES:
                    handle = archive.extractfile(member)
                    if handle is not None:
                        batches[base] = _unpickle(handle.read(), f"{path}:{member.name}")
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise InputError(f"{path}: not a readable tarball ({error}); download {ARCHIVE_NAME} again") from None
    return batches


def _read_folder(path: Path) -> dict[str, dict[Any, Any]]:
    folder = path / "cifar-10-batches-py" if (path / "cifar-10-batches-py").is_dir() else path
    batches = {}
    for name in _BATCH_FILES:
        file = folder / name
        if file.is_file():
            batches[name] = _unpickle(file.read_bytes(), str(file))
    return batches


def _images_labels(path: Path, name: str, batch: dict[Any, Any]) -> tuple[np.ndarray, np.ndarray]:
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise InputError(f"{path}: {name} holds no (N, 3072) uint8 image array; download the archive again")
    if labels is None or len(labels) != len(data):
        raise InputError(f"{path}: {name} has {len(data)} images but not as many labels")
    y = np.asarray(labels, dtype=np.int64)
    if y.min(initial=0) < 0 or y.max(initial=0) >= len(CLASSES):
        raise InputError(f"{path}: {name} has labels outside 0..9")
    # Rows are 1024 red, 1024 green, 1024 blue values, each row-major: exactly (3, 32, 32).
    return np.ascontiguousarray(data.reshape(-1, 3, 32, 32)), y
