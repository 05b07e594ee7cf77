"""The Ray executor on a real two-node cluster on this machine: a head and a second node started
with ``ray start``, placement spread over both, and the second node stopped mid-run.

Each node runs ``ray start --block`` in a session of its own; stopping a node kills exactly the
processes of that session (never ``ray stop``, which would kill every Ray instance of the user,
other tests' included). The head keeps its address file in a private temp dir, so ``ray.init()``
elsewhere never finds this cluster.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is the optional extra hiernas[ray]")

from evolution.driver import Driver  # noqa: E402
from evolution.executors.ray import RayExecutor  # noqa: E402
from evolution.journal import FILENAME, Journal  # noqa: E402
from evolution.random_search import RandomSearch  # noqa: E402
from hiernas.cli import main  # noqa: E402
from motifs import PRESETS  # noqa: E402
from tests.engine_helpers import synthetic_nb201_table  # noqa: E402
from tests.evaluators import GatedEvaluator  # noqa: E402

pytestmark = pytest.mark.slow

RAY = Path(sys.executable).with_name("ray")
REPO = Path(__file__).resolve().parents[1]
# A guard against a hang only (a node that never starts); nothing waits on it when things work.
STUCK = 300.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _session_pids(session: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                # Fields after the command's closing parenthesis: state, ppid, pgrp, session, ...
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == session and fields[0] != "Z":
                pids.append(int(entry.name))
    return pids


class RayNode:
    """One ``ray start --block`` and every process it starts, all in a session of their own (Ray's
    workers get their own process groups, but stay in the session)."""

    def __init__(self, name: str, log_dir: Path, args: list[str]) -> None:
        self.name = name
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
        # The head notices a lost node after 10 missed checks of 1 s (the default: 5 of 3 s). Fewer, on a
        # busy machine, get a live node declared dead.
        env |= {"RAY_health_check_period_ms": "1000", "RAY_health_check_failure_threshold": "10"}
        # Token auth as this process has it: `ray start` turns it on whenever ~/.ray/auth_token exists,
        # but a driver given an address never does, and would then be refused.
        env["RAY_AUTH_MODE"] = os.environ.get("RAY_AUTH_MODE", "disabled")
        ports = ["node-manager", "object-manager", "dashboard-agent-listen", "dashboard-agent-grpc"]
        ports += ["runtime-env-agent", "metrics-export"]
        command = [str(RAY), "start", "--block", "--disable-usage-stats", "--object-store-memory=100000000"]
        command += [f"--{port}-port={_free_port()}" for port in ports] + args
        with open(log_dir / f"{name}.log", "w") as log:
            self.process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def stop(self) -> None:
        """SIGKILL every process of the node, as a machine that loses power would."""
        for _ in range(50):
            pids = _session_pids(self.process.pid)
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        self.process.wait()
        assert not _session_pids(self.process.pid), f"processes of {self.name} outlived SIGKILL"


def _alive_nodes(address: str) -> dict[str, dict]:
    """The cluster's live nodes (node id: resources), asked over a short connection of its own
    (the code under test makes its own)."""
    ray.init(address=address, log_to_driver=False, configure_logging=False)
    try:
        return {n["NodeID"]: n["Resources"] for n in ray.nodes() if n["Alive"]}
    finally:
        ray.shutdown()


def _start_node(
    name: str,
    log_dir: Path,
    args: list[str],
    address: str,
    resource: str,
    known: frozenset[str] = frozenset(),
) -> tuple[RayNode, str]:
    """Start a node and wait until it is alive in the cluster, and the only live node with its
    custom resource; returns it and its node id. ``known`` are the nodes alive before the start.

    The head declares a killed node dead only after its missed health checks (10 s here), so a
    node 2 stopped by the previous test can still count as alive: the executor would then place an
    actor on it, and Ray's soft affinity hand that actor to the head (seen twice in full-suite runs:
    both actors on the head). Waiting for it to be declared dead gives every test a cluster of
    exactly the nodes it started.

    ``ray start`` says "Ray runtime started" once its raylet has registered; it gives the raylet a
    fixed 30 s for that and exits when it takes longer, as it can on a crowded machine. Such a start
    is cleaned up and tried again, up to three times."""
    log = log_dir / f"{name}.log"
    for _ in range(3):
        node = RayNode(name, log_dir, args)
        try:
            deadline = time.monotonic() + STUCK
            while node.process.poll() is None and time.monotonic() < deadline:
                if "Ray runtime started" in log.read_text():
                    holders = [i for i, r in _alive_nodes(address).items() if resource in r]
                    new = [i for i in holders if i not in known]
                    if len(new) == 1 and len(holders) == 1:
                        return node, new[0]
                time.sleep(0.5)
        except BaseException:
            node.stop()
            raise
        node.stop()
    raise AssertionError(f"{name} did not start: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def head():
    """A head node with room for two actors, so that the search can go on without node 2."""
    # Short, under /tmp: Ray's Unix sockets live in it and their paths may not exceed 107 bytes.
    temp = Path(tempfile.mkdtemp(prefix="hiernas-ray-", dir="/tmp"))
    port = _free_port()
    address = f"127.0.0.1:{port}"
    node, node_id = _start_node(
        "head",
        temp,
        [
            "--head",
            f"--port={port}",
            "--num-cpus=2",
            '--resources={"head": 2}',
            "--include-dashboard=false",
            f"--ray-client-server-port={_free_port()}",
            f"--temp-dir={temp / 'ray'}",
        ],
        address,
        "head",
    )
    try:
        yield address, node_id, temp
    finally:
        if ray.is_initialized():
            ray.shutdown()
        node.stop()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture
def second_node(head):
    address, _, temp = head
    args = [f"--address={address}", "--num-cpus=1", '--resources={"node2": 1}']
    node, node_id = _start_node("node2", temp, args, address, "node2", frozenset(_alive_nodes(address)))
    try:
        yield node, node_id
    finally:
        node.stop()


def test_a_search_through_the_cli_spreads_over_both_nodes(
    head, second_node, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    address, head_id, _ = head
    _, node2_id = second_node
    assert set(_alive_nodes(address)) == {head_id, node2_id}
    table = synthetic_nb201_table(tmp_path / "nb201.csv")
    run_dir = tmp_path / "run"
    settings = [f"evaluator.table={table}", "executor.kind=ray", f"executor.ray_address={address}"]
    arguments = ["evolve", "nb201", "--run-dir", str(run_dir), "--budget", "10", "--workers", "2"]
    assert main(arguments + [a for s in settings for a in ("--set", s)]) == 0
    assert not ray.is_initialized()  # it left the cluster it joined
    capsys.readouterr()
    assert main(["status", str(run_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["done"] == 10
    journal = Journal.open(run_dir / FILENAME, read_only=True)
    workers = {
        w for (w,) in journal.connection.execute("SELECT worker FROM evaluations WHERE worker IS NOT NULL")
    }
    journal.close()
    assert any(f"node={head_id[:12]} " in w for w in workers), workers
    assert any(f"node={node2_id[:12]} " in w for w in workers), workers


def _stop_node2_mid_evaluation(scratch: Path, node: RayNode, node2_id: str, seen: dict) -> None:
    """Once both actors hold an evaluation, one of them on node 2, kill node 2; then let every
    evaluation finish. The gate opens whatever happens, so the search never hangs on it."""
    try:
        deadline = time.monotonic() + STUCK
        while time.monotonic() < deadline:
            started = [p.read_text() for p in scratch.glob("started-*")]
            if len(started) == 2:
                break
            time.sleep(0.05)
        seen["in_flight"] = started
        if any(f"node={node2_id[:12]} " in w for w in started):
            node.stop()
            seen["stopped"] = True
    finally:
        (scratch / "open").touch()


def test_losing_a_node_mid_run_reruns_its_evaluation_elsewhere(head, second_node, tmp_path: Path) -> None:
    address, head_id, _ = head
    node, node2_id = second_node
    # Exactly these two: the executor places its two actors one on each (round robin).
    assert set(_alive_nodes(address)) == {head_id, node2_id}
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    budget = 6
    executor = RayExecutor(GatedEvaluator(scratch), workers=2, address=address)
    seen: dict = {}
    watcher = threading.Thread(target=_stop_node2_mid_evaluation, args=(scratch, node, node2_id, seen))
    watcher.start()
    journal = Journal.create(tmp_path / FILENAME)
    search = RandomSearch(PRESETS["hierarchical"], seed=3, init_mutations=50)
    try:
        status = Driver(search, executor, journal, budget=budget, seed=3).run()
    finally:
        (scratch / "open").touch()
        watcher.join()
    assert not ray.is_initialized()
    assert seen.get("stopped"), f"no evaluation was in flight on node 2: {seen.get('in_flight')}"
    assert status.finished == budget and status.lost == 1, status

    rows = [
        tuple(r)
        for r in journal.connection.execute(
            "SELECT proposal, attempt, status, final, worker, error FROM evaluations ORDER BY id"
        )
    ]
    journal.close()
    assert all(r[2] in ("done", "failed") for r in rows), rows  # nothing left running or pending
    final = [r for r in rows if r[3] == 1]
    # The retry must not be aimed at node 2, still listed alive until the head notices its loss.
    assert len(final) == budget and all(r[2] == "done" for r in final), rows
    assert len({r[0] for r in final}) == budget  # no proposal recorded twice
    (lost,) = [r for r in rows if r[3] == 0]
    assert lost[2] == "failed" and f"node={node2_id[:12]} " in lost[4]
    assert lost[5].startswith("Ray actor lost")
    (retry,) = [r for r in final if r[0] == lost[0]]
    assert retry[1] == lost[1] + 1 and f"node={head_id[:12]} " in retry[4]
    # The evaluator itself returned exactly the budget's evaluations: the lost one never returned.
    assert len(list(scratch.glob("finished-*"))) == budget
