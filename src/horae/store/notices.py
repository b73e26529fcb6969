"""PostgreSQL change notices, sent after commit from one connection of their own.

A ``NOTIFY`` inside a transaction makes its commit take a server-wide lock and hold it
through the commit's flush to disk, so every notifying writer of every process waits for
the previous one: four processes creating schedules one at a time reached 274/s with the
notice inside the transaction, against about 1,500/s without. Sending the notice after
commit, from a thread that coalesces what piled up meanwhile, takes that lock once per
burst, off the writers' path.

The cost is a window: a process that dies between its commit and the notice leaves the
change unannounced. Nothing is lost, only later: schedulers pass at least every
``max_sleep`` (1 s) and workers poll for work at least as often, whatever they hear.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger("horae.store")


class Notifier:
    """``send(channels)`` returns at once; a daemon thread NOTIFYs each channel soon after,
    once for everything sent since its last round."""

    def __init__(self, connect: Callable[[], Any], forget: Callable[[Any], None]) -> None:
        self._connect = connect
        self._forget = forget
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0  # NOTIFY rounds made: lets tests see that notices were coalesced

    def send(self, channels: Iterable[str]) -> None:
        with self._lock:
            self._pending.update(channels)
            if self._thread is None and not self._stopping.is_set():
                self._thread = threading.Thread(target=self._run, name="horae-notify",
                                                daemon=True)
                self._thread.start()
        self._wake.set()

    def close(self) -> None:
        """Send what is pending, then stop."""
        self._stopping.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5)

    def _take(self) -> list[str]:
        with self._lock:
            channels, self._pending = sorted(self._pending), set()
        return channels

    def _run(self) -> None:
        conn: Any = None
        backoff = 0.1
        while True:
            self._wake.wait()
            self._wake.clear()
            channels = self._take()
            try:
                if channels:
                    if conn is None or conn.closed:
                        conn = self._connect()
                    for channel in channels:
                        conn.execute(f"NOTIFY {channel}")
                    self.sent += 1
                backoff = 0.1
            except Exception as exc:  # the server is away: keep the notices, retry
                log.warning("could not send change notices (%s); retrying in %.1fs", exc,
                            backoff)
                with self._lock:
                    self._pending.update(channels)
                if conn is not None:
                    self._drop(conn)
                    conn = None
                if self._stopping.wait(backoff):
                    break
                backoff = min(backoff * 2, 5.0)
                self._wake.set()
                continue
            if self._stopping.is_set():
                break
        if conn is not None:
            self._drop(conn)

    def _drop(self, conn: Any) -> None:
        try:
            conn.close()
        finally:
            self._forget(conn)
