"""One writer per run directory: an OS lock on ``DIR/lock``, held while ``hiernas evolve`` runs (and
on a ``hiernas fidelity`` output folder while it trains).

Two writers on one journal would both ask the strategy, both train, and tell it twice. The lock is
``flock`` on the lock file, taken without waiting: a second writer refuses at once, naming the
holder that the file records (host, pid, since when). Only the kernel's lock counts, never the
file's content: when the holder dies (killed, or the machine rebooted) the kernel drops the lock, and
the file left behind is just a note that the next writer overwrites. Readers (status, report,
export) never take the lock.

Shared filesystems: on NFSv4 (and NFSv3 with lockd) Linux turns ``flock`` into an NFS byte-range
lock, which every client sees. Where the filesystem has no locking (NFS mounted ``nolock``, some FUSE
mounts) ``flock`` either fails, and hiernas refuses to write there unless ``HIERNAS_NO_RUN_LOCK=1``
says the user takes care of running one writer, or succeeds locally only, which hiernas cannot
detect: the README's threat model says so.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType

from hiernas.errors import InputError

LOCK_FILE = "lock"
UNLOCKED_ENV = "HIERNAS_NO_RUN_LOCK"


class RunLock:
    """The writer's lock on a run directory; release it (or leave the ``with``) when done."""

    def __init__(
        self, run_dir: Path, writer: str = "hiernas evolve", option: str = "--run-dir", holds: str = "run"
    ) -> None:
        """``writer``, ``option`` and ``holds``: the command that writes the directory, its option
        naming another one, and what the directory holds, for the refusal's line."""
        self.path = run_dir / LOCK_FILE
        self.writer, self.option, self.holds = writer, option, holds
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as error:
            raise InputError(f"{self.path}: cannot create the run's lock file ({error.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            holder = _holder(fd)
            os.close(fd)
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise InputError(
                    f"{self.path.parent}: another {self.writer} is writing this {self.holds} ({holder}); "
                    f"wait for it to end or stop it, or use another {self.option}"
                ) from None
            if os.environ.get(UNLOCKED_ENV) == "1":
                return self
            raise InputError(
                f"{self.path.parent}: cannot lock the run directory ({error.strerror}); this filesystem "
                f"has no working locks. Run on one that has, or set {UNLOCKED_ENV}=1 if you make sure "
                f"that only one {self.writer} writes this {self.holds}"
            ) from None
        note = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(note) + "\n").encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Drop the lock. The file stays: deleting it would let a third writer lock a new file
        while a second one waits on the old."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.release()


def _holder(fd: int) -> str:
    """Who holds the lock, as its file says ("unknown holder" while it is still writing it)."""
    try:
        note = json.loads(os.pread(fd, 4096, 0).decode() or "null")
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(note["since"])))
        host = "".join(c for c in str(note["host"]) if c.isprintable())[:100]
        return f"host {host}, pid {int(note['pid'])}, since {since}"
    except (OSError, ValueError, TypeError, KeyError, UnicodeDecodeError):
        return "unknown holder"
