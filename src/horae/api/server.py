"""Serving the API with uvicorn in a thread, beside the scheduler and the worker."""

from __future__ import annotations

import contextlib
import ipaddress
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
from horae.config import setting
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
            "Open the web console (the `console` address below) and sign in with it. Keep "
            "it safe; programs send it as 'Authorization: Bearer <token>'. Make tokens for "
            "people and programs with `horae tokens create --role viewer|operator|editor`, "
            "and console users with `horae users create NAME --role editor`.\n\n")
        stream.flush()
    return token


def trusted_proxies(value: str | None = None) -> list[str]:
    """The proxy addresses whose ``X-Forwarded-For``/``-Proto`` the server believes: the
    explicit value, else HORAE_TRUSTED_PROXIES, else ``trusted_proxies`` in horae.toml; a
    comma-separated list of IP addresses or networks. None given: no proxy is trusted and
    every request counts as coming from its TCP peer (any local process could otherwise
    pick its address with a header, and escape or aim the failed-authentication limit)."""
    raw = setting("trusted_proxies", value)
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else str(raw).split(",")
    proxies = []
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise InvalidInput("trusted_proxies",
                               f"{item!r} is not an IP address or network (e.g. 10.0.0.5 or "
                               "10.0.0.0/24); name the proxies in front of the API") from None
        proxies.append(item)
    return proxies


class ApiServer:
    """uvicorn serving :func:`create_app` on ``host:port`` (0: any free port).
    Forwarded headers are believed only from ``trusted_proxies`` (see
    :func:`trusted_proxies`)."""

    def __init__(self, horae: Horae, host: str = "127.0.0.1", port: int = 8765,
                 settings: ApiSettings | None = None, log_level: str = "warning",
                 proxies: str | None = None) -> None:
        self.horae = horae
        self.host = host
        self.port = port
        self.app = create_app(horae, settings or ApiSettings.from_config())
        self.api: Api = self.app.state.api
        self.trusted_proxies = trusted_proxies(proxies)
        limits = self.api.settings
        self._config = uvicorn.Config(ServerTiming(self.app), host=host, port=port,
                                      log_level=log_level, lifespan="off", access_log=False,
                                      timeout_graceful_shutdown=5,
                                      proxy_headers=bool(self.trusted_proxies),
                                      forwarded_allow_ips=self.trusted_proxies,
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
