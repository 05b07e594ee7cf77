"""The Ray executor: evaluations run in Ray actors, on one machine or a whole cluster.

It joins an existing cluster (``address``, else the ``RAY_ADDRESS`` environment variable) or starts
a local instance. Each actor holds one evaluator and asks for a fraction 1/``workers_per_gpu`` of a
GPU when the cluster has GPUs, so several small networks share a device; Ray pins each actor with
CUDA_VISIBLE_DEVICES. Actors are spread over the cluster's nodes (round robin, soft node affinity), and each
names its node in the worker it reports, so the journal says where every attempt ran. An actor that
dies (its node lost, its process killed) is replaced, on another node when there is one, and its
evaluation handed back to the driver as lost, to be run again; one that outlives the timeout is
killed and its evaluation recorded as failed.

Install with ``pip install 'hiernas[ray]'``.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from typing import Any

from evolution.evaluation import EvalResult, Evaluator
from evolution.executors.base import Completion, Task, run_task
from evolution.executors.local import ExecutorError


class _EvaluationActor:
    """Runs in its own Ray worker process; the evaluator loads its data there once."""

    def __init__(self, evaluator: Evaluator, name: str, uses_gpu: bool) -> None:
        import ray

        # Two nodes of a cluster can share a host and an IP (and pids repeat across hosts); the
        # node id alone tells them apart.
        node = ray.get_runtime_context().get_node_id()
        self.node = node
        self.evaluator = evaluator
        self.name = f"{name} node={node[:12]} ip={ray.util.get_node_ip_address()} pid={os.getpid()}"
        self.device = "cuda" if uses_gpu else "cpu"

    def run(self, task: Task) -> tuple[int, dict[str, Any], float, float, str]:
        started = time.time()
        result = run_task(self.evaluator, task, self.device, self.name)
        return task.evaluation_id, result.to_dict(), started, time.time(), self.name

    def pid(self) -> int:
        return os.getpid()

    def where(self) -> tuple[str, str]:
        """The worker name with the node and process this actor landed on, and the node's id."""
        return self.name, self.node


@dataclass
class _Slot:
    name: str
    actor: Any
    # The node the actor runs on once it has started; until then the node it was aimed at.
    node: str | None = None
    # Resolves, to the name with its node and the node id, once the actor has started (its process
    # up, the evaluator unpickled).
    ready_ref: Any = None
    ready_at: float | None = None
    task: Task | None = None
    ref: Any = None
    started: float = 0.0


