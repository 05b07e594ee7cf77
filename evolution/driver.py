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

Successive halving (``fidelity``; ``evolution.successive_halving``, ASHA of Li et al. 2020): a free
worker first promotes the best candidate that ASHA names, and only then asks the strategy for a new
one, which starts at rung 0. Each rung's evaluation is an evaluation row of the same proposal,
recorded with its rung and steps, and each result is told to the strategy as it arrives, with its
rung. A promotion continues from the checkpoint of the rung below,
``checkpoints/<proposal>-<steps>.pt``, which the driver only hands over once that rung's result is
recorded done (the evaluator writes it atomically, so a half-written one is never used); it is
deleted once its promotion's result is recorded (or the promotion or the rung failed), and every
checkpoint at the end of the run. A promotion whose checkpoint is gone (deleted at the end of an
earlier session, or never written by the evaluator) trains from scratch, and costs that much.

The budget then counts full-budget equivalents: training steps spent divided by the full steps, a
promotion from rung a to rung b costing b − a steps. Nothing is started that would take the
finished plus in-flight steps beyond the budget; when a promotion does not fit, a new candidate at
rung 0 may. A duplicate proposal is answered with its network's result at the highest rung it has
finished (the best-trained one), and is itself never promoted: its original is.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from evolution.evaluation import EvalResult
from evolution.executors.base import Completion, Executor, Task
from evolution.journal import Journal, JournalError, Unfinished
from evolution.run_status import RunStatus
from evolution.rung_checkpoints import RungCheckpoints
from evolution.seeding import derive_seed
from evolution.strategy import Proposal, Strategy
from evolution.successive_halving import Fidelity, Halving
from motifs.canonical import canonical_key

Dedup = Literal["reuse", "resample", "off"]


