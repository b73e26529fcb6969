"""API fixtures: an app with tasks on each backend, a client per role, a live server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from horae import Horae
from horae.api import ApiSettings, create_app
from horae.api.auth import Role, mint_token
from horae.store import RunFilter, Store
from horae.store.api_store import ApiStore
from horae.store.user_store import UserStore
from tests.api.apps import register
from tests.conftest import eventually

warnings.filterwarnings("ignore", message=".*httpx.*starlette.testclient.*")
from starlette.testclient import TestClient  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("viewer", "operator", "editor", "admin")


@pytest.fixture
def horae_app(database_url: str) -> Iterator[Horae]:
    app = register(Horae(database_url))
    yield app
    app.stop()


class Clients:
    """A TestClient per role (and one without a token) over one API app."""

    def __init__(self, horae: Horae, settings: ApiSettings | None = None) -> None:
        self.horae = horae
        self.app = create_app(horae, settings)
        self.api = self.app.state.api
        self.tokens: dict[str, str] = {}
        for role in ROLES:
            made = mint_token(self.api.store, f"{role}-client", Role.parse(role))
            assert made is not None
            self.tokens[role] = made[0]
        self.anonymous = TestClient(self.app, raise_server_exceptions=False)
        self._by_role = {role: self.client(token) for role, token in self.tokens.items()}

    def client(self, token: str | None) -> TestClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return TestClient(self.app, headers=headers, raise_server_exceptions=False)

    def __getitem__(self, role: str) -> TestClient:
        return self._by_role[role]

    @property
    def store(self) -> ApiStore:
        return self.api.store  # type: ignore[no-any-return]


@pytest.fixture
def clients(horae_app: Horae) -> Clients:
    return Clients(horae_app)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """``horae -A tests.api.apps:app server`` in a child process, with an admin token."""

    def __init__(self, db_url: str, log: Path, *extra: str) -> None:
        store = Store(db_url)
        store.migrate()
        made = mint_token(ApiStore(store), "test admin", Role.ADMIN)
        store.close()
        assert made is not None
        self.token = made[0]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT),
                                                           os.environ.get("PYTHONPATH", "")]))
        self.log = log
        self._out = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "horae.cli", "--db", db_url, "-A", "tests.api.apps:app",
             "server", "--port", str(self.port), "--grace", "5", "--log-level", "warning",
             *extra],
            env=env, cwd=ROOT, stdout=self._out, stderr=subprocess.STDOUT)
        eventually(self._healthy, timeout=30)

    def _healthy(self) -> bool:
        import httpx

        if self.proc.poll() is not None:
            raise AssertionError(f"server exited: {self.log.read_text()}")
        try:
            return httpx.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        return int(self.proc.returncode)


@pytest.fixture
def live_server(tmp_path: Path) -> Callable[..., LiveServer]:
    servers: list[LiveServer] = []

    def start(db_url: str, *extra: str) -> LiveServer:
        server = LiveServer(db_url, tmp_path / f"server{len(servers)}.log", *extra)
        servers.append(server)
        return server

    yield start  # type: ignore[misc]
    for server in servers:
        server.stop()


def snapshot(horae: Horae) -> dict[str, Any]:
    """What a refused request must leave unchanged."""
    store = horae.store
    api = ApiStore(store)
    return {
        "schedules": [s.to_dict() for s in store.schedule_list(limit=10_000)],
        "runs": [(r.id, r.state.value) for r in store.run_list(RunFilter(limit=10_000))],
        "audit": len(api.audit_list(limit=10_000)),
        "tokens": [(t.id, t.revoked_at) for t in api.tokens_list()],
        "users": UserStore(store).users_list(),
        "workflows": [w.to_dict() for w in store.workflow_list(limit=10_000)],
        "channels": [(c.to_dict(), store.channel_secrets(c.id)) for c in store.channel_list()],
    }
