"""Console sign-in without a browser: a user name and password or a token, and failed
password sign-ins counted by the API's failure limit (429). On every backend."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator

import pytest

from horae import Horae
from horae.api import ApiSettings, create_app
from horae.api.auth import Role, mint_token
from horae.api.passwords import hash_password
from horae.console import mount_console
from horae.store.api_store import ApiStore
from horae.store.console_store import ConsoleStore
from horae.store.user_store import UserStore

warnings.filterwarnings("ignore", message=".*httpx.*starlette.testclient.*")
from starlette.testclient import TestClient  # noqa: E402

PASSWORD = "correct horse battery staple"


@pytest.fixture
def site(database_url: str) -> Iterator[tuple[Horae, TestClient]]:
    horae = Horae(database_url)
    app = create_app(horae, ApiSettings(auth_failure_limit=3, auth_failure_window=60))
    mount_console(app, horae)
    yield horae, TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    horae.stop()


def _login(client: TestClient, **form: str) -> int:
    page = client.get("/login")
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match is not None
    return client.post("/login", data={"csrf": match.group(1), **form}).status_code


def test_password_sign_in_shares_the_failure_limit_with_tokens(
        site: tuple[Horae, TestClient]) -> None:
    horae, client = site
    user = UserStore(horae.store).user_add("ada", "editor", hash_password(PASSWORD))
    assert _login(client, name="ada", password=PASSWORD) == 303
    session_id = ConsoleStore(horae.store).sessions_of_user(user.id)
    assert len(session_id) == 1
    # The session calls the API as the user (the bridge), with the user's role.
    me = client.get("/api/v1/schedules")
    assert me.status_code == 200
    assert client.get("/api/v1/users").status_code == 403
    client.cookies.clear()
    assert [_login(client, name="ada", password="wrong password!"),
            _login(client, name="nobody", password=PASSWORD),
            _login(client, token="hor_00000000_guess")] == [401, 401, 401]
    # Past the limit, even the right password gets 429 from this address (nothing is
    # learnt from a throttled attempt); a valid token is never refused.
    assert _login(client, name="ada", password=PASSWORD) == 429
    made = mint_token(ApiStore(horae.store), "t", Role.ADMIN)
    assert made is not None
    assert _login(client, token=made[0]) == 303
    assert len(ConsoleStore(horae.store).sessions_of_user(user.id)) == 1


def test_a_session_is_a_tokens_or_a_users_never_the_other(
        site: tuple[Horae, TestClient]) -> None:
    from horae.console.auth import Sessions, session_id

    horae, _client = site
    sessions = Sessions(ConsoleStore(horae.store))
    user = UserStore(horae.store).user_add("ada", "viewer", hash_password(PASSWORD))
    made = mint_token(ApiStore(horae.store), "t", Role.ADMIN)
    assert made is not None
    _token, record = made
    as_user, user_cookie = sessions.start_user(user.id, "ada", "viewer")
    as_token, token_cookie = sessions.start(record.id, "t", "admin")
    assert sessions.resolve(user_cookie) == as_user and as_user.user_id == user.id
    assert sessions.resolve(token_cookie) == as_token and as_token.session.token_id == record.id
    # The cookie is a random secret; the database keeps only its hash.
    assert as_token.session.id == session_id(token_cookie) != token_cookie
    assert sessions.resolve(as_token.session.id) is None
    forged = user_cookie[:-1] + ("A" if user_cookie[-1] != "A" else "B")
    assert sessions.resolve(forged) is None
    UserStore(horae.store).user_update(user.id, disabled=True)
    assert sessions.resolve(user_cookie) is None
    ApiStore(horae.store).token_revoke(record.id)
    assert sessions.resolve(token_cookie) is None


def _token_session(site: tuple[Horae, TestClient]) -> tuple[str, str, str]:
    """Sign in with a new admin token: (the token, its id, the session cookie)."""
    horae, client = site
    made = mint_token(ApiStore(horae.store), "console", Role.ADMIN)
    assert made is not None
    assert _login(client, token=made[0]) == 303
    cookie = client.cookies.get("horae_session")
    assert cookie
    return made[0], made[1].id, cookie


def test_the_session_cookie_carries_no_token_and_ends_at_sign_out(
        site: tuple[Horae, TestClient]) -> None:
    _horae, client = site
    token, _token_id, cookie = _token_session(site)
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/schedules").status_code == 200
    # Nothing in the cookie is a bearer token: neither the whole value nor any part of it.
    for part in {cookie, *cookie.split(".")}:
        bearer = {"Authorization": f"Bearer {part}"}
        assert TestClient(client.app).get("/api/v1/schedules", headers=bearer
                                          ).status_code == 401, part
    assert token not in cookie and token[len("hor_12345678_"):] not in cookie
    page = client.get("/")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    assert client.post("/logout", data={"csrf": csrf.group(1)}).status_code == 303
    # Signed out: the old cookie is worth nothing, for pages and for the API.
    stale = TestClient(client.app, cookies={"horae_session": cookie}, follow_redirects=False)
    assert stale.get("/").status_code == 303
    assert stale.get("/api/v1/schedules").status_code == 401


def test_revoking_the_token_ends_its_console_sessions(site: tuple[Horae, TestClient]) -> None:
    horae, client = site
    _token, token_id, _cookie = _token_session(site)
    assert client.get("/").status_code == 200
    ApiStore(horae.store).token_revoke(token_id)
    page = client.get("/")
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert client.get("/api/v1/schedules").status_code == 401
