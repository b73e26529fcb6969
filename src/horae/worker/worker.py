"""The worker: claims runs from its queues, executes them, heartbeats, drains on stop.

Loops:
- claim: while there are free slots, claim eligible runs in one statement and start them;
  otherwise sleep until woken (a slot freed, a run queued here, PostgreSQL NOTIFY, or the
  poll interval for SQLite shared with other processes). Up to ``prefetch`` runs beyond
  the free slots are claimed ahead and wait in this worker (leased, renewed, released on
  stop) so a busy worker claims in batches instead of one transaction per freed slot.
- heartbeat: flushes logs and progress, renews leases, acts on cancel requests and
  enforces timeouts.
Every write about a run is fenced on (run, attempt, this worker) by the store.
"""

from __future__ import annotations

import json
import logging
import os
import random
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING

from horae.models import LogLine, RunState, WorkerInfo
from horae.policies import retry_delay
from horae.store import ClaimedRun, Finish
from horae.wakeup import Waker
from horae.worker.context import LogCapture, RunTracker
from horae.worker.executors import Execution, Executors, Outcome
from horae.worker.reporter import Reporter

if TYPE_CHECKING:
    from horae.app import Horae

log = logging.getLogger("horae.worker")
#: Most runs one claim statement takes: a statement's fixed cost is shared by that many
#: runs, while a claimer holding more than it can start soon would starve other workers.
CLAIM_BATCH = 256


