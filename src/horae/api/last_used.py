"""Tokens' ``last_used_at``, written off the request path.

A request only notes in memory that a token was used; a background thread writes the
notes in batches. Bookkeeping never makes a request wait: behind a held SQLite write lock
the mark waits (and is retried), the request does not.
"""

from __future__ import annotations

import logging
import threading
import time

from horae.store.api_store import ApiStore

log = logging.getLogger("horae.api")


class LastUsed:
    """Marks of token use, at most one per token per ``every`` seconds."""

    def __init__(self, store: ApiStore, every: float = 60.0, retry: float = 5.0,
                 tries: int = 12) -> None:
        self.store = store
        self.every = every
        self.retry = retry
        # Marks are bookkeeping: after `tries` failed writes in a row (a minute by
        # default) they are dropped, so a database gone for good leaves no thread behind.
        self.tries = tries
        self._marked: dict[str, float] = {}  # token id -> when it was last noted (monotonic)
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._retry_wait = threading.Event()  # the pause between retries
        self._thread: threading.Thread | None = None
        self.written = 0  # marks written: lets tests wait for the flush

    def mark(self, token_id: str) -> None:
        """Note that ``token_id`` was used now; returns at once."""
        now = time.monotonic()
        with self._lock:
            if now - self._marked.get(token_id, -1e9) < self.every:
                return
            self._marked[token_id] = now
            self._pending.add(token_id)
            if self._thread is None:
                # A writer lives only while marks wait to be written: no thread lingers
                # in an idle process (or at its exit).
                self._thread = threading.Thread(target=self._run, name="horae-last-used",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        failures = 0
        while True:
            with self._lock:
                batch, self._pending = self._pending, set()
                if not batch:
                    self._thread = None
                    return
            failed = self._write(batch)
            if not failed:
                failures = 0
                continue
            failures += 1
            if failures >= self.tries:
                log.warning("gave up recording the last use of %d tokens after %d failed"
                            " writes", len(failed), failures)
                failures = 0  # not put back: dropped
                continue
            with self._lock:
                self._pending |= failed
            # The database is locked or away: wait before trying again.
            self._retry_wait.wait(self.retry)

    def _write(self, batch: set[str]) -> set[str]:
        """Write the marks; returns those that could not be written."""
        for token_id in sorted(batch):
            try:
                self.store.token_touch(token_id)
            except Exception as exc:
                log.warning("could not record the last use of token %s (%s); will retry",
                            token_id, exc)
                return {t for t in batch if t >= token_id}
            self.written += 1
        return set()