@dataclass
class _InFlight:
    proposal_id: int
    proposal: Proposal
    key: str
    attempt: int
    rung: int = 0
    cost: int = 1  # in the budget's units: 1 evaluation, or training steps with successive halving


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
        fidelity: Fidelity | None = None,
        checkpoints: Path | None = None,
    ) -> None:
        """``fidelity``: successive halving over these rungs (module docstring); ``checkpoints``:
        the folder (in the run directory) where rung checkpoints are kept; without one, every
        promotion trains from scratch."""
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
        self.status = RunStatus(budget, full_steps=fidelity.full_steps if fidelity else None)
        self.fidelity = fidelity
        self.checkpoints = RungCheckpoints(checkpoints, fidelity) if fidelity and checkpoints else None
        self.halving = Halving(fidelity) if fidelity else None
        # The budget in its units: evaluations, or training steps with successive halving.
        self._limit = budget * fidelity.full_steps if fidelity else budget
        self._budget_reached = False
        self._in_flight: dict[int, _InFlight] = {}
        self._evaluating: dict[str, int] = {}  # key -> evaluation id in flight
        self._waiting: dict[str, list[tuple[int, Proposal]]] = defaultdict(list)
        self._queue: list[tuple[int, _InFlight]] = []  # attempts to (re)submit before asking for more
        self._duplicate_streak = 0

    # The loop ----------------------------------------------------------------------------------

    def run(self) -> RunStatus:
        try:  # the executor's workers are already running: a refused resume must close them too
            self._resume()
            if self.checkpoints is not None:
                self.checkpoints.sweep(self.halving)
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
        if self.checkpoints is not None:
            self.checkpoints.sweep(None)
        if not self._budget_reached and not self.status.stopped:
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
            try:
                self.strategy.restore(state, history)
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                # Someone else's journal is data: a snapshot of the wrong shape is damage, not a bug.
                raise JournalError(
                    f"the journal is damaged (its strategy snapshot does not fit the "
                    f"{self.strategy.name} strategy: {type(error).__name__} {error})"
                ) from None
        for told in history:
            self.status.track_best(told.proposal_id, told.result, told.rung)
        for item in journal.unfinished():
            self._resume_unfinished(item)
        if self.halving is not None:
            rows = journal.rung_rows()
            journal.check_top_rung(self.halving.fidelity.top)
            for proposal_id, rung, result in rows:
                self.halving.start(proposal_id, rung)
                if result.status in ("done", "failed"):
                    self.halving.record(
                        proposal_id, rung, result.fitness if result.ok else None, result.metrics
                    )
            self.status.steps_spent = journal.steps_spent()
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
                    self._tell(item.proposal_id, item.proposal, result, False, item.rung)
                    journal.save_state(self.strategy.state_dict())
                return
            with self.journal.transaction() as journal:
                evaluation_id = journal.record_lost_attempt(
                    evaluation_id, error, worker="", started=0.0, ended=time.time()
                )
            attempt += 1
        self._queue.append(
            (evaluation_id, _InFlight(item.proposal_id, item.proposal, item.key, attempt, item.rung))
        )
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
        and evaluations resumed from the journal, even after the run has stopped asking), then
        promotions (successive halving), then new proposals. Queued attempts beyond the budget stay
        pending in the journal."""
        self._budget_reached = False
        while len(self._in_flight) < self.executor.capacity:
            if self._queue:
                item = self._queue[0][1]
                if not self._fits(self._cost(item.proposal_id, item.rung)):
                    self._budget_reached = True
                    return
                self._submit(*self._queue.pop(0))
                continue
            if self.halving is not None:
                promotion = self.halving.promotion()
                if promotion is not None and self._fits(self._cost(*promotion)):
                    self._promote(*promotion)
                    continue
            if not self._fits(self._cost(None, 0)):
                self._budget_reached = True
                return
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
        steps = self.fidelity.rungs[0] if self.fidelity else None
        with self.journal.transaction() as journal:
            proposal_id = journal.insert_proposal(proposal, key, self.strategy.name, steps=steps)
            evaluation_id = journal.pending_attempt(proposal_id)
            journal.save_state(self.strategy.state_dict())
            self._dispatch(evaluation_id, _InFlight(proposal_id, proposal, key, 1))
        self._evaluating[key] = evaluation_id
        if self.halving is not None:
            self.halving.start(proposal_id, 0)

    def _promote(self, proposal_id: int, rung: int) -> None:
        """Continue a candidate's training to ``rung`` (successive halving): a new evaluation row
        of the same proposal, recorded and dispatched in one transaction."""
        assert self.fidelity is not None and self.halving is not None
        proposal = self.journal.proposal(proposal_id)
        item = _InFlight(proposal_id, proposal, canonical_key(proposal.genotype), 1, rung)
        with self.journal.transaction() as journal:
            evaluation_id = journal.insert_promotion(proposal_id, rung, self.fidelity.rungs[rung])
            self._dispatch(evaluation_id, item)
        self.halving.start(proposal_id, rung)

    def _submit(self, evaluation_id: int, item: _InFlight) -> None:
        with self.journal.transaction():
            self._dispatch(evaluation_id, item)

    def _dispatch(self, evaluation_id: int, item: _InFlight) -> None:
        """Hand an attempt to a worker and mark it running (inside a journal transaction)."""
        seed = derive_seed(self.seed, "evaluation", item.proposal_id)  # the same for every attempt
        task = Task(evaluation_id, item.proposal.genotype, seed)
        from_steps = 0
        if self.fidelity is not None:
            rung, checkpoints = item.rung, self.checkpoints
            resume = checkpoints.resume_from(item.proposal_id, rung) if checkpoints else None
            save = checkpoints.save_to(item.proposal_id, rung) if checkpoints else None
            from_steps = self.fidelity.rungs[rung - 1] if resume is not None else 0
            task = Task(
                evaluation_id,
                item.proposal.genotype,
                seed,
                steps=self.fidelity.rungs[rung],
                resume_from=None if resume is None else str(resume),
                save_to=None if save is None else str(save),
            )
            item.cost = self.fidelity.rungs[rung] - from_steps
        worker = self.executor.submit(task)
        self.journal.mark_running(evaluation_id, worker, time.time(), from_steps)
        self._in_flight[evaluation_id] = item

    # Budget and checkpoints (successive halving) --------------------------------------------------

    def _cost(self, proposal_id: int | None, rung: int) -> int:
        """What one more evaluation at ``rung`` would cost, in the budget's units."""
        if self.fidelity is None:
            return 1
        continued = (
            proposal_id is not None
            and self.checkpoints is not None
            and self.checkpoints.resume_from(proposal_id, rung) is not None
        )
        return self.fidelity.cost(rung, continued=continued)

    def _fits(self, cost: int) -> bool:
        """Whether finished plus in-flight plus ``cost`` stays within the budget."""
        spent = self.status.steps_spent if self.fidelity else self.status.finished
        committed = sum(item.cost for item in self._in_flight.values())
        return spent + committed + cost <= self._limit

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
                (retry_id, _InFlight(item.proposal_id, item.proposal, item.key, item.attempt + 1, item.rung))
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
            self._tell(item.proposal_id, item.proposal, result, False, item.rung)
            journal.save_state(self.strategy.state_dict())
        self._evaluating.pop(item.key, None)
        if result.ok:
            self.status.done += 1
        else:
            self.status.failed += 1
        self.status.finished_this_session += 1
        if self.halving is not None:
            self.status.steps_spent += item.cost
            self.halving.record(
                item.proposal_id, item.rung, result.fitness if result.ok else None, result.metrics
            )
            if self.checkpoints is not None:
                self.checkpoints.release(item.proposal_id, item.rung, result.ok)
        self.status.track_best(item.proposal_id, result, item.rung)
        for proposal_id, proposal in self._waiting.pop(item.key, []):
            self._answer_from_cache(proposal_id, proposal, completion.evaluation_id, result)

    def _tell(
        self, proposal_id: int, proposal: Proposal, result: EvalResult, cached: bool, rung: int
    ) -> None:
        """Tell the strategy; the rung only with successive halving, so that a strategy written
        before it existed still runs without it."""
        if self.fidelity is None:
            self.strategy.tell(proposal_id, proposal, result, cached)
        else:
            self.strategy.tell(proposal_id, proposal, result, cached, rung=rung)

    # Duplicates --------------------------------------------------------------------------------

    def _add_cache_hit(self, proposal: Proposal, key: str, source: int, result: EvalResult) -> None:
        with self.journal.transaction() as journal:
            proposal_id = journal.insert_proposal(proposal, key, self.strategy.name, waiting=True)
            journal.mark_cached(proposal_id, source)
            self._tell(proposal_id, proposal, result, True, journal.rung_of(source))
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
            self._tell(proposal_id, proposal, result, True, journal.rung_of(source))
            journal.save_state(self.strategy.state_dict())
        self.status.cached += 1

    # Reporting ---------------------------------------------------------------------------------

    def _publish(self) -> None:
        self.status.in_flight = len(self._in_flight) + len(self._queue)
        self.on_progress(self.status)
