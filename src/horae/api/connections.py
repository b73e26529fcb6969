"""Connections the API server closes: idle ones, and slow ones (slowloris).

uvicorn closes a connection that stays idle after a response (``timeout_keep_alive``), but
not one that never completes its first request: a socket that connects and sends nothing,
or sends its headers a byte at a time, would stay open forever and a thousand of them use
up the process's file descriptors. :func:`guarded_protocol` gives each request a deadline
for its headers, counted from the connection (or from the previous response, plus the
keep-alive time); a client that has not sent complete headers by then is disconnected,
however many bytes it trickles.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("horae.api")


def guarded_protocol(header_timeout: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a deadline of ``header_timeout`` seconds per request's
    headers."""

    class GuardedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm(header_timeout)

        def handle_events(self) -> None:
            super().handle_events()
            if self.conn.their_state is not h11.IDLE:  # the headers are in
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                # The client has the keep-alive time to start its next request (uvicorn
                # closes a silent one), then the header time to finish it.
                self._arm(self.timeout_keep_alive + header_timeout)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self, seconds: float) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(seconds, self._headers_late)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_late(self) -> None:
            self._header_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

    return GuardedH11Protocol


def raise_open_files_limit() -> int:
    """Raise this process's soft limit of open files to its hard limit (many systems start
    processes at 1024, which a thousand connections exhaust); returns the limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    infinite = resource.RLIM_INFINITY
    if soft == infinite:
        return 1 << 30
    target = max(soft, 1 << 16) if hard == infinite else hard
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:  # pragma: no cover - depends on the system
            log.warning("could not raise the open-files limit from %d (%s)", soft, exc)
    return int(soft)