class RayExecutor:
    def __init__(
        self,
        evaluator: Evaluator,
        *,
        workers: int = 1,
        workers_per_gpu: int = 1,
        timeout: float | None = None,
        address: str | None = None,
    ) -> None:
        try:
            import ray
        except ImportError:
            raise ExecutorError("executor.kind=ray needs Ray: pip install 'hiernas[ray]'") from None
        self._ray = ray
        self.capacity, self.timeout = workers, timeout
        self._started_ray = not ray.is_initialized()
        if self._started_ray:
            address = address or os.environ.get("RAY_ADDRESS") or None
            # log_to_driver off: the evaluators' output would interleave with the progress display.
            ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        gpus = ray.cluster_resources().get("GPU", 0)
        self._gpu_share = 1.0 / workers_per_gpu if gpus else 0.0
        self._actor_class = ray.remote(num_cpus=1, num_gpus=self._gpu_share, max_restarts=0)(_EvaluationActor)
        self._evaluator = ray.put(evaluator)
        self._spawned = 0
        self._slots = [self._new_slot() for _ in range(workers)]

    def _new_slot(self, avoid: str | None = None) -> _Slot:
        name = f"ray-actor-{self._spawned}" + ("@gpu" if self._gpu_share else "@cpu")
        node = self._next_node(avoid)
        self._spawned += 1
        actor_class = self._actor_class
        if node is not None:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            actor_class = actor_class.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=True)
            )
        actor = actor_class.remote(self._evaluator, name, bool(self._gpu_share))
        return _Slot(name, actor, node, ready_ref=actor.where.remote())

    def _next_node(self, avoid: str | None = None) -> str | None:
        """Round robin over the alive nodes that have a CPU: actors spread one per node before any
        node gets a second, so one node's loss costs the fewest evaluations (Ray's SPREAD is best
        effort, and put both actors of a two-node run on one node). Soft affinity: a node that died
        or is infeasible hands the actor to any other.

        ``avoid`` is the node of a lost actor, skipped unless it is the only one: a lost node stays
        listed alive until the head has missed its health checks, and an actor aimed at it meanwhile
        dies with it, taking the evaluation's second attempt too (seen in the two-node test)."""
        nodes = sorted(
            node["NodeID"]
            for node in self._ray.nodes()
            if node.get("Alive") and node.get("Resources", {}).get("CPU", 0) >= 1
        )
        nodes = [n for n in nodes if n != avoid] or nodes
        return nodes[self._spawned % len(nodes)] if nodes else None

    def _note_started_actors(self, slots: list[_Slot]) -> None:
        starting = [s for s in slots if s.ready_at is None]
        if starting:
            ready, _ = self._ray.wait([s.ready_ref for s in starting], num_returns=len(starting), timeout=0)
            ready_ids, now = {id(ref) for ref in ready}, time.time()
            for slot in starting:
                if id(slot.ready_ref) in ready_ids:
                    slot.ready_at = now
                    # One that died while starting keeps its plain name; its evaluation comes back lost.
                    with contextlib.suppress(self._ray.exceptions.RayError):
                        slot.name, slot.node = self._ray.get(slot.ready_ref)

    def _expiry(self, slot: _Slot) -> float | None:
        """When the slot's evaluation times out. The clock starts when both the task was submitted
        and the actor had started: a replacement actor can take many seconds to start (a process,
        imports, the evaluator unpickled) and that is no part of the evaluation."""
        if self.timeout is None or slot.ready_at is None:
            return None
        return max(slot.started, slot.ready_at) + self.timeout

    def submit(self, task: Task) -> str:
        slot = next((s for s in self._slots if s.task is None), None)
        if slot is None:
            raise ExecutorError("submit() with every actor busy")
        slot.task, slot.started, slot.ref = task, time.time(), slot.actor.run.remote(task)
        return slot.name

    def wait(self, timeout: float | None = None) -> list[Completion]:
        busy = [s for s in self._slots if s.task is not None]
        if not busy:
            return []
        self._note_started_actors(busy)
        limit = timeout
        expiries = [e for e in map(self._expiry, busy) if e is not None]
        if expiries:
            until_expiry = max(0.0, min(expiries) - time.time())
            limit = until_expiry if limit is None else min(limit, until_expiry)
        # An actor that finishes starting wakes this wait too, so that its evaluation's clock starts.
        starting = [s.ready_ref for s in busy if s.ready_at is None]
        ready, _ = self._ray.wait([s.ref for s in busy] + starting, num_returns=1, timeout=limit)
        self._note_started_actors(busy)
        ready_ids = {id(ref) for ref in ready}
        done: list[Completion] = []
        for index, slot in enumerate(self._slots):
            if slot.task is None:
                continue
            if id(slot.ref) in ready_ids:
                done.append(self._collect(index))
            elif (expiry := self._expiry(slot)) is not None and time.time() > expiry:
                done.append(
                    self._replace(
                        index,
                        EvalResult.failed(
                            f"timeout: the evaluation ran longer than {self.timeout:g} s and its actor was stopped"
                        ),
                        lost=False,
                    )
                )
        return done

    def _collect(self, index: int) -> Completion:
        slot = self._slots[index]
        try:
            evaluation_id, result, started, ended, slot.name = self._ray.get(slot.ref)
        except self._ray.exceptions.RayError as error:
            # The evaluator's own exceptions are results already (run_task); a Ray error means the
            # actor or its node went away, so the evaluation is lost and may run again.
            reason = " ".join(str(error).split())[:300]
            return self._replace(
                index, EvalResult.failed(f"Ray actor lost during the evaluation: {reason}"), lost=True
            )
        slot.task, slot.ref = None, None
        return Completion(evaluation_id, EvalResult.from_dict(result), slot.name, started, ended)

    def _replace(self, index: int, result: EvalResult, *, lost: bool) -> Completion:
        slot = self._slots[index]
        self._ray.kill(slot.actor, no_restart=True)
        self._slots[index] = self._new_slot(avoid=slot.node if lost else None)
        assert slot.task is not None
        return Completion(slot.task.evaluation_id, result, slot.name, slot.started, time.time(), lost=lost)

    def actor_pids(self) -> list[int]:
        """The process ids of the live actors (tests kill one to check recovery)."""
        return self._ray.get([s.actor.pid.remote() for s in self._slots])

    def close(self) -> None:
        for slot in self._slots:
            self._ray.kill(slot.actor, no_restart=True)
        self._slots = []
        if self._started_ray:
            self._ray.shutdown()