class Worker:
    def __init__(
        self,
        app: Horae,
        *,
        queues: Sequence[str] = ("default",),
        concurrency: int = 8,
        name: str | None = None,
        lease: float = 30.0,
        poll_interval: float | None = None,
        flush_interval: float = 0.25,
        labels: dict[str, str] | None = None,
        grace: float = 30.0,
        prefetch: int | None = None,
        max_backlog: int | None = None,
    ) -> None:
        self.app = app
        self.queues = list(queues)
        self.concurrency = concurrency
        self.stable_identity = name is not None
        self.id = name or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.lease = lease
        self.poll_interval = poll_interval
        self.flush_interval = flush_interval
        self.labels = labels or {}
        self.grace = grace
        #: Runs claimed ahead of free slots; ``None`` = as many as ``concurrency``.
        self.prefetch = concurrency if prefetch is None else max(0, prefetch)
        #: Outcomes waiting to be written at which claims pause (they resume at half).
        self.max_backlog = (max(1000, 2 * concurrency) if max_backlog is None
                            else max(1, max_backlog))
        self.claims_paused = False  # the outcome backlog is full: no claim, no start
        self.claim_pauses = 0  # how many times claims paused since start
        self._active: dict[int, Execution] = {}
        self._ahead: deque[ClaimedRun] = deque()  # claimed, not started (under _lock)
        self._recording = 0  # outcomes being handed to the reporter right now (under _lock)
        self._lock = threading.Lock()
        self._lines_lock = threading.Lock()  # orders a run's log lines before its outcome
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._rng = random.Random()
        self._executors: Executors | None = None
        self._reporter: Reporter | None = None
        self._waker: Waker | None = None
        self.started = threading.Event()
        self.claim_rounds = 0  # decisions taken by the claim loop: lets tests wait for one
        #: Readiness (horae.api.health): when the claim and heartbeat loops last went
        #: round (monotonic), and the error of the last claim or heartbeat if it failed.
        self.beat = self.heartbeat_beat = time.monotonic()
        self.failing: str | None = None
        self.heartbeat_failing: str | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        from horae import __version__ as horae_version  # the package imports this module

        store = self.app.store
        LogCapture.install()
        self._executors = Executors(self.concurrency)
        self._reporter = Reporter(store, self.id)
        self._reporter.start()
        info = WorkerInfo(self.id, socket.gethostname(), os.getpid(), self.queues,
                          self.concurrency, self.labels, version=horae_version)
        store.worker_register(info, [t.info() for t in self.app.registry])
        if self.stable_identity:
            released = store.runs_rescue(owner=self.id)
            if released:
                log.warning("worker %s: took back %d runs of its previous life", self.id,
                            len(released))
        sqlite_shared = store.dialect == "sqlite" and not store.db.url.endswith(":memory:")
        poll = self.poll_interval or (0.02 if sqlite_shared else 1.0)
        self._waker = Waker(store.db, ["horae_runs", "horae_cancel"], poll_interval=poll)
        self._waker.start()
        self._poll = poll
        for target, name in ((self._claim_loop, "claim"), (self._heartbeat_loop, "heartbeat")):
            t = threading.Thread(target=target, name=f"horae-worker-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        self.started.set()
        log.info("worker %s serving %s with %d slots", self.id, ",".join(self.queues),
                 self.concurrency)

    @property
    def alive(self) -> bool:
        """Both loops (claim, heartbeat) are running."""
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    def stop(self, grace: float | None = None) -> None:
        """Stop claiming, let running work finish within ``grace`` s, release the rest."""
        if self._stopping.is_set():
            return
        grace = self.grace if grace is None else grace
        self._stopping.set()
        store = self.app.store
        try:
            store.worker_set_state(self.id, "draining")
        except Exception as exc:
            log.warning("could not mark worker draining: %s", exc)
        if self._waker is not None:
            self._waker.set()
        # The claim loop finishes its current claim first (what it claims after seeing
        # _stopping it releases itself), so the drain sees every run this worker holds.
        for t in self._threads:
            if t.name.endswith("claim"):
                t.join(timeout=grace + 5)
        self._drain(grace)
        for t in self._threads:
            t.join(timeout=5)
        self._flush()
        if self._reporter is not None:
            self._reporter.stop()
        try:
            store.worker_set_state(self.id, "gone")
        except Exception as exc:
            log.warning("could not mark worker gone: %s", exc)
        if self._waker is not None:
            self._waker.stop()
        if self._executors is not None:
            self._executors.shutdown()
        LogCapture.uninstall()

    def _drain(self, grace: float) -> None:
        """Release runs held ahead, wait up to ``grace`` s for running work, then release
        what is left to the queue."""
        with self._lock:
            ahead, self._ahead = list(self._ahead), deque()
        self._give_back(ahead)
        deadline = time.monotonic() + grace
        while (self._running() or self._recording) and time.monotonic() < deadline:
            time.sleep(0.02)
        leftovers = []
        for ex in self._running():
            if ex.stop_reason in ("timeout", "cancel"):
                # Already past its end: recorded as such rather than run again. The worker
                # gives up on it (a thread it cannot stop; it dies with the process).
                self._record(ex, Outcome())
                continue
            with ex.lock:
                if ex.recorded:
                    continue
                ex.recorded = True  # from here on its outcome is not ours to write
            leftovers.append(ex)
            ex.ask_to_stop("drain")
        if leftovers:
            try:
                self.app.store.runs_release(self.id, [ex.run_id for ex in leftovers])
            except Exception as exc:  # their leases expire and the scheduler rescues them
                log.warning("could not release %d runs: %s", len(leftovers), exc)

    def _running(self) -> list[Execution]:
        with self._lock:
            return [ex for ex in self._active.values() if not ex.recorded]

    # -- claiming --------------------------------------------------------------------

    def _claim_loop(self) -> None:
        assert self._waker is not None and self._reporter is not None
        backoff = 0.1
        while not self._stopping.is_set():
            self.claim_rounds += 1
            self.beat = time.monotonic()
            if self._backlog_full():
                self._reporter.wait_below(self.max_backlog // 2 + 1, self._poll)
                continue
            with self._lock:
                free = self.concurrency - len(self._active)
                room = free + self.prefetch - len(self._ahead)
            if self._start_ahead(free):
                continue
            if room <= 0:
                self._waker.wait(self._poll)
                continue
            try:
                runs = self._claim(free, room)
                backoff = 0.1
                self.failing = None
            except Exception as exc:
                self.failing = f"{type(exc).__name__}: {exc}"
                log.warning("claim failed (%s); retrying in %.1fs", exc, backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if self._stopping.is_set():
                self._give_back(runs)
                return
            with self._lock:
                # A run this worker held, lost (its lease expired) and claimed again is
                # held once, as its newest claim.
                again = {r.id for r in runs}
                if again & {r.id for r in self._ahead}:
                    self._ahead = deque(r for r in self._ahead if r.id not in again)
                self._ahead.extend(runs[free:])
            self._start(runs[:free], start_written=True)  # the claim wrote their start
            if len(runs) < room:
                self._waker.wait(self._poll)

    def _backlog_full(self) -> bool:
        """Whether claims (and starts of runs held ahead) pause: the outcome backlog
        reached ``max_backlog``; they resume when it is back under half of it."""
        assert self._reporter is not None
        backlog = self._reporter.backlog
        if not self.claims_paused and backlog >= self.max_backlog:
            self.claims_paused = True
            self.claim_pauses += 1
            log.warning("worker %s: %d outcomes wait to be written (the database is slow); "
                        "claims paused until fewer than %d wait", self.id, backlog,
                        self.max_backlog // 2 + 1)
        elif self.claims_paused and backlog <= self.max_backlog // 2:
            self.claims_paused = False
            log.warning("worker %s: outcome backlog down to %d; claims resumed", self.id,
                        backlog)
        return self.claims_paused

    def _start_ahead(self, free: int) -> bool:
        """Start up to ``free`` of the runs held ahead, oldest claim first; whether any.
        Their start is written by the next heartbeat or with their outcome."""
        with self._lock:
            starting = [self._ahead.popleft() for _ in range(min(free, len(self._ahead)))]
        self._start(starting, start_written=False)
        return bool(starting)

    def _claim(self, free: int, room: int) -> list[ClaimedRun]:
        """Claim up to ``room`` runs, the first ``free`` of them to start at once:
        unlimited tasks in one statement, then each task with a concurrency limit under
        its own lock, for free slots only (a limit counts runs held ahead too, so holding
        them would starve other workers)."""
        store = self.app.store
        tasks = list(self.app.registry)
        unlimited = [t.name for t in tasks if t.concurrency is None]
        runs = store.runs_take(self.id, self.queues, min(room, CLAIM_BATCH), self.lease,
                                tasks=unlimited, start_claimed=free) if unlimited else []
        for t in tasks:
            if t.concurrency is not None and len(runs) < free:
                try:
                    runs += store.runs_take(self.id, self.queues, free - len(runs),
                                             self.lease, tasks=[t.name],
                                             task_limit=t.concurrency)
                except Exception as exc:  # keep what was claimed: it is leased to us
                    log.warning("claim of task %s failed: %s", t.name, exc)
                    break
        return runs

    def _give_back(self, runs: list[ClaimedRun]) -> None:
        """Runs claimed while stopping: back to the queue, never started."""
        if not runs:
            return
        try:
            self.app.store.runs_release(self.id, [r.id for r in runs])
        except Exception as exc:  # their leases expire and the scheduler rescues them
            log.warning("could not release %d runs claimed while stopping: %s", len(runs), exc)

    def _start(self, runs: list[ClaimedRun], *, start_written: bool) -> None:
        """Start ``runs`` (their slots are free): one hand-off to the executors for all."""
        if not runs:
            return
        assert self._executors is not None
        batch = []
        now = time.monotonic()
        for run in runs:
            task = self.app.registry.get(run.task)
            assert task is not None  # the claim only takes tasks this worker has
            ex = Execution(task, RunTracker(run), self.id, start_written=start_written,
                           started=now)
            if run.timeout:
                ex.deadline = now + run.timeout
            batch.append(ex)
        with self._lock:
            for ex in batch:
                self._active[ex.run_id] = ex
        self._executors.submit_many(batch, self._done)

    # -- completion ------------------------------------------------------------------

    def _done(self, ex: Execution, outcome: Outcome) -> None:
        """A run's code ended (on the event loop or in a pool thread): record its outcome
        and give its slot to the next run held ahead right here, so a busy worker's claim
        loop wakes once per batch of claims rather than once per finished run."""
        nxt: list[ClaimedRun] = []
        try:
            self._record(ex, outcome)
        finally:
            with self._lock:
                self._active.pop(ex.run_id, None)
                if self._ahead and not self._stopping.is_set() and not self.claims_paused:
                    nxt.append(self._ahead.popleft())
                # Claim again once half the runs held ahead are gone (or none is held).
                wake = len(self._ahead) <= self.prefetch // 2
            if nxt:
                self._start(nxt, start_written=False)
            if wake and self._waker is not None:
                self._waker.set()

    def _record(self, ex: Execution, outcome: Outcome) -> None:
        with ex.lock:
            if ex.recorded:
                return
            with self._lock:
                # Counted before the run stops looking "running", so a drain that sees it
                # recorded also waits for its outcome to reach the reporter (which stops
                # right after the drain: an outcome queued later would never be written).
                self._recording += 1
            ex.recorded = True
        try:
            self._report(ex, outcome)
        finally:
            with self._lock:
                self._recording -= 1

    def _report(self, ex: Execution, outcome: Outcome) -> None:
        state, delay = self._decide(ex, outcome)
        if state is RunState.SUCCEEDED and outcome.result is not None:
            try:
                json.dumps(outcome.result, allow_nan=False)
            except (TypeError, ValueError) as exc:
                state, outcome = RunState.FAILED, Outcome(error=f"result is not JSON: {exc}")
        assert self._reporter is not None
        with self._lines_lock:  # after any heartbeat that took earlier lines (see _flush)
            logs, progress = ex.tracker.take()
            self._reporter.put(Finish(
                ex.tracker.run, state, outcome.result if state is RunState.SUCCEEDED else None,
                outcome.error, outcome.traceback, delay, logs, progress,
                ran_for=None if ex.start_written else ex.ran_for(),
            ))

    def _decide(self, ex: Execution, outcome: Outcome) -> tuple[RunState, float]:
        run = ex.tracker.run
        if ex.stop_reason == "cancel":
            outcome.error = outcome.error or "cancelled while running"
            return RunState.CANCELLED, 0.0
        if ex.stop_reason == "timeout":
            outcome.error = f"timed out after {run.timeout:g}s"
            state = RunState.TIMED_OUT
        elif outcome.error is None:
            return RunState.SUCCEEDED, 0.0
        else:
            state = RunState.FAILED
        if run.attempt < run.max_attempts:
            return RunState.RETRYING, retry_delay(run.attempt, run.retry_backoff,
                                                  run.retry_backoff_max, self._rng)
        return state, 0.0

    # -- heartbeat -------------------------------------------------------------------

    def _heartbeat_loop(self) -> None:
        last_renew = 0.0
        while not self._stopping.wait(self.flush_interval):
            self.heartbeat_beat = time.monotonic()
            self._enforce_timeouts()
            due = time.monotonic() - last_renew >= self.lease / 3
            if self._flush(renew=due) and due:
                last_renew = time.monotonic()

    def _flush(self, renew: bool = True) -> bool:
        with self._lock:
            active = list(self._active.values())
        # Held from taking the lines to the commit: a run's outcome (which takes the rest
        # of its lines) is queued only after the lines taken before it are written, since
        # the log fence refuses lines that arrive after their attempt ended.
        with self._lines_lock:
            logs: list[tuple[int, LogLine]] = []
            progress = []
            # Runs started from those held ahead: their start, batched here (or with their
            # outcome if that comes first) instead of a write per start.
            starts = [ex for ex in active if not ex.start_written]
            started = [(ex.run_id, ex.tracker.run.attempt, ex.ran_for()) for ex in starts]
            for ex in active:
                lines, prog = ex.tracker.take()
                logs.extend((ex.tracker.run.attempt, line) for line in lines)
                if prog is not None:
                    progress.append((ex.run_id, ex.tracker.run.attempt, *prog))
            holding = bool(active) or bool(self._ahead)
            if not (renew or logs or progress or started or holding):
                return False
            try:
                if renew or logs or progress or started:
                    cancels = self.app.store.runs_heartbeat(
                        self.id, self.lease, running=len(active), progress=progress,
                        logs=logs, started=started,
                    )
                    for ex in starts:
                        ex.start_written = True
                else:  # nothing to write: only look for cancel requests, without a write lock
                    cancels = self.app.store.runs_cancel_requested(self.id)
            except Exception as exc:
                self.heartbeat_failing = f"{type(exc).__name__}: {exc}"
                log.warning("heartbeat failed: %s", exc)
                return False
            self.heartbeat_failing = None
        if cancels:
            self._cancel_ahead(cancels)
        for ex in active:
            if ex.run_id in cancels and ex.stop_reason is None:
                self._stop(ex, "cancel", "cancellation asked")
        return True

    def _cancel_ahead(self, cancels: set[int]) -> None:
        """Runs held ahead whose cancellation was asked end without starting."""
        with self._lock:
            dropped = [r for r in self._ahead if r.id in cancels]
            if not dropped:
                return
            self._ahead = deque(r for r in self._ahead if r.id not in cancels)
        assert self._reporter is not None
        for run in dropped:
            self._reporter.put(Finish(run, RunState.CANCELLED, None,
                                      "cancelled before it started", None, 0.0, [], None))

    def _enforce_timeouts(self) -> None:
        now = time.monotonic()
        for ex in self._running():
            if ex.deadline is not None and now >= ex.deadline and ex.stop_reason is None:
                self._stop(ex, "timeout", f"timed out after {ex.tracker.run.timeout:g}s")

    @staticmethod
    def _stop(ex: Execution, reason: str, why: str) -> None:
        """Ask a run to stop. Its outcome is recorded when its code has really stopped: a
        thread cannot be killed, so until the function returns the run stays ``running``
        and keeps its slot here and in every concurrency count (task limit, overlap)."""
        ex.ask_to_stop(reason)
        if ex.task.mode == "thread":
            ex.tracker.log("WARNING", f"{why}: ctx.cancelled is set; the run ends when the "
                                      "function returns (a thread cannot be stopped)")
