"""``DataConfig`` → ``Dataset``: pick the loader, and decode a source only once per version of it.

Decoded sets are cached (``hiernas.data.cache``). Several worker processes of one search may ask for
the same uncached set at the same moment; a lock file makes one of them decode while the others
wait and then read its cache, instead of every worker decoding 60,000 images at once.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from hiernas.config import DataConfig
from hiernas.data.cache import cache_dir, cache_path, load_cached, save_cached, source_key
from hiernas.data.cifar import download, is_python_format, load_cifar_python
from hiernas.data.dataset import Dataset
from hiernas.data.digits import load_digits
from hiernas.data.folder import load_folder
from hiernas.errors import InputError


def load_dataset(config: DataConfig) -> Dataset:
    """The data set ``config`` names, from the cache when its source has not changed."""
    if config.dataset == "digits":
        if config.path:
            raise InputError(
                "data.path: the digits data set is built in and takes no path "
                "(for an image folder use data.dataset=folder)"
            )
        return load_digits()
    directory = cache_dir(config.cache_dir)
    if config.path:
        source = Path(config.path).expanduser()
        if not source.exists():
            raise InputError(
                f"data.path: {source} does not exist; pass the CIFAR-10 python tarball, its extracted "
                "folder, or a folder/.tar.gz of train/<class>/* and test/<class>/* images"
            )
    else:
        source = download(directory)
    name = config.dataset if config.dataset == "cifar10" else _stem(source)
    target = cache_path(directory, name, source_key(source, config.dataset))
    cached = load_cached(target)
    if cached is not None:
        return cached
    with _exclusive(target.with_suffix(".lock")):
        cached = load_cached(target)  # another process may have decoded it while we waited
        if cached is not None:
            return cached
        if config.dataset == "cifar10" and is_python_format(source):
            dataset = load_cifar_python(source)
        else:
            dataset = load_folder(source, name)
        try:
            save_cached(target, dataset)
        except OSError as error:
            # A read-only or full cache folder costs the next run time, not this one its data.
            print(f"hiernas: warning: cannot cache {name} in {directory}: {error}", file=sys.stderr)
    return dataset


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".tar.gz", ".tgz", ".tar"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


@contextlib.contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """An advisory inter-process lock (POSIX); without fcntl, or in an unwritable folder, no lock."""
    try:
        import fcntl

        lock.parent.mkdir(parents=True, exist_ok=True)
        handle = lock.open("a")
    except (ImportError, OSError):
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
