"""The failed-authentication limit cannot be escaped nor turned into a lockout: addresses
come from the TCP peer unless a proxy is configured, a spray of addresses resets nothing,
passwords are throttled per account too, a valid token is never refused, and the counts
are shared by every API process on the database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from horae import Horae
from horae.api import ApiSettings
from horae.api.auth import Authenticator
from horae.api.limits import CACHE_SIZE, FailureLimits
from horae.api.passwords import hash_password
from horae.api.problems import ApiError
from horae.store.auth_store import AuthFailureStore
from horae.store.user_store import UserStore
from tests.api.apps import register
from tests.api.conftest import Clients, LiveServer
from tests.conftest import eventually

BAD = "hor_00000000_guess"
PASSWORD = "correct horse battery staple"


def _status(auth: Authenticator, client: str, token: str = BAD) -> int:
    try:
        auth.authenticate(f"Bearer {token}", client)
    except ApiError as exc:
        return exc.status
    return 200


def _password(auth: Authenticator, name: str, password: str, client: str) -> int:
    try:
        auth.authenticate_password(name, password, client)
    except ApiError as exc:
        return exc.status
    return 200


def test_a_valid_token_is_never_refused_from_a_throttled_address(horae_app: Horae) -> None:
    c = Clients(horae_app, ApiSettings(auth_failure_limit=3, auth_failure_window=60))
    bad = c.client(BAD)
    assert [bad.get("/api/v1/runs").status_code for _ in range(4)] == [401, 401, 401, 429]
    # The address is throttled for guesses, but its owner's valid token still works.
    assert c["admin"].get("/api/v1/runs").status_code == 200
    assert bad.get("/api/v1/runs").status_code == 429


def test_ten_thousand_spoofed_addresses_do_not_reset_an_attacked_address(
        tmp_path: Path) -> None:
    horae = register(Horae(f"sqlite:///{tmp_path}/spray.db"))
    try:
        c = Clients(horae, ApiSettings(auth_failure_limit=3, auth_failure_window=600))
        auth = c.api.auth
        attacked = "192.0.2.1"
        assert [_status(auth, attacked) for _ in range(4)] == [401, 401, 401, 429]
        for i in range(10_050):
            assert _status(auth, f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}") == 401
        assert _status(auth, attacked) == 429
        # The counts stay in the database; what the process remembers is bounded.
        fresh = FailureLimits(AuthFailureStore(horae.store), 3, 600)
        assert fresh.retry_after(["addr:" + attacked]) > 0
        assert len(auth.limits._locked) <= CACHE_SIZE
    finally:
        horae.stop()



def test_two_api_processes_share_the_limit(shared_db_url: str) -> None:
    settings = ApiSettings(auth_failure_limit=4, auth_failure_window=60)
    one, two = register(Horae(shared_db_url)), register(Horae(shared_db_url))
    try:
        a, b = Clients(one, settings), Clients(two, settings)
        assert [a.client(BAD).get("/api/v1/runs").status_code for _ in range(2)] == [401] * 2
        assert [b.client(BAD).get("/api/v1/runs").status_code for _ in range(2)] == [401] * 2
        # Four failures in all: the fifth is refused by either process.
        assert a.client(BAD).get("/api/v1/runs").status_code == 429
        assert b.client(BAD).get("/api/v1/runs").status_code == 429
        assert b["viewer"].get("/api/v1/runs").status_code == 200
    finally:
        one.stop()
        two.stop()


def test_password_guesses_are_throttled_per_account_from_any_address(
        clients: Clients) -> None:
    users = UserStore(clients.horae.store)
    users.user_add("ada", "viewer", hash_password(PASSWORD))
    users.user_add("bob", "viewer", hash_password(PASSWORD))
    limits = FailureLimits(AuthFailureStore(clients.horae.store), limit=100, window=60,
                           account_limit=3)
    auth = Authenticator(clients.store, limits)
    # Guesses spread over addresses, each far under the per-address limit.
    assert [_password(auth, "ada", f"guess number {i}", f"10.0.0.{i}")
            for i in range(3)] == [401, 401, 401]
    # The account is throttled: even the right password gets 429 (a throttled attempt is
    # refused before the password is checked, so it reveals nothing).
    assert _password(auth, "ada", PASSWORD, "10.0.0.99") == 429
    # Another account, and tokens, are untouched.
    assert _password(auth, "bob", PASSWORD, "10.0.0.0") == 200
    assert _status(auth, "10.0.0.0", clients.tokens["viewer"]) == 200


def test_failure_counts_are_pruned_after_their_window(horae_app: Horae) -> None:
    store = AuthFailureStore(horae_app.store)
    store.fail([f"addr:10.1.0.{i}" for i in range(50)], window=0.2)
    assert store.count_rows() == 50
    eventually(lambda: all(c.wait(1, 0.2) == 0 for c in store.counts(["addr:10.1.0.0"])))
    store.fail(["addr:10.1.1.1"], window=0.2, prune=True)
    assert store.count_rows() == 1


# -- a real server: who decides the client address --------------------------------------


def _guess(server: LiveServer, forwarded_for: str) -> int:
    return httpx.get(f"{server.url}/api/v1/runs", timeout=10, headers={
        "Authorization": f"Bearer {BAD}", "X-Forwarded-For": forwarded_for}).status_code


@pytest.mark.system
def test_a_spoofed_forwarded_for_does_not_change_the_counted_address(
        live_server: Callable[..., LiveServer], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HORAE_API_AUTH_FAILURE_LIMIT", "3")
    server = live_server(f"sqlite:///{tmp_path}/xff.db")
    codes = [_guess(server, f"203.0.113.{i}") for i in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    assert httpx.get(f"{server.url}/api/v1/runs", headers=server.headers).status_code == 200


@pytest.mark.system
def test_forwarded_for_is_believed_from_a_configured_proxy(
        live_server: Callable[..., LiveServer], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HORAE_API_AUTH_FAILURE_LIMIT", "3")
    server = live_server(f"sqlite:///{tmp_path}/proxy.db", "--trusted-proxies", "127.0.0.1")
    # Behind the proxy, each client is counted under its own forwarded address.
    assert [_guess(server, f"203.0.113.{i}") for i in range(5)] == [401] * 5
    assert [_guess(server, "198.51.100.7") for _ in range(4)] == [401, 401, 401, 429]


def test_trusted_proxies_must_be_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    from horae.api.server import trusted_proxies
    from horae.errors import InvalidInput

    monkeypatch.delenv("HORAE_TRUSTED_PROXIES", raising=False)
    assert trusted_proxies() == []
    assert trusted_proxies("10.0.0.5, 10.1.0.0/16,::1") == ["10.0.0.5", "10.1.0.0/16", "::1"]
    monkeypatch.setenv("HORAE_TRUSTED_PROXIES", "192.0.2.9")
    assert trusted_proxies() == ["192.0.2.9"]
    with pytest.raises(InvalidInput) as bad:
        trusted_proxies("*")
    assert bad.value.field == "trusted_proxies" and "'*'" in bad.value.reason
