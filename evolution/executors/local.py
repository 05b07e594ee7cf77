"""The local executor: evaluations run in spawned worker processes on this machine.

Each worker is pinned to one GPU (several workers may share one: ``workers_per_gpu``), or runs on
the CPU when there is none. A worker that dies (killed, segfault, out of host memory) is replaced
and its evaluation handed back to the driver as lost, to be run again; one that outlives the
per-evaluation timeout is killed and its evaluation recorded as failed.

Spawned, not forked: a forked child inherits the parent's CUDA and OpenMP state, which is unsafe.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess

from evolution.evaluation import EvalResult, Evaluator
from evolution.executors.base import Completion, Task, run_task

# A worker that dies this many times in a row before finishing anything points at a broken
# setup (an evaluator that cannot be unpickled, a missing library), not at one bad genotype.
MAX_FAILED_STARTS = 3


class ExecutorError(RuntimeError):
    """The executor cannot run evaluations at all."""


def visible_gpus() -> list[str]:
    """The GPUs this process may use, as CUDA_VISIBLE_DEVICES entries."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [entry.strip() for entry in listed.split(",") if entry.strip() and entry.strip() != "-1"]
    import torch  # counts devices through NVML without creating a CUDA context in the driver

    return [str(i) for i in range(torch.cuda.device_count())]


