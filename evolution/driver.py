"""The search loop: keep every worker busy, record everything, survive anything.

Asynchronous, as in Liu et al. 2018 (section 3.2): whenever a worker is free the strategy is asked
for a proposal, and each result is told to the strategy as soon as it arrives. Before a proposal is
evaluated its canonical key is looked up: an architecture already evaluated is answered from the
journal (a cache hit, costing no worker time) or, with ``dedup="resample"``, the strategy is asked
again; one being evaluated right now waits for that result instead of being paid for twice.

Every step is one journal transaction that also carries the strategy's snapshot, so the run can be
killed at any instant and resumed: finished results are kept, in-flight evaluations run again (with
the same seed), and the budget counts what is done. An evaluation that was running when the run
died counts as an attempt (it may be what killed the run); one stopped by Ctrl-C does not.

Only done results are reused for duplicates. A network whose evaluation failed (a timeout, a CUDA
out-of-memory while other workers shared the GPU) is evaluated again when it is proposed again, up
to ``retry_failed`` more times; after that its failure is reused like any result.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from evolution.evaluation import EvalResult
from evolution.executors.base import Completion, Executor, Task
from evolution.journal import Journal, JournalError, Unfinished
from evolution.seeding import derive_seed
from evolution.strategy import Proposal, Strategy
from motifs.canonical import canonical_key

Dedup = Literal["reuse", "resample", "off"]


@dataclass
class RunStatus:
    """What a progress display shows; updated after every event."""

    budget: int
    done: int = 0
    failed: int = 0
    cached: int = 0
    lost: int = 0
    in_flight: int = 0
    best_fitness: float | None = None
    best_proposal: int | None = None
    started: float = field(default_factory=time.time)
    finished_this_session: int = 0
    stopped: str | None = None  # why the run ended before its budget, if it did

    @property
    def finished(self) -> int:
        return self.done + self.failed

    @property
    def per_minute(self) -> float:
        minutes = (time.time() - self.started) / 60
        return self.finished_this_session / minutes if minutes > 0 else 0.0


@dataclass
class _InFlight:
    proposal_id: int
    proposal: Proposal
    key: str
    attempt: int


class Driver:
    def __init__(
        self,
        strategy: Strategy,
        executor: Executor,
        journal: Journal,
        *,
        budget: int,
        seed: int,
        dedup: Dedup = "reuse",
        max_attempts: int = 2,
        retry_failed: int = 1,
        max_duplicate_streak: int = 1_000,
        on_progress: Callable[[RunStatus], None] | None = None,
    ) -> None:
        self.strategy, self.executor, self.journal = strategy, executor, journal
        self.seed, self.dedup = seed, dedup
        # A lost worker (killed, crashed) gets its evaluation run again, up to this many attempts.
        self.max_attempts = max_attempts
        # A network whose evaluation failed is evaluated again this many times when proposed again.
        self.retry_failed = retry_failed
        # This many known architectures in a row means the strategy has nothing new left to propose:
        # the space is exhausted, or the strategy has converged (an RL controller whose policy has
        # become deterministic proposes one cell over and over). A duplicate costs milliseconds and
        # no worker time, so 1,000 costs seconds (tens for the LSTM controller). NB201 evolution,
        # which reuses about two results per evaluation, had at most 27 in a row over 20 seeds.
        self.max_duplicate_streak = max_duplicate_streak
        self.on_progress = on_progress or (lambda status: None)
        self.status = RunStatus(budget)
        self._in_flight: dict[int, _InFlight] = {}
        self._evaluating: dict[str, int] = {}  # key -> evaluation id in flight
        self._waiting: dict[str, list[tuple[int, Proposal]]] = defaultdict(list)
        self._queue: list[tuple[int, _InFlight]] = []  # attempts to (re)submit before asking for more
        self._duplicate_streak = 0

    # The loop ----------------------------------------------------------------------------------

    def run(self) -> RunStatus:
        self._resume()
        try:
            while True:
                self._fill()
                if not self._in_flight:
                    break  # budget reached (or the space exhausted) and everything in flight drained
                for completion in self.executor.wait(timeout=1.0):
                    self._complete(completion)
                self._publish()
        except KeyboardInterrupt:
            self._hand_back_in_flight()
            raise
        finally:
            self.executor.close()
        if self.status.finished < self.status.budget and not self.status.stopped:
            raise RuntimeError(
                f"strategy {self.strategy.name!r} proposed nothing while no evaluation was in flight"
            )
        self._publish()
        return self.status

    def _resume(self) -> None:
        journal = self.journal
        state = journal.strategy_state()
        history = journal.history()
        if state is not None:
            self.strategy.restore(state, history)
        for told in history:
            self._track_best(told.proposal_id, told.result)
        for item in journal.unfinished():
            self._resume_unfinished(item)
        for proposal_id, proposal, key in journal.waiting():
            hit = None if key in self._evaluating else journal.finished_result(key)
            if hit is not None:
                self._answer_from_cache(proposal_id, proposal, *hit)
            else:
                self._waiting[key].append((proposal_id, proposal))
        counts = journal.counts()
        self.status.done, self.status.failed = counts["done"], counts["failed"]
        self.status.cached, self.status.lost = counts["cached"], counts["lost"]

    def _resume_unfinished(self, item: Unfinished) -> None:
        """Queue an evaluation the last session left unfinished. One that was running when that
        session died counts as a lost attempt, so a network that brings the run down each time ends
        as failed after ``max_attempts`` instead of being retried on every resume."""
        evaluation_id, attempt = item.evaluation_id, item.attempt
        if item.running:
            error = "lost: the run stopped while this evaluation was running"
            if attempt >= self.max_attempts:
                result = EvalResult.failed(f"{error} ({attempt} attempts)")
                with self.journal.transaction() as journal:
                    journal.record_result(evaluation_id, result, worker="", started=0.0, ended=time.time())
                    self.strategy.tell(item.proposal_id, item.proposal, result)
                    journal.save_state(self.strategy.state_dict())
                return
            with self.journal.transaction() as journal:
                evaluation_id = journal.record_lost_attempt(
                    evaluation_id, error, worker="", started=0.0, ended=time.time()
                )
            attempt += 1
        self._queue.append((evaluation_id, _InFlight(item.proposal_id, item.proposal, item.key, attempt)))
        self._evaluating[item.key] = evaluation_id

    def _hand_back_in_flight(self) -> None:
        """Interrupted (Ctrl-C): what was running goes back to pending, so the resume does not count
        it as an attempt. If the journal cannot be written, they count; that errs on the safe side."""
        try:
            with self.journal.transaction() as journal:
                for evaluation_id in self._in_flight:
                    journal.requeue(evaluation_id)
        except JournalError:
            pass

    def _fill(self) -> None:
        """Keep the workers busy within the budget: queued attempts first (retries of lost workers
        and evaluations resumed from the journal, even after the run has stopped asking), then new
        proposals. Queued attempts beyond the budget stay pending in the journal."""
        while len(self._in_flight) < self.executor.capacity:
            if self.status.finished + len(self._in_flight) >= self.status.budget:
                return
            if self._queue:
                self._submit(*self._queue.pop(0))
                continue
            if self.status.stopped:
                return
            proposal = self.strategy.ask()
            if proposal is None:
                return
            self._consider(proposal)
            if self.status.stopped:
                return

    def _consider(self, proposal: Proposal) -> None:
        key = canonical_key(proposal.genotype)
        if self.dedup != "off":
            hit = self.journal.finished_result(key, retry_failed=self.retry_failed)
            if hit is not None or key in self._evaluating:
                self._duplicate_streak += 1
                if self._duplicate_streak >= self.max_duplicate_streak:
                    self.status.stopped = (
                        f"the strategy proposed {self._duplicate_streak} already-evaluated "
                        f"architectures in a row: the space is exhausted or the strategy has converged"
                    )
                if self.dedup == "resample":
                    self.strategy.reject(proposal)
                elif hit is not None:
                    self._add_cache_hit(proposal, key, *hit)
                else:
                    self._add_waiting(proposal, key)
                return
        self._duplicate_streak = 0
        # Recorded and dispatched in one transaction: killed before the commit, the run has no trace
        # of this proposal (its worker dies with the driver) and a resume asks for it again.
        with self.journal.transaction() as journal:
            proposal_id = journal.insert_proposal(proposal, key, self.strategy.name)
            evaluation_id = journal.pending_attempt(proposal_id)
            journal.save_state(self.strategy.state_dict())
            self._dispatch(evaluation_id, _InFlight(proposal_id, proposal, key, 1))
        self._evaluating[key] = evaluation_id

    def _submit(self, evaluation_id: int, item: _InFlight) -> None:
        with self.journal.transaction():
            self._dispatch(evaluation_id, item)

    def _dispatch(self, evaluation_id: int, item: _InFlight) -> None:
        """Hand an attempt to a worker and mark it running (inside a journal transaction)."""
        seed = derive_seed(self.seed, "evaluation", item.proposal_id)  # the same for every attempt
        worker = self.executor.submit(Task(evaluation_id, item.proposal.genotype, seed))
        self.journal.mark_running(evaluation_id, worker, time.time())
        self._in_flight[evaluation_id] = item

    def _complete(self, completion: Completion) -> None:
        item = self._in_flight.pop(completion.evaluation_id)
        if completion.lost and item.attempt < self.max_attempts:
            with self.journal.transaction() as journal:
                retry_id = journal.record_lost_attempt(
                    completion.evaluation_id,
                    completion.result.error or "lost",
                    worker=completion.worker,
                    started=completion.started,
                    ended=completion.ended,
                )
            self.status.lost += 1
            self._evaluating[item.key] = retry_id
            self._queue.append(
                (retry_id, _InFlight(item.proposal_id, item.proposal, item.key, item.attempt + 1))
            )
            return
        result = completion.result
        with self.journal.transaction() as journal:
            journal.record_result(
                completion.evaluation_id,
                result,
                worker=completion.worker,
                started=completion.started,
                ended=completion.ended,
            )
            self.strategy.tell(item.proposal_id, item.proposal, result)
            journal.save_state(self.strategy.state_dict())
        self._evaluating.pop(item.key, None)
        if result.ok:
            self.status.done += 1
        else:
            self.status.failed += 1
        self.status.finished_this_session += 1
        self._track_best(item.proposal_id, result)
        for proposal_id, proposal in self._waiting.pop(item.key, []):
            self._answer_from_cache(proposal_id, proposal, completion.evaluation_id, result)

    # Duplicates --------------------------------------------------------------------------------

    def _add_cache_hit(self, proposal: Proposal, key: str, source: int, result: EvalResult) -> None:
        with self.journal.transaction() as journal:
            proposal_id = journal.insert_proposal(proposal, key, self.strategy.name, waiting=True)
            journal.mark_cached(proposal_id, source)
            self.strategy.tell(proposal_id, proposal, result, cached=True)
            journal.save_state(self.strategy.state_dict())
        self.status.cached += 1

    def _add_waiting(self, proposal: Proposal, key: str) -> None:
        with self.journal.transaction() as journal:
            proposal_id = journal.insert_proposal(proposal, key, self.strategy.name, waiting=True)
            journal.save_state(self.strategy.state_dict())
        self._waiting[key].append((proposal_id, proposal))

    def _answer_from_cache(
        self, proposal_id: int, proposal: Proposal, source: int, result: EvalResult
    ) -> None:
        with self.journal.transaction() as journal:
            journal.mark_cached(proposal_id, source)
            self.strategy.tell(proposal_id, proposal, result, cached=True)
            journal.save_state(self.strategy.state_dict())
        self.status.cached += 1

    # Reporting ---------------------------------------------------------------------------------

    def _track_best(self, proposal_id: int, result: EvalResult) -> None:
        if result.ok and (self.status.best_fitness is None or result.fitness > self.status.best_fitness):
            self.status.best_fitness, self.status.best_proposal = result.fitness, proposal_id

    def _publish(self) -> None:
        self.status.in_flight = len(self._in_flight) + len(self._queue)
        self.on_progress(self.status)
