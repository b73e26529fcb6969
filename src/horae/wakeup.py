"""Waking loops when something changed, so they sleep until due instead of polling fast.

Three sources feed one event: commits in this process (the store signals them), PostgreSQL
``NOTIFY`` from other processes and hosts, and for SQLite shared between processes, a
cheap poll supplied by the caller (the schedules' change counter, or "is work waiting").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from horae.store import Database
from horae.store.connection import PostgresDatabase

log = logging.getLogger("horae.wakeup")


class Waker:
    def __init__(
        self,
        db: Database,
        channels: Sequence[str],
        *,
        poll: Callable[[], bool] | None = None,
        poll_interval: float = 0.05,
    ) -> None:
        self._db = db
        self._channels = list(channels)
        self._poll = poll
        self._poll_interval = poll_interval
        self._event = threading.Event()
        self._stopping = threading.Event()
        self._listener: threading.Thread | None = None

    def start(self) -> None:
        for channel in self._channels:
            self._db.subscribe(channel, self._event.set)
        if isinstance(self._db, PostgresDatabase):
            self._listener = threading.Thread(
                target=self._listen, args=(self._db,), name="horae-listen", daemon=True
            )
            self._listener.start()

    def stop(self) -> None:
        self._stopping.set()
        self._event.set()
        for channel in self._channels:
            self._db.unsubscribe(channel, self._event.set)
        if self._listener is not None:
            self._listener.join(timeout=5)

    def set(self) -> None:
        # Already set: the waiter has yet to clear it, and it clears before it looks, so
        # it sees what changed before this call (Event.set takes a lock: a busy worker
        # calls this once per finished run).
        if not self._event.is_set():
            self._event.set()

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` s; True if woken by a change."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            left = deadline - time.monotonic()
            step = left if self._poll is None else min(left, self._poll_interval)
            if self._event.wait(max(0.0, step)):
                self._event.clear()
                return True
            if left <= 0 or self._stopping.is_set():
                return False
            if self._poll is not None and self._safe_poll():
                return True

    def _safe_poll(self) -> bool:
        assert self._poll is not None
        try:
            return self._poll()
        except Exception:  # the database is away; the owning loop reports and backs off
            return False

    def _listen(self, db: PostgresDatabase) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            try:
                conn = db.connect()
                try:
                    for channel in self._channels:
                        conn.execute(f"LISTEN {channel}")
                    # Whatever happened while we were not listening counts as a change.
                    self._event.set()
                    backoff = 0.1
                    while not self._stopping.is_set():
                        for _ in conn.notifies(timeout=0.5):
                            self._event.set()
                finally:
                    conn.close()
                    db.forget(conn)
            except Exception as exc:
                log.warning("LISTEN connection lost (%s); retrying in %.1fs", exc, backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)
