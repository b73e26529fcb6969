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
    # Past the limit, even the right password (or a good token) gets 429.
    assert _login(client, name="ada", password=PASSWORD) == 429
    made = mint_token(ApiStore(horae.store), "t", Role.ADMIN)
    assert made is not None
    assert _login(client, token=made[0]) == 429
    assert len(ConsoleStore(horae.store).sessions_of_user(user.id)) == 1


def test_a_session_is_a_tokens_or_a_users_never_the_other(
        site: tuple[Horae, TestClient]) -> None:
    from horae.console.auth import Sessions

    horae, _client = site
    sessions = Sessions(ConsoleStore(horae.store))
    user = UserStore(horae.store).user_add("ada", "viewer", hash_password(PASSWORD))
    made = mint_token(ApiStore(horae.store), "t", Role.ADMIN)
    assert made is not None
    token, record = made
    as_user, user_cookie = sessions.start_user(user.id, "ada", "viewer")
    as_token, token_cookie = sessions.start(token, record.id, "t", "admin")
    assert sessions.resolve(user_cookie) == as_user and as_user.token is None
    assert sessions.resolve(token_cookie) == as_token and as_token.user_id is None

    def signed(text: str) -> str:
        return f"{text}.{sessions.sign(text)}"

    # Correctly signed, but naming the wrong kind of credential for the session: refused.
    assert sessions.resolve(signed(f"{as_user.session.id}.{token}")) is None
    assert sessions.resolve(signed(f"{as_token.session.id}.user")) is None
    forged = user_cookie[:-1] + ("A" if user_cookie[-1] != "A" else "B")
    assert sessions.resolve(forged) is None  # a forged signature
    UserStore(horae.store).user_update(user.id, disabled=True)
    assert sessions.resolve(user_cookie) is None
