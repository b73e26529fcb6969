"""Writes run outcomes in batches: one transaction for everything that finished meanwhile.

One transaction per outcome made the write lock (SQLite) or the commit (PostgreSQL) the
bottleneck of a busy worker; batching keeps every outcome fenced and in order while a
thousand finishes cost about one commit.

The backlog (outcomes put and not yet written) is counted, and the worker stops claiming
while it is at its bound (:meth:`Worker._claim_loop`): when the database writes slowly,
memory holds at most that many outcomes plus the runs in hand, however long it lasts.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from horae.store import Finish, Store

log = logging.getLogger("horae.worker")
MAX_BATCH = 500


class Reporter:
    def __init__(self, store: Store, worker_id: str,
                 on_written: Callable[[list[Finish]], None] | None = None) -> None:
        self._store = store
        self._worker_id = worker_id
        self._queue: queue.SimpleQueue[Finish | None] = queue.SimpleQueue()
        self._on_written = on_written
        self._thread = threading.Thread(target=self._loop, name="horae-reporter", daemon=True)
        self._pending = 0  # put, not yet written (or given up on)
        self._lock = threading.Lock()  # taken bare by put(): Condition's __enter__ is Python
        self._written = threading.Condition(self._lock)

    def start(self) -> None:
        self._thread.start()

    def put(self, finish: Finish) -> None:
        with self._lock:
            self._pending += 1
        self._queue.put(finish)

    @property
    def backlog(self) -> int:
        """Outcomes waiting to be written, the batch being written included."""
        return self._pending

    def wait_below(self, n: int, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the backlog to drop below ``n``; whether it did."""
        with self._written:
            return self._written.wait_for(lambda: self._pending < n, timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Write what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _loop(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            batch: list[Finish] = []
            while item is not None and len(batch) < MAX_BATCH:
                batch.append(item)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    item = None
                    break
            else:
                stopping = item is None
            if item is not None:
                self._queue.put(item)  # over MAX_BATCH: next round
            if batch:
                try:
                    self._write(batch, final=stopping)
                finally:
                    with self._written:
                        self._pending -= len(batch)
                        self._written.notify_all()

    def _write(self, batch: list[Finish], final: bool) -> None:
        backoff = 0.1
        for attempt in range(1, 1_000_000):
            try:
                kept = self._store.runs_finish(self._worker_id, batch)
                break
            except Exception as exc:
                if final and attempt >= 5:
                    log.error("could not record %d outcomes (%s); their leases will expire "
                              "and the runs will be rescued", len(batch), exc)
                    return
                log.warning("recording %d outcomes failed (%s); retrying in %.1fs",
                            len(batch), exc, backoff)
                threading.Event().wait(backoff)
                backoff = min(backoff * 2, 5.0)
        for f, ok in zip(batch, kept, strict=True):
            if not ok:
                log.warning("run %s attempt %s: lease lost before it finished; outcome dropped",
                            f.run.id, f.run.attempt)
        if self._on_written is not None:
            self._on_written(batch)
