"""User accounts through the REST API: admin-only management, validation that changes
nothing, passwords that never leave the server, and sessions that end with a new password.
On every backend."""

from __future__ import annotations

import json
from typing import Any

import pytest

from horae.api.auth import Authenticator
from horae.api.limits import FailureLimits
from horae.api.passwords import check_password, hash_password, verify_password
from horae.api.problems import ApiError
from horae.errors import InvalidInput
from horae.store.auth_store import AuthFailureStore
from horae.store.console_store import ConsoleStore
from horae.store.user_store import UserStore
from tests.api.conftest import Clients, snapshot
from tests.api.test_validation import assert_problem

PASSWORD = "correct horse battery staple"


def _create(c: Clients, name: str = "ada", role: str = "operator",
            password: str = PASSWORD) -> dict[str, Any]:
    r = c["admin"].post("/api/v1/users", json={"name": name, "role": role,
                                                "password": password})
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"/api/v1/users/{r.json()['id']}"
    return dict(r.json())


def _no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text
    assert "scrypt$" not in text and "password_hash" not in text


def test_users_lifecycle_and_audit_without_secrets(clients: Clients) -> None:
    admin = clients["admin"]
    user = _create(clients)
    assert user["name"] == "ada" and user["role"] == "operator" and not user["disabled"]
    assert user["created_by"] == clients.tokens["admin"].split("_")[1]  # the admin token
    stored = UserStore(clients.horae.store).user_by_name("ada")
    assert stored is not None and stored.password_hash.startswith("scrypt$16384$8$1$")
    assert verify_password(PASSWORD, stored.password_hash)
    uid = user["id"]

    assert [u["name"] for u in admin.get("/api/v1/users").json()["items"]] == ["ada"]
    assert admin.get(f"/api/v1/users/{uid}").json()["role"] == "operator"
    changed = admin.patch(f"/api/v1/users/{uid}", json={"role": "editor"})
    assert changed.status_code == 200 and changed.json()["role"] == "editor"
    new_password = "a different passphrase"
    r = admin.post(f"/api/v1/users/{uid}/password", json={"password": new_password})
    assert r.status_code == 200, r.text
    assert r.json()["password_changed_at"] >= user["password_changed_at"]
    stored = UserStore(clients.horae.store).user_by_name("ada")
    assert stored is not None and verify_password(new_password, stored.password_hash)
    assert not verify_password(PASSWORD, stored.password_hash)
    gone = admin.delete(f"/api/v1/users/{uid}")
    assert gone.status_code == 200 and gone.json()["disabled"]
    assert gone.json()["disabled_at"] is not None
    enabled = admin.patch(f"/api/v1/users/{uid}", json={"disabled": False})
    assert enabled.json()["disabled"] is False

    audit = admin.get("/api/v1/audit", params={"target_kind": "user"}).json()["items"]
    assert [a["action"] for a in reversed(audit)] == [
        "user.create", "user.update", "user.password", "user.disable", "user.update"]
    assert all(a["target_id"] == str(uid) for a in audit)
    assert audit[-1]["after"]["name"] == "ada" and audit[-1]["before"] is None
    everything = json.dumps(audit) + admin.get("/api/v1/users").text + changed.text + r.text
    _no_secret(everything, PASSWORD, new_password)


BAD_USERS = [
    ("short password", {"password": "too short"}, "password"),
    ("password not text", {"password": 123456789012345}, "password"),
    ("unknown role", {"role": "superuser"}, "role"),
    ("name with a space", {"name": "ada lovelace"}, "name"),
    ("empty name", {"name": ""}, "name"),
    ("missing password", {"password": None}, "password"),
    ("unknown field", {"colour": "red"}, "colour"),
]


@pytest.mark.parametrize(("case", "change", "field"), BAD_USERS, ids=[b[0] for b in BAD_USERS])
def test_bad_user_is_refused_with_the_field_and_nothing_changes(
    clients: Clients, case: str, change: dict[str, Any], field: str
) -> None:
    body = {"name": "ada", "role": "viewer", "password": PASSWORD} | change
    body = {k: v for k, v in body.items() if v is not None}
    before = snapshot(clients.horae)
    r = clients["admin"].post("/api/v1/users", json=body)
    problem = assert_problem(r, 422, field)
    _no_secret(r.text, PASSWORD)
    assert "too short" not in json.dumps(problem)  # the value itself is never echoed
    assert snapshot(clients.horae) == before


def test_duplicate_name_is_409_naming_the_field(clients: Clients) -> None:
    _create(clients)
    before = snapshot(clients.horae)
    r = clients["admin"].post("/api/v1/users", json={"name": "ada", "role": "admin",
                                                      "password": PASSWORD + "!"})
    assert_problem(r, 409, "name")
    assert snapshot(clients.horae) == before


def test_bad_changes_are_refused_and_the_user_is_unchanged(clients: Clients) -> None:
    uid = _create(clients)["id"]
    admin = clients["admin"]
    before = snapshot(clients.horae)
    assert_problem(admin.patch(f"/api/v1/users/{uid}", json={"role": "root"}), 422, "role")
    assert_problem(admin.patch(f"/api/v1/users/{uid}", json={"disabled": "yes"}), 422,
                   "disabled")
    assert_problem(admin.post(f"/api/v1/users/{uid}/password", json={"password": "short"}),
                   422, "password")
    assert admin.get("/api/v1/users/999999").status_code == 404
    assert admin.post("/api/v1/users/999999/password",
                      json={"password": PASSWORD}).status_code == 404
    assert snapshot(clients.horae) == before


