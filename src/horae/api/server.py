"""Serving the API with uvicorn in a thread, beside the scheduler and the worker."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from typing import TextIO

import uvicorn

from horae.api.app import Api, ApiSettings, create_app
from horae.api.auth import ensure_admin_token
from horae.api.connections import guarded_protocol, raise_open_files_limit
from horae.api.timing import ServerTiming
from horae.app import Horae
from horae.errors import InvalidInput
from horae.store.api_store import ApiStore

log = logging.getLogger("horae.api")


def announce_first_token(horae: Horae, out: TextIO | None = None) -> str | None:
    """With no token at all, create an admin token and print it, once, ever."""
    token = ensure_admin_token(ApiStore(horae.store))
    if token is not None:
        stream = out or sys.stderr
        stream.write(
            "\nNo API token existed, so an admin token was created. It is shown only now:\n\n"
            f"    {token}\n\n"
            "Keep it safe (send it as 'Authorization: Bearer <token>'); make tokens for "
            "people and programs with `horae tokens create --role viewer|operator|editor`.\n\n")
        stream.flush()
    return token


class ApiServer:
    """uvicorn serving :func:`create_app` on ``host:port`` (0: any free port)."""

    def __init__(self, horae: Horae, host: str = "127.0.0.1", port: int = 8765,
                 settings: ApiSettings | None = None, log_level: str = "warning") -> None:
        self.horae = horae
        self.host = host
        self.port = port
        self.app = create_app(horae, settings or ApiSettings.from_config())
        self.api: Api = self.app.state.api
        limits = self.api.settings
        self._config = uvicorn.Config(ServerTiming(self.app), host=host, port=port,
                                      log_level=log_level, lifespan="off", access_log=False,
                                      timeout_graceful_shutdown=5,
                                      http=guarded_protocol(limits.header_timeout),
                                      timeout_keep_alive=limits.keep_alive,
                                      limit_concurrency=limits.max_connections)
        self._server = uvicorn.Server(self._config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/api/v1"

    def start(self) -> None:
        open_files = raise_open_files_limit()
        if open_files < self.api.settings.max_connections + 64:
            log.warning("this process may open only %d files: fewer than max_connections "
                        "(%d) allows; raise `ulimit -n`", open_files,
                        self.api.settings.max_connections)
        announce_first_token(self.horae)
        self._thread = threading.Thread(target=self._run, name="horae-api", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise InvalidInput("port", f"the API cannot listen on {self.host}:{self.port} "
                                           "(is the port in use?); give --port or --no-api")
            time.sleep(0.01)
        sockets = self._server.servers[0].sockets if self._server.servers else []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])

    def _run(self) -> None:
        with contextlib.suppress(SystemExit):  # uvicorn exits when it cannot bind
            self._server.run()

    def stop(self, grace: float = 5.0) -> None:
        self.api.stopping.set()
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=max(grace, 1.0) + 10)