# What one worker process needs at least: a Python interpreter with torch and a small network.
WORKER_MEMORY = 512 * 1024 * 1024


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, which containers and schedulers narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def available_memory() -> int | None:
    """Bytes of memory available to new processes (MemAvailable), or None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def worker_limit(gpus: list[str], workers_per_gpu: int) -> tuple[int, str]:
    """How many local workers this machine holds, and why: on GPUs, ``workers_per_gpu`` per GPU;
    on the CPU, one per usable core; and never more than the available memory holds at
    ``WORKER_MEMORY`` each."""
    if gpus:
        limit, reason = len(gpus) * workers_per_gpu, f"{len(gpus)} GPU(s) x workers_per_gpu {workers_per_gpu}"
    else:
        limit, reason = usable_cores(), f"{usable_cores()} usable CPU core(s) and no GPU"
    memory = available_memory()
    if memory is not None and memory // WORKER_MEMORY < limit:
        limit = max(1, memory // WORKER_MEMORY)
        reason = f"{memory / 2**30:.1f} GiB of available memory at {WORKER_MEMORY // 2**20} MiB per worker"
    return limit, reason


def _die_with_driver(driver_pid: int) -> None:
    """On Linux, have the kernel kill this worker when the driver dies: a search killed with
    SIGKILL must not leave orphans training on its GPUs."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != driver_pid:  # the driver died before the line above took effect
        os._exit(1)


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """Start a worker without Ctrl-C tearing its start-up in half.

    Ctrl-C sends SIGINT to the whole process group. A worker still starting (its interpreter
    importing ``site``, reading its start-up data from the driver's pipe) would die of it with a
    KeyboardInterrupt traceback, or of an EOFError when the driver was interrupted half-way through
    writing that data. So the worker is started with SIGINT ignored, a disposition that survives
    exec (Python then leaves it ignored); the driver's own SIGINT stays blocked meanwhile (Linux
    queues a blocked signal even while it is ignored), is noted once the worker has its data, and
    then raised as usual. Only a SIGINT handed to another thread of the driver during the start
    itself (milliseconds) is lost.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread, and so does Ctrl-C
        return
    previous = signal.getsignal(signal.SIGINT)
    caught: list[int] = []

    def note(signum: int, frame: object) -> None:
        caught.append(signum)

    signal.signal(signal.SIGINT, note)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, note)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a held SIGINT arrives now, and is noted
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
    if caught and callable(previous):
        previous(signal.SIGINT, None)


def _worker_main(
    connection: Connection, evaluator: Evaluator, name: str, gpu: str | None, threads: int, driver_pid: int
) -> None:
    _die_with_driver(driver_pid)
    # Pinning happens before anything touches CUDA: torch reads this at CUDA initialisation.
    os.environ["CUDA_VISIBLE_DEVICES"] = gpu if gpu is not None else ""
    # Ctrl-C is the driver's to handle: it stops the workers itself and keeps the journal consistent.
    # (The worker started with SIGINT ignored already: ``_interrupts_held``.)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import torch

    # Workers share the machine's cores: without this each would start one thread per core.
    torch.set_num_threads(threads)
    device = "cuda" if gpu is not None else "cpu"
    while True:
        try:
            task = connection.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        started = time.time()
        try:
            # Tells the driver when the evaluation's timeout clock starts: a fresh worker takes
            # seconds to start (a process, torch imported, the evaluator unpickled), no part of it.
            connection.send(("started", started))
            result = run_task(evaluator, task, device, name)
            connection.send(("result", task.evaluation_id, result.to_dict(), started, time.time()))
        except (BrokenPipeError, OSError):
            return  # the driver has gone: nobody is left to take the result


@dataclass
class _Worker:
    name: str
    gpu: str | None
    process: BaseProcess
    connection: Connection
    task: Task | None = None
    started: float = 0.0
    # When the worker began its task (its own "started" message); None until it has said so.
    running_since: float | None = None
    finished_any: bool = field(default=False)


class LocalExecutor:
    def __init__(
        self,
        evaluator: Evaluator,
        *,
        workers: int = 1,
        workers_per_gpu: int = 1,
        timeout: float | None = None,
        gpus: list[str] | None = None,
    ) -> None:
        self.evaluator, self.timeout = evaluator, timeout
        self.capacity = workers
        self._gpus = visible_gpus() if gpus is None else gpus
        self._workers_per_gpu = workers_per_gpu
        self._threads = max(1, (os.cpu_count() or 1) // workers) if not self._gpus else 2
        self._context = mp.get_context("spawn")
        self._failed_starts = 0
        self._workers = [self._spawn(i) for i in range(workers)]

    def _spawn(self, index: int) -> _Worker:
        gpu = self._gpus[(index // self._workers_per_gpu) % len(self._gpus)] if self._gpus else None
        name = f"worker-{index}" + (f"@gpu{gpu}" if gpu is not None else "@cpu")
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_worker_main,
            args=(child, self.evaluator, name, gpu, self._threads, os.getpid()),
            name=f"hiernas-{name}",
            daemon=True,
        )
        with _interrupts_held():
            process.start()
        child.close()
        return _Worker(name, gpu, process, parent)

    def submit(self, task: Task) -> str:
        worker = next((w for w in self._workers if w.task is None), None)
        if worker is None:
            raise ExecutorError("submit() with every worker busy")
        worker.task, worker.started, worker.running_since = task, time.time(), None
        # A dead worker cannot take the task; wait() then sees its sentinel and reports it lost.
        with contextlib.suppress(BrokenPipeError, OSError):
            worker.connection.send(task)
        return worker.name

    def wait(self, timeout: float | None = None) -> list[Completion]:
        deadline = None if timeout is None else time.time() + timeout
        busy = [w for w in self._workers if w.task is not None]
        expiries = [e for e in map(self._expiry, busy) if e is not None]
        if expiries:
            deadline = min(expiries) if deadline is None else min(deadline, *expiries)
        waits = [w.connection for w in busy] + [w.process.sentinel for w in self._workers]
        ready = set(wait(waits, None if deadline is None else max(0.0, deadline - time.time())))
        done: list[Completion] = []
        for index, worker in enumerate(self._workers):
            if worker.task is not None and worker.connection in ready:
                completion = self._receive(worker)
                if completion is not None:
                    done.append(completion)
                    continue
            if worker.process.sentinel in ready or not worker.process.is_alive():
                done.extend(self._replace(index, lost=True))
            elif (expiry := self._expiry(worker)) is not None and time.time() > expiry:
                done.extend(self._replace(index, lost=False))
        return done

    def _expiry(self, worker: _Worker) -> float | None:
        """When the worker's evaluation times out, counted from when the worker began it."""
        if self.timeout is None or worker.task is None or worker.running_since is None:
            return None
        return worker.running_since + self.timeout

    def _receive(self, worker: _Worker) -> Completion | None:
        """The worker's result, if it has sent one; its "started" message is noted on the way."""
        try:
            while worker.connection.poll():
                message = worker.connection.recv()
                if message[0] == "started":
                    worker.running_since = message[1]
                    continue
                _, evaluation_id, result, started, ended = message
                break
            else:
                return None
        except (EOFError, OSError):
            return None  # died while sending: the sentinel path reports it
        worker.task, worker.finished_any = None, True
        self._failed_starts = 0
        return Completion(evaluation_id, EvalResult.from_dict(result), worker.name, started, ended)

    def _replace(self, index: int, *, lost: bool) -> list[Completion]:
        """Stop worker ``index`` (dead, or past the timeout), start a fresh one, and report its task."""
        worker = self._workers[index]
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(5)
        worker.connection.close()
        code = worker.process.exitcode
        if not worker.finished_any and lost:
            self._failed_starts += 1
            if self._failed_starts >= MAX_FAILED_STARTS:
                raise ExecutorError(
                    f"worker processes keep dying before finishing any evaluation "
                    f"(last exit code {code}); run with executor.kind=inline to see why"
                )
        self._workers[index] = self._spawn(index)
        if worker.task is None:
            return []
        now = time.time()
        if lost:
            reason = f"worker process died ({_exit_reason(code)}) during the evaluation"
        else:
            reason = f"timeout: the evaluation ran longer than {self.timeout:g} s and its worker was stopped"
        return [
            Completion(
                worker.task.evaluation_id,
                EvalResult.failed(reason),
                worker.name,
                worker.started,
                now,
                lost=lost,
            )
        ]

    def close(self) -> None:
        for worker in self._workers:
            with contextlib.suppress(BrokenPipeError, OSError):
                worker.connection.send(None)
        end = time.time() + 2
        for worker in self._workers:
            worker.process.join(max(0.0, end - time.time()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(5)
            worker.connection.close()


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "exit code unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
