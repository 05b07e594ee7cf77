"""The live display of a search: done/budget (full-budget equivalents with successive halving),
best fitness, evaluations per minute, failures, cache hits. A terminal gets a rich progress bar; a log (CI, a pipe) gets a plain line every tenth
of the budget and at the end, so logs stay readable."""

from __future__ import annotations

import sys
import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from evolution.run_status import RunStatus


def status_line(status: RunStatus) -> str:
    best = "-" if status.best_fitness is None else f"{status.best_fitness:.4f}"
    return (
        f"best {best} · {status.per_minute:.1f}/min · {status.failed} failed · {status.cached} cached"
        f" · {status.in_flight} running"
    )


class SearchDisplay:
    def __init__(self, strategy: str, budget: int, *, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.strategy, self.budget = strategy, budget
        self.live = self.console.is_terminal
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[line]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
            disable=not self.live,
        )
        self._task = self._progress.add_task(strategy, total=budget, line="")
        self._last_logged = -1
        self._last_time = 0.0

    def __enter__(self) -> SearchDisplay:
        self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._progress.stop()

    def update(self, status: RunStatus) -> None:
        if self.live:
            self._progress.update(self._task, completed=status.used, line=status_line(status))
            return
        step = max(1, self.budget // 10)
        due = status.used // step != self._last_logged // step or status.used >= self.budget
        if status.used != self._last_logged and (due or time.time() - self._last_time > 60):
            self._last_logged, self._last_time = status.used, time.time()
            print(
                f"{self.strategy} {status.used:g}/{self.budget} · {status_line(status)}",
                file=sys.stderr,
                flush=True,
            )
