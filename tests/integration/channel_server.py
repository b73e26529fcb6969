"""A loopback HTTP server that records what notification channels POST to it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Received:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers every POST with ``status`` and ``answer``; ``hold`` set makes it wait
    (for timeout tests) until the test ends; ``redirect`` answers with that Location."""

    url: str
    received: list[Received] = field(default_factory=list)
    status: int = 200
    answer: bytes = b"ok"
    redirect: str | None = None
    redirect_status: int = 307
    hold: bool = False
    release: threading.Event = field(default_factory=threading.Event)

    def reply(self, status: int, answer: Any) -> None:
        self.status = status
        self.answer = answer if isinstance(answer, bytes) else json.dumps(answer).encode()


@contextmanager
def receiver() -> Iterator[Receiver]:
    state: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            parts = urlsplit(self.path)
            state.received.append(Received(
                parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()},
                {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)))
            if state.hold:
                state.release.wait(30)
            if state.redirect and len(state.received) == 1:
                self.send_response(state.redirect_status)
                self.send_header("Location", state.redirect)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            try:
                self.send_response(state.status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(state.answer)))
                self.end_headers()
                self.wfile.write(state.answer)
            except OSError:
                pass  # the client gave up (a timeout test)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state = Receiver(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
