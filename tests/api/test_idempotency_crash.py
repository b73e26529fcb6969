"""An Idempotency-Key never outlives a crash: the key, the change and the stored answer
commit in one transaction, so whatever point the API process dies at, the retry with the
same key either performs the request (once) or replays its answer; never 409 forever,
never twice. On every backend, with real processes killed by SIGKILL."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from horae import Horae
from horae.api import create_app
from horae.api.auth import Role, mint_token
from horae.store import RunFilter, Store
from horae.store.api_store import ApiStore
from tests.api.apps import register
from tests.api.conftest import ROOT, Clients, LiveServer
from tests.api.crash_request import BODY
from tests.conftest import eventually

warnings.filterwarnings("ignore", message=".*httpx.*starlette.testclient.*")
from starlette.testclient import TestClient  # noqa: E402


def _crash(url: str, token: str, key: str, point: str) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT),
                                                       os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "tests.api.crash_request", url, token, key,
                           point], env=env, cwd=ROOT, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()


def _crash_runs(horae: Horae) -> list[int]:
    return [r.id for r in horae.store.run_list(RunFilter(task="scan", limit=1000))
            if r.kwargs == BODY["kwargs"]]


@pytest.mark.parametrize("point", ["inside", "after"])
def test_a_retry_after_the_process_died_performs_once_or_replays(
        database_url: str, point: str) -> None:
    if database_url == "sqlite:///:memory:":
        pytest.skip("two processes need a database they can share")
    store = Store(database_url)
    store.migrate()
    made = mint_token(ApiStore(store), "crasher", Role.OPERATOR)
    store.close()
    assert made is not None
    _crash(database_url, made[0], "k1", point)

    horae = register(Horae(database_url))
    try:
        client = TestClient(create_app(horae), headers={"Authorization": f"Bearer {made[0]}"},
                            raise_server_exceptions=False)
        before = _crash_runs(horae)
        retry = client.post("/api/v1/runs", json=BODY, headers={"Idempotency-Key": "k1"})
        assert retry.status_code == 201, retry.text
        after = _crash_runs(horae)
        if point == "inside":  # the change died with its transaction: performed now
            assert before == [] and after == [retry.json()["id"]]
            assert "idempotent-replayed" not in retry.headers
        else:  # the change and its answer committed: the answer comes back
            assert before == after == [retry.json()["id"]]
            assert retry.headers["idempotent-replayed"] == "true"
        again = client.post("/api/v1/runs", json=BODY, headers={"Idempotency-Key": "k1"})
        assert again.json()["id"] == retry.json()["id"] and _crash_runs(horae) == after
    finally:
        horae.stop()


def test_a_failure_after_the_commit_still_answers_and_replays(clients: Clients) -> None:
    """In one process: the change committed, then something failed before the answer (a
    subscriber raising stands in for a dying process). The key holds the answer."""
    failed = threading.Event()

    def fail_once() -> None:
        if not failed.is_set():
            failed.set()
            raise RuntimeError("the process fails right after the commit")

    clients.horae.store.db.subscribe("horae_runs", fail_once)
    key = {"Idempotency-Key": "after-commit"}
    first = clients["operator"].post("/api/v1/runs", json=BODY, headers=key)
    second = clients["operator"].post("/api/v1/runs", json=BODY, headers=key)
    assert failed.is_set()
    assert second.status_code == 201 and second.headers["idempotent-replayed"] == "true"
    assert first.status_code in (201, 500)
    assert _crash_runs(clients.horae) == [second.json()["id"]]


def test_concurrent_duplicates_perform_once(clients: Clients) -> None:
    key = {"Idempotency-Key": "twins"}
    answers: list[int] = []
    ids: list[int] = []

    def post() -> None:
        r = clients["operator"].post("/api/v1/runs", json=BODY, headers=key)
        answers.append(r.status_code)
        if r.status_code == 201:
            ids.append(r.json()["id"])

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert set(answers) <= {201, 409} and 201 in answers, answers
    assert len(set(ids)) == 1 and _crash_runs(clients.horae) == ids[:1]


LOCK = 727_811  # an advisory lock key the blocking trigger waits on


def _advisory_waiter(conn: psycopg.Connection) -> int | None:
    row = conn.execute("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                       " AND objid = %s", [LOCK]).fetchone()
    return None if row is None else int(row[0])


@pytest.mark.postgres
def test_a_server_killed_mid_request_leaves_the_key_free(
        pg_url: str, live_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    """A real ``horae server`` is killed with SIGKILL while its POST /runs is inside the
    change's transaction (a trigger holds it there on an advisory lock the test owns). The
    retry, on a new server, performs the request once."""
    import httpx

    server = live_server(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION crash_gate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            f" PERFORM pg_advisory_xact_lock({LOCK}); RETURN NEW; END $$")
        conn.execute("CREATE TRIGGER crash_gate BEFORE INSERT ON horae_audit FOR EACH ROW"
                     " WHEN (NEW.action = 'run.create') EXECUTE FUNCTION crash_gate()")
        conn.execute("SELECT pg_advisory_lock(%s)", [LOCK])
        headers = server.headers | {"Idempotency-Key": "killed"}
        url = f"{server.url}/api/v1/runs"
        sent = threading.Thread(target=lambda: _post_ignoring_errors(url, headers))
        sent.start()
        waiter = eventually(lambda: _advisory_waiter(conn), timeout=30)
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(timeout=30)
        sent.join(timeout=30)
        # the dead client's session would notice only when it next talks to it
        conn.execute("SELECT pg_terminate_backend(%s)", [waiter])
        conn.execute("SELECT pg_advisory_unlock(%s)", [LOCK])
        eventually(lambda: _advisory_waiter(conn) is None)
        conn.execute("DROP TRIGGER crash_gate ON horae_audit")

    again = live_server(pg_url)
    retry = httpx.post(f"{again.url}/api/v1/runs", json=BODY, timeout=30,
                       headers=headers)  # the first server's token: the same actor
    store = Store(pg_url)
    try:
        ids = [r.id for r in store.run_list(RunFilter(task="scan", limit=100))
               if r.kwargs == BODY["kwargs"]]
    finally:
        store.close()
    assert retry.status_code == 201, retry.text
    assert ids == [retry.json()["id"]]


def _post_ignoring_errors(url: str, headers: dict[str, str]) -> None:
    import httpx

    with contextlib.suppress(httpx.HTTPError):  # killed mid-request: no answer is the point
        httpx.post(url, json=BODY, headers=headers, timeout=60)
