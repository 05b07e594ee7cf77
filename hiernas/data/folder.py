"""Image-folder data sets: ``train/<class>/*`` and ``test/<class>/*``, as a folder or a ``.tar.gz``.

Classes are the sorted folder names (label k is the k-th name), images within a class are ordered by
file name, so the decoded arrays are the same whichever order the file system or the archive lists
them in. Every image must have the same size; grey images stay one channel unless the set mixes grey
and colour, in which case grey ones are repeated into three.

Decoding is the only per-image cost: a tarball is read once (never extracted to disk), its
members are handed in chunks of ``CHUNK`` to a pool of processes while the archive is still being
read, and each worker returns one stacked uint8 array per chunk. The pool is started only once a
data set is bigger than one chunk, so small trees (and tests) decode inline without process start-up.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import tarfile
import zlib
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from hiernas.data.dataset import Dataset
from hiernas.data.tar import members
from hiernas.errors import InputError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm"})
SPLITS = ("train", "test")
# Large enough that inter-process traffic is a few big messages, small enough to spread 60,000 images
# over 16 workers evenly.
CHUNK = 1000
# Modes that are grey already; everything else (RGB, palette, RGBA, CMYK...) is converted to RGB.
_GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "F"})


@dataclass
class _Entry:
    split: str
    cls: str
    name: str  # path relative to the data set's root, for messages and ordering


@dataclass
class _Collected:
    entries: list[_Entry] = field(default_factory=list)
    class_dirs: set[tuple[str, str]] = field(default_factory=set)
    futures: list[Future[tuple[np.ndarray | None, str]]] = field(default_factory=list)


def load_folder(path: Path, name: str = "folder") -> Dataset:
    """Decode a folder or tarball of ``train/<class>/*`` and ``test/<class>/*`` images."""
    if not path.exists():
        raise InputError(
            f"{path}: no such data set; pass data.path as a folder or .tar.gz of train/<class>/* and "
            "test/<class>/* images"
        )
    decoder = _Decoder()
    try:
        collected = _read_dir(path, decoder) if path.is_dir() else _read_tarball(path, decoder)
        chunks = decoder.finish(collected)
    finally:
        decoder.close()
    return _assemble(path, name, collected, chunks)


def _parts(name: str) -> list[str]:
    # Plain string splitting: pathlib costs more than the tar header parsing for 60,000 members.
    return [p for p in name.split("/") if p not in ("", ".")]


def _split_class(parts: list[str]) -> tuple[str, str, str] | None:
    """(split, class, name) for ``[prefix/]train/<class>/<file>``; at most one top-level prefix
    folder is allowed (an archive of ``cifar10/train/...``)."""
    for k in (0, 1):
        if len(parts) == k + 3 and parts[k] in SPLITS:
            return parts[k], parts[k + 1], "/".join(parts[k:])
    return None


def _is_image(base: str) -> bool:
    dot = base.rfind(".")
    return not base.startswith(".") and dot > 0 and base[dot:].lower() in IMAGE_SUFFIXES


def _read_dir(path: Path, decoder: _Decoder) -> _Collected:
    collected = _Collected()
    roots = [path, *sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))]
    root = next((r for r in roots if all((r / s).is_dir() for s in SPLITS)), None)
    if root is None:
        missing = [s for s in SPLITS if not (path / s).is_dir()]
        raise InputError(
            f"{path}: no {' or '.join(f'{s}/' for s in missing)} folder; an image-folder data set needs "
            "train/<class>/* and test/<class>/* (for the CIFAR-10 python tarball use data.dataset=cifar10)"
        )
    for split in SPLITS:
        for class_dir in sorted(p for p in (root / split).iterdir() if p.is_dir()):
            if class_dir.name.startswith("."):
                continue
            collected.class_dirs.add((split, class_dir.name))
            for file in sorted(class_dir.iterdir()):
                if file.is_file() and _is_image(file.name):
                    entry = _Entry(split, class_dir.name, f"{split}/{class_dir.name}/{file.name}")
                    decoder.add(collected, entry, str(file))
    return collected


def _read_tarball(path: Path, decoder: _Decoder) -> _Collected:
    """Decompress the whole archive into memory, then walk its headers and slice members out.

    Python's streaming tar reader spends more time per member than decoding a 32×32 JPEG takes, and
    it runs in the parent while the workers wait. Inflating in one C call, reading the headers with
    ``hiernas.data.tar`` and slicing payloads out of the buffer by offset is several times faster. The buffer is about the size of the decoded arrays
    (a small JPEG plus its 512-byte header is close to 32×32×3 bytes), so memory stays within what
    decoding needs anyway.
    """
    collected = _Collected()
    try:
        raw = _decompress(path.read_bytes())
        for member in members(raw):
            parts = _parts(member.name)
            if member.is_dir:
                for k in (0, 1):
                    if len(parts) == k + 2 and parts[k] in SPLITS:
                        collected.class_dirs.add((parts[k], parts[k + 1]))
                continue
            found = _split_class(parts)
            if not member.is_file or found is None or not _is_image(parts[-1]):
                continue
            split, cls, name = found
            collected.class_dirs.add((split, cls))
            payload = raw[member.offset : member.offset + member.size]
            decoder.add(collected, _Entry(split, cls, name), payload)
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError, ValueError) as error:
        raise InputError(
            f"{path}: not a readable tarball ({error}); download it again, or pass an extracted folder "
            "of train/<class>/* and test/<class>/* images"
        ) from None
    return collected


def _decompress(data: bytes) -> bytes:
    """gzip, bzip2 or xz by magic number; anything else is taken as a plain tar."""
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:3] == b"BZh":
        return bz2.decompress(data)
    if data[:6] == b"\xfd7zXZ\x00":
        return lzma.decompress(data)
    return data


class _Decoder:
    """Decodes chunks inline until a data set outgrows one chunk, then in a process pool."""

    def __init__(self) -> None:
        self.pending: list[str | bytes] = []
        self.pool: ProcessPoolExecutor | None = None
        self.workers = _worker_count()

    def add(self, collected: _Collected, entry: _Entry, payload: str | bytes) -> None:
        collected.entries.append(entry)
        self.pending.append(payload)
        if len(self.pending) >= CHUNK:
            self._submit(collected)

    def _submit(self, collected: _Collected) -> None:
        chunk, self.pending = self.pending, []
        if self.pool is None and self.workers > 1:
            # spawn, not fork: the parent may already hold torch's thread pools, which fork breaks.
            self.pool = ProcessPoolExecutor(self.workers, mp_context=get_context("spawn"))
        if self.pool is not None:
            collected.futures.append(self.pool.submit(decode_chunk, chunk))
        else:
            done: Future[tuple[np.ndarray | None, str]] = Future()
            done.set_result(decode_chunk(chunk))
            collected.futures.append(done)

    def finish(self, collected: _Collected) -> list[tuple[np.ndarray | None, str]]:
        if self.pending:
            self._submit(collected)
        return [f.result() for f in collected.futures]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


def _worker_count() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 16))


def decode_chunk(payloads: list[str | bytes]) -> tuple[np.ndarray | None, str]:
    """Decode file paths or encoded bytes into one (N, H, W, C) uint8 array.

    Returns ``(array, "")``, or ``(None, "index:reason")`` for the first image that cannot be used;
    errors are returned, not raised, so the parent can name the file.
    """
    from PIL import Image, UnidentifiedImageError

    images: list[np.ndarray] = []
    for i, payload in enumerate(payloads):
        try:
            source = io.BytesIO(payload) if isinstance(payload, bytes) else payload
            with Image.open(source) as image:
                image.load()
                grey = image.mode in _GREY_MODES
                array = np.asarray(image.convert("L" if grey else "RGB"))
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as error:
            return None, f"{i}:not a readable image ({' '.join(str(error).split()) or type(error).__name__})"
        if images and array.shape[:2] != images[0].shape[:2]:
            first = images[0].shape
            return None, (
                f"{i}:is {array.shape[1]}×{array.shape[0]}, other images are {first[1]}×{first[0]} "
                "(every image of a data set must have the same size)"
            )
        images.append(array)
    if any(a.ndim == 3 for a in images):
        images = [a if a.ndim == 3 else np.repeat(a[:, :, None], 3, axis=2) for a in images]
    else:
        images = [a[:, :, None] for a in images]
    return np.stack(images), ""


def _assemble(
    path: Path, name: str, collected: _Collected, chunks: list[tuple[np.ndarray | None, str]]
) -> Dataset:
    classes = tuple(sorted({c for s, c in collected.class_dirs if s == "train"}))
    _check_classes(path, collected, classes)
    arrays: list[np.ndarray] = []
    start = 0
    for array, error in chunks:
        if array is None:
            index, reason = error.split(":", 1)
            bad = collected.entries[start + int(index)].name
            raise InputError(f"{path}: {bad} {reason}; remove or replace it")
        if arrays and array.shape[1:3] != arrays[0].shape[1:3]:
            bad = collected.entries[start].name
            h, w = arrays[0].shape[1:3]
            raise InputError(
                f"{path}: {bad} is {array.shape[2]}×{array.shape[1]}, other images are {w}×{h}; "
                "every image of a data set must have the same size"
            )
        arrays.append(array)
        start += len(array)
    channels = max((a.shape[3] for a in arrays), default=1)
    images = np.concatenate([a if a.shape[3] == channels else np.repeat(a, channels, axis=3) for a in arrays])

    index = {c: k for k, c in enumerate(classes)}
    split_of = np.array([e.split for e in collected.entries])
    labels = np.array([index[e.cls] for e in collected.entries], dtype=np.int64)
    names = np.array([e.name for e in collected.entries])
    parts = {}
    for split in SPLITS:
        rows = np.flatnonzero(split_of == split)
        # Label first, then file name: a fixed order whatever order the entries arrived in.
        rows = rows[np.lexsort((names[rows], labels[rows]))]
        # NHWC (as decoded) -> NCHW (as convolutions want it), one copy.
        parts[split] = (np.ascontiguousarray(images[rows].transpose(0, 3, 1, 2)), labels[rows])
    return Dataset(name, classes, *parts["train"], *parts["test"], flip=True)


def _check_classes(path: Path, collected: _Collected, classes: tuple[str, ...]) -> None:
    counts: dict[tuple[str, str], int] = dict.fromkeys(collected.class_dirs, 0)
    for entry in collected.entries:
        counts[entry.split, entry.cls] += 1
    for split in SPLITS:
        if not any(s == split for s, _ in collected.class_dirs):
            raise InputError(
                f"{path}: no {split}/<class>/ images found; an image-folder data set needs "
                "train/<class>/* and test/<class>/* (for the CIFAR-10 python tarball use data.dataset=cifar10)"
            )
    for (split, cls), count in sorted(counts.items()):
        if count == 0:
            raise InputError(
                f"{path}: class folder {split}/{cls} has no images ({', '.join(sorted(IMAGE_SUFFIXES))}); "
                "add images or remove the folder"
            )
    test_classes = {c for s, c in collected.class_dirs if s == "test"}
    if test_classes != set(classes):
        extra = sorted(test_classes - set(classes))
        missing = sorted(set(classes) - test_classes)
        detail = "; ".join(
            text
            for text in (
                f"test/ has classes not in train/: {', '.join(extra)}" if extra else "",
                f"test/ lacks classes of train/: {', '.join(missing)}" if missing else "",
            )
            if text
        )
        raise InputError(f"{path}: {detail}; train/ and test/ must hold the same class folders")
