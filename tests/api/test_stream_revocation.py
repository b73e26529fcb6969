"""Open event and log streams end once their credentials no longer hold: a revoked token,
a disabled user, a signed-out console session. A real ``horae server`` (uvicorn), whose
streams re-check their principal every half second here (HORAE_API_AUTH_RECHECK)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from horae.api.auth import Role, mint_token
from horae.api.passwords import hash_password
from horae.store import Store
from horae.store.api_store import ApiStore
from horae.store.user_store import UserStore
from tests.api.conftest import LiveServer
from tests.api.test_events import sse_events

PASSWORD = "correct horse battery staple"
SSE = {"Accept": "text/event-stream"}
# A quiet stream sends a keep-alive every 15 s; a stream that outlives its credentials
# would still be open when this read timeout passes.
READ = httpx.Timeout(10.0)

pytestmark = pytest.mark.system


@pytest.fixture
def server(live_server: Callable[..., LiveServer], tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LiveServer, Store]]:
    monkeypatch.setenv("HORAE_API_AUTH_RECHECK", "0.5")
    url = f"sqlite:///{tmp_path}/streams.db"
    started = live_server(url)
    store = Store(url)
    yield started, store
    store.close()


def _token(store: Store) -> tuple[str, str]:
    made = mint_token(ApiStore(store), "streamer", Role.VIEWER)
    assert made is not None
    return made[0], made[1].id


def _until_end(response: httpx.Response) -> list[str]:
    """Every event the stream still sends, until it ends (ReadTimeout if it never does)."""
    return [e["event"] for e in sse_events(response)]


def test_the_event_stream_ends_when_its_token_is_revoked(
        server: tuple[LiveServer, Store]) -> None:
    live, store = server
    token, token_id = _token(store)
    with httpx.stream("GET", f"{live.url}/api/v1/events", timeout=READ,
                      headers=SSE | {"Authorization": f"Bearer {token}"}) as response:
        assert response.status_code == 200
        ApiStore(store).token_revoke(token_id)
        assert _until_end(response)[-1:] == ["unauthorized"]
    again = httpx.get(f"{live.url}/api/v1/events", headers=SSE | {
        "Authorization": f"Bearer {token}"})
    assert again.status_code == 401


def test_the_log_stream_ends_when_its_token_is_revoked(
        server: tuple[LiveServer, Store], tmp_path: Path) -> None:
    live, store = server
    token, token_id = _token(store)
    gate = tmp_path / "gate"
    created = httpx.post(f"{live.url}/api/v1/runs", headers=live.headers, json={
        "task": "gated", "kwargs": {"gate": str(gate)}})
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]
    try:
        with httpx.stream("GET", f"{live.url}/api/v1/runs/{run_id}/logs?follow=true",
                          timeout=READ,
                          headers=SSE | {"Authorization": f"Bearer {token}"}) as response:
            assert response.status_code == 200
            ApiStore(store).token_revoke(token_id)
            events = _until_end(response)
            assert events[-1:] == ["unauthorized"] and "end" not in events
    finally:
        gate.touch()


def _console(live: LiveServer, name: str) -> httpx.Client:
    """A browser-like client signed in to the console as the user ``name``."""
    client = httpx.Client(base_url=live.url, timeout=READ)
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    signed = client.post("/login", data={"csrf": csrf.group(1), "name": name,
                                         "password": PASSWORD})
    assert signed.status_code == 303, signed.text
    return client


def _csrf(client: httpx.Client) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/account").text)
    assert found is not None
    return found.group(1)


def test_a_console_stream_ends_at_sign_out(server: tuple[LiveServer, Store]) -> None:
    live, store = server
    UserStore(store).user_add("ada", "viewer", hash_password(PASSWORD))
    client = _console(live, "ada")
    csrf = _csrf(client)
    with client.stream("GET", "/api/v1/events", headers=SSE) as response:
        assert response.status_code == 200
        # Sign out from another tab of the same browser (same cookie).
        other = httpx.Client(base_url=live.url, cookies=client.cookies)
        assert other.post("/logout", data={"csrf": csrf}).status_code == 303
        assert _until_end(response)[-1:] == ["unauthorized"]
    other.close()
    client.close()


def test_a_console_stream_ends_when_its_user_is_disabled(
        server: tuple[LiveServer, Store]) -> None:
    live, store = server
    ada = UserStore(store).user_add("ada", "viewer", hash_password(PASSWORD))
    client = _console(live, "ada")
    with client.stream("GET", "/api/v1/events", headers=SSE) as response:
        assert response.status_code == 200
        UserStore(store).user_update(ada.id, disabled=True)
        assert _until_end(response)[-1:] == ["unauthorized"]
    client.close()