def test_password_rules_name_the_field() -> None:
    with pytest.raises(InvalidInput) as short:
        check_password("eleven char", "new_password")
    assert short.value.field == "new_password" and "12" in short.value.reason
    with pytest.raises(InvalidInput):
        check_password("x" * 2000)
    with pytest.raises(InvalidInput):
        check_password("twelve chars\x00")
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second, "every hash has its own salt"
    assert verify_password(PASSWORD, first) and verify_password(PASSWORD, second)
    assert not verify_password(PASSWORD + "x", first)
    assert not verify_password(PASSWORD, "not-a-hash")
    assert not verify_password(PASSWORD, "scrypt$999999999$8$1$AA$AA")  # refuses huge work


def test_password_sign_in_and_the_shared_failure_limit(clients: Clients) -> None:
    users = UserStore(clients.horae.store)
    user = users.user_add("grace", "editor", hash_password(PASSWORD))
    limits = FailureLimits(AuthFailureStore(clients.horae.store), limit=3, window=60)
    auth = Authenticator(clients.store, limits)
    principal = auth.authenticate_password("grace", PASSWORD, "10.0.0.1")
    assert (principal.user_id, principal.role.label, principal.actor) == (
        user.id, "editor", "user:grace")
    for name, password in (("grace", "wrong password!"), ("nobody", PASSWORD)):
        with pytest.raises(ApiError) as refused:
            auth.authenticate_password(name, password, "10.0.0.1")
        assert refused.value.status == 401
    # A wrong token counts against the same limit as a wrong password.
    with pytest.raises(ApiError):
        auth.authenticate("Bearer hor_00000000_guess", "10.0.0.1")
    with pytest.raises(ApiError) as limited:
        auth.authenticate_password("grace", PASSWORD, "10.0.0.1")
    assert limited.value.status == 429 and limited.value.headers["Retry-After"]
    # Another address is not limited; a disabled user cannot sign in.
    assert auth.authenticate_password("grace", PASSWORD, "10.0.0.2").user_id == user.id
    users.user_update(user.id, disabled=True)
    with pytest.raises(ApiError) as disabled:
        auth.authenticate_password("grace", PASSWORD, "10.0.0.2")
    assert disabled.value.status == 401
    with pytest.raises(ApiError):
        auth.authenticate_user(user.id)


def test_new_password_or_disabling_ends_the_users_sessions(clients: Clients) -> None:
    users, sessions = UserStore(clients.horae.store), ConsoleStore(clients.horae.store)
    ada = users.user_add("ada", "viewer", hash_password(PASSWORD))
    bob = users.user_add("bob", "viewer", hash_password(PASSWORD))

    def start(user_id: int) -> str:
        return sessions.session_add(token_id="", name="x", role="viewer", ttl=3600,
                                    user_id=user_id).id

    mine, other, bobs = start(ada.id), start(ada.id), start(bob.id)
    # Changing one's own password keeps the session that did it.
    users.user_set_password(ada.id, hash_password("new passphrase 1"), keep_session=mine)
    assert sessions.session_get(mine) is not None and sessions.session_get(other) is None
    # An admin's reset (API) ends them all; other users keep theirs.
    r = clients["admin"].post(f"/api/v1/users/{ada.id}/password",
                              json={"password": "new passphrase 2"})
    assert r.status_code == 200
    assert sessions.session_get(mine) is None and sessions.session_get(bobs) is not None
    # A session shows the user's current role; disabling ends it.
    assert clients["admin"].patch(f"/api/v1/users/{bob.id}",
                                  json={"role": "admin"}).status_code == 200
    found = sessions.session_get(bobs)
    assert found is not None and found.role == "admin" and found.user_id == bob.id
    assert clients["admin"].delete(f"/api/v1/users/{bob.id}").status_code == 200
    assert sessions.session_get(bobs) is None and sessions.sessions_of_user(bob.id) == []


def test_a_user_cannot_lock_themselves_out(clients: Clients) -> None:
    from horae.api.framework import USER_SCOPE_KEY

    users = UserStore(clients.horae.store)
    me = users.user_add("root", "admin", hash_password(PASSWORD))
    other = users.user_add("other", "viewer", hash_password(PASSWORD))

    def as_me(method: str, path: str, body: Any = None) -> Any:
        # What the console's bridge does for a signed-in user: a scope key, no header.
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await clients.app(dict(scope, **{USER_SCOPE_KEY: me.id}), receive, send)

        from starlette.testclient import TestClient

        return TestClient(app, raise_server_exceptions=False).request(method, path, json=body)

    assert as_me("GET", "/api/v1/users").status_code == 200
    before = snapshot(clients.horae)
    assert as_me("DELETE", f"/api/v1/users/{me.id}").status_code == 409
    assert as_me("PATCH", f"/api/v1/users/{me.id}", {"role": "viewer"}).status_code == 409
    assert snapshot(clients.horae) == before
    assert as_me("PATCH", f"/api/v1/users/{other.id}", {"role": "editor"}).status_code == 200
    entry = clients.store.audit_list(limit=1)[0]
    assert (entry.actor, entry.role, entry.action) == ("user:root", "admin", "user.update")
    # The user's current role decides: once lowered (by someone else), it is refused.
    users.user_update(me.id, role="viewer")
    assert as_me("GET", "/api/v1/users").status_code == 403
    assert as_me("GET", "/api/v1/schedules").status_code == 200
    users.user_update(me.id, disabled=True)
    assert as_me("GET", "/api/v1/schedules").status_code == 401
