"""Clean answers where the API used to fail with a 500 or to wait (issue #10, items 12-14):
JSON nested too deep, a console preview of nothing, a database locked past the busy
timeout, full or gone (503 + Retry-After), readiness naming the failing part, and a
token's last-use mark that never makes a request wait."""

from __future__ import annotations

import contextlib
import re
import socket
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from horae import Horae
from horae.api.app import EVENT_OPERATIONS
from horae.api.routes import OPERATIONS
from horae.api.user_routes import USER_OPERATIONS
from horae.console import mount_console
from tests.api.apps import register
from tests.api.conftest import Clients
from tests.conftest import eventually

warnings.filterwarnings("ignore", message=".*httpx.*starlette.testclient.*")
from starlette.testclient import TestClient  # noqa: E402

DEEP = "[" * 100_000 + "]" * 100_000  # 200 KB: under the body limit, far past any depth


@pytest.fixture
def sqlite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Horae]:
    """A Horae on a SQLite file whose connections wait 0.5 s for a write lock."""
    monkeypatch.setenv("HORAE_SQLITE_BUSY_TIMEOUT", "0.5")
    app = register(Horae(f"sqlite:///{tmp_path}/locked.db"))
    yield app
    app.stop()


class WriteLock:
    """Another connection holding the SQLite write lock (``BEGIN IMMEDIATE``)."""

    def __init__(self, horae: Horae) -> None:
        path = horae.store.db.path  # type: ignore[attr-defined]
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    def __enter__(self) -> WriteLock:
        self.conn.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


def _body_operations() -> list[Any]:
    return [op for op in (*OPERATIONS, *USER_OPERATIONS, *EVENT_OPERATIONS)
            if op.body is not None]


def _path(op: Any) -> str:
    path = re.sub(r"{\w+:int}", "1", op.path)
    return "/api/v1" + re.sub(r"{\w+}", "x", path)


