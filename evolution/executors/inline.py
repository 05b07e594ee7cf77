"""The inline executor: evaluations run in the driver's own process, one at a time.

For tests, tabular benchmarks and debugging: no processes, no pickling, fully deterministic. It
cannot stop an evaluation that hangs (there is no other process to stop it from), so a timeout
is not enforced here.
"""

from __future__ import annotations

import time

from evolution.evaluation import Evaluator
from evolution.executors.base import Completion, Task, run_task


class InlineExecutor:
    capacity = 1

    def __init__(self, evaluator: Evaluator, device: str = "cpu") -> None:
        self.evaluator, self.device = evaluator, device
        self._queue: list[Task] = []

    def submit(self, task: Task) -> str:
        self._queue.append(task)
        return "inline"

    def wait(self, timeout: float | None = None) -> list[Completion]:
        done = []
        while self._queue:
            task = self._queue.pop(0)
            started = time.time()
            result = run_task(self.evaluator, task, self.device, "inline")
            done.append(Completion(task.evaluation_id, result, "inline", started, time.time()))
        return done

    def close(self) -> None:
        self._queue.clear()