def test_json_nested_too_deep_is_a_400_naming_the_body_on_every_json_endpoint(
        clients: Clients) -> None:
    operations = _body_operations()
    assert len(operations) >= 8
    for op in operations:
        r = clients["admin"].request(op.method, _path(op), content=DEEP,
                                     headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (op.operation_id, r.status_code, r.text[:300])
        problem = r.json()
        assert problem["errors"] == [{"field": "body",
                                      "reason": "nested deeper than 64 levels"}], problem
        assert r.headers["content-type"] == "application/problem+json"


def test_json_as_deep_as_allowed_is_still_parsed(clients: Clients) -> None:
    nested: Any = "leaf"
    for _ in range(60):
        nested = [nested]
    r = clients["operator"].post("/api/v1/runs", json={"task": "scan", "kwargs": {
        "targets": ["a"], "port": nested}})
    assert r.status_code == 422  # parsed, then refused by the task's schema: no depth error
    assert r.json()["errors"][0]["field"].startswith("kwargs"), r.json()


def test_a_write_behind_a_sqlite_lock_held_past_the_busy_timeout_is_a_503_with_retry_after(
        sqlite_file: Horae) -> None:
    c = Clients(sqlite_file)
    with WriteLock(sqlite_file):
        r = c["editor"].post("/api/v1/schedules", json={
            "id": "blocked", "task": "scan", "kwargs": {"targets": ["a"]},
            "trigger": {"kind": "interval", "seconds": 60}})
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "1"
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/database-unavailable")
    assert "locked" in r.json()["detail"]
    # The lock gone, the same request succeeds.
    assert c["editor"].post("/api/v1/schedules", json={
        "id": "blocked", "task": "scan", "kwargs": {"targets": ["a"]},
        "trigger": {"kind": "interval", "seconds": 60}}).status_code == 201


def test_a_full_database_is_a_503_with_retry_after() -> None:
    # An in-memory database has one connection: capping its pages makes it "full" for
    # every request, as a full disk would.
    horae = register(Horae("sqlite:///:memory:"))
    try:
        c = Clients(horae)
        with horae.store.db.read() as tx:
            pages = tx.one("PRAGMA page_count")
            assert pages is not None
            tx.one(f"PRAGMA max_page_count = {int(pages['page_count'])}")
        r = c["operator"].post("/api/v1/runs", json={
            "task": "scan", "kwargs": {"targets": ["x" * 1000] * 200}})
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "5"
        assert "full" in r.json()["detail"]
    finally:
        horae.stop()


class Relay:
    """A TCP relay to PostgreSQL that the test can cut: the database "goes away" for this
    app only (other tests share the server)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


@pytest.mark.postgres
def test_postgresql_gone_is_a_503_with_retry_after(pg_url: str) -> None:
    parsed = urlparse(pg_url)
    relay = Relay(parsed.hostname or "127.0.0.1", parsed.port or 5432)
    horae = register(Horae(pg_url.replace(f"{parsed.hostname}:{parsed.port or 5432}",
                                          f"127.0.0.1:{relay.port}", 1)))
    try:
        c = Clients(horae)
        assert c["viewer"].get("/api/v1/runs").status_code == 200
        relay.cut()
        for _ in range(3):  # a broken connection, then refused ones
            r = c["operator"].post("/api/v1/runs", json={"task": "scan",
                                                         "kwargs": {"targets": ["a"]}})
            assert r.status_code == 503, r.text
            assert r.headers["retry-after"] == "5"
            assert r.json()["type"].endswith("/database-unavailable")
    finally:
        relay.cut()
        horae.stop()


def test_an_authenticated_read_does_not_wait_for_the_last_use_mark(
        sqlite_file: Horae) -> None:
    c = Clients(sqlite_file)
    token_id = c.tokens["viewer"].split("_")[1]
    assert c.store.token_get(token_id).last_used_at is None  # type: ignore[union-attr]
    with WriteLock(sqlite_file):
        start = time.monotonic()
        r = c["viewer"].get("/api/v1/schedules")
        took = time.monotonic() - start
        assert r.status_code == 200, r.text
        assert took < 0.4, f"the read waited {took:.2f}s behind the write lock"
    # The mark is written once the lock is gone.
    eventually(lambda: c.store.token_get(token_id).last_used_at is not None, timeout=15)


# -- readiness ---------------------------------------------------------------------------


def test_liveness_and_readiness_name_each_check(sqlite_file: Horae) -> None:
    sqlite_file.start(scheduler=True, worker=True, queues=["default"])
    c = Clients(sqlite_file)
    ready = eventually(lambda: (r := c.anonymous.get("/api/v1/health/ready")).status_code
                       == 200 and r)
    body = ready.json()
    assert body["status"] == "ok"
    assert {k: v["status"] for k, v in body["checks"].items()} == {
        "database": "ok", "scheduler": "ok", "worker": "ok"}
    assert body["checks"]["scheduler"]["age"] < 60
    with WriteLock(sqlite_file):
        for path in ("/api/v1/health/ready", "/api/v1/health"):
            r = c.anonymous.get(path)
            assert r.status_code == 503, (path, r.text)
            assert r.headers["retry-after"] == "5"
            checks = r.json()["checks"]
            assert checks["database"]["status"] == "failing"
            assert "locked" in checks["database"]["detail"]
        live = c.anonymous.get("/api/v1/health/live")
        assert live.status_code == 200 and live.json()["status"] == "ok"
    # Ready again once the lock is gone (the worker's next heartbeat succeeds).
    eventually(lambda: c.anonymous.get("/api/v1/health/ready").status_code == 200)


def test_readiness_names_a_stopped_scheduler(sqlite_file: Horae) -> None:
    sqlite_file.start(scheduler=True, worker=False)
    c = Clients(sqlite_file)
    first = c.anonymous.get("/api/v1/health/ready")
    assert first.status_code == 200  # no worker here: absent, not failing
    assert first.json()["checks"]["worker"]["status"] == "absent"
    sqlite_file.scheduler.stop()
    r = c.anonymous.get("/api/v1/health/ready")
    assert r.status_code == 503
    assert r.json()["checks"]["scheduler"]["status"] == "stopped"
    assert r.json()["checks"]["database"]["status"] == "ok"


def test_readiness_names_a_failing_scheduler(sqlite_file: Horae) -> None:
    sqlite_file.schedules.add("due", "scan", {"kind": "interval", "seconds": 1},
                              kwargs={"targets": ["a"]})
    sqlite_file.start(scheduler=True, worker=False)
    c = Clients(sqlite_file)
    with WriteLock(sqlite_file):
        # Its next fire needs the write lock: the pass fails after the busy timeout.
        checks = eventually(lambda: (r := c.anonymous.get("/api/v1/health/ready")).json()[
            "checks"]["scheduler"]["status"] == "failing" and r.json()["checks"])
        assert "locked" in checks["scheduler"]["detail"]
    eventually(lambda: c.anonymous.get("/api/v1/health/ready").status_code == 200)


def test_the_sqlite_wal_is_bounded(tmp_path: Path) -> None:
    horae = Horae(f"sqlite:///{tmp_path}/wal.db")
    try:
        with horae.store.db.read() as tx:
            row = tx.one("PRAGMA journal_size_limit")
        assert row is not None and list(row.values()) == [64 * 1024 * 1024]
    finally:
        horae.stop()


# -- the console's preview ------------------------------------------------------------------


@pytest.fixture
def console_site(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    from horae.api import create_app
    from horae.api.auth import Role, mint_token
    from horae.store.api_store import ApiStore

    horae = Horae(f"sqlite:///{tmp_path}/console.db")
    app = create_app(horae)
    mount_console(app, horae)
    client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    made = mint_token(ApiStore(horae.store), "editor", Role.EDITOR)
    assert made is not None
    page = client.get("/login")
    anon_csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert anon_csrf is not None
    assert client.post("/login", data={"csrf": anon_csrf.group(1),
                                       "token": made[0]}).status_code == 303
    home = client.get("/schedules/new")
    csrf = re.search(r'name="csrf" value="([^"]+)"', home.text)
    assert csrf is not None
    yield client, csrf.group(1)
    horae.stop()


def test_console_preview_of_an_empty_object_is_a_422_naming_the_trigger(
        console_site: tuple[TestClient, str]) -> None:
    client, csrf = console_site
    headers = {"X-CSRF-Token": csrf}
    r = client.post("/preview", json={}, headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": "trigger", "reason": "required: a JSON object "
                                   "(the trigger being edited)",
                                   "code": "trigger.required", "params": {}}]
    assert client.post("/preview", json=[], headers=headers).json()["errors"][0]["field"] \
        == "body"
    deep = client.post("/preview", content=DEEP, headers=headers)
    assert deep.status_code == 400 and deep.json()["errors"][0]["field"] == "body"
    ok = client.post("/preview", json={"trigger": {"kind": "interval", "seconds": 60}},
                     headers=headers)
    assert ok.status_code == 200 and len(ok.json()["fires"]) == 10


def test_a_console_form_over_its_bound_is_a_413(
        console_site: tuple[TestClient, str]) -> None:
    client, csrf = console_site
    form = {"csrf": csrf, "lang": "en", "next": "/" + "x" * 100_000}
    r = client.post("/language", data=form)
    assert r.status_code == 413, r.text
    assert r.json()["type"].endswith("/body-too-large")


def test_any_declared_body_over_the_limit_is_a_413_before_it_is_read(
        console_site: tuple[TestClient, str]) -> None:
    client, _csrf = console_site
    client.cookies.clear()  # anonymous: refused before authentication too
    huge = str(400 * 1024 * 1024)

    def body() -> Iterator[bytes]:
        raise AssertionError("the body must not be read")
        yield b""  # pragma: no cover

    for path in ("/login", "/api/v1/runs", "/nowhere"):
        r = client.post(path, content=body(), headers={
            "Content-Length": huge, "Content-Type": "application/json"})
        assert r.status_code == 413, (path, r.status_code)
        assert r.headers["connection"] == "close"



def test_last_use_marks_are_dropped_after_their_tries_and_no_writer_lingers(
        sqlite_file: Horae) -> None:
    from horae.api.last_used import LastUsed

    store = sqlite_file.store
    with store.db.write() as tx:  # every write of a mark now fails
        tx.run("ALTER TABLE horae_api_tokens RENAME TO horae_api_tokens_away")
    marks = LastUsed(store, retry=0.01, tries=3)
    marks.mark("t1")
    eventually(lambda: marks._thread is None, timeout=10)  # gave up, and ended
    with store.db.write() as tx:
        tx.run("ALTER TABLE horae_api_tokens_away RENAME TO horae_api_tokens")
    assert marks.written == 0 and not marks._pending
