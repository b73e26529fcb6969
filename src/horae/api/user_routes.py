"""The operations of /api/v1/users: user accounts for the console's sign-in (admin only).

A password is checked (length), hashed (:mod:`horae.api.passwords`) and stored as its hash
only; it never appears in a response, a log line or the audit trail. A user is never
deleted: ``DELETE`` disables it, so the audit keeps naming who did what. A new password or
a disabled user ends the user's console sessions, in the same transaction.
"""

from __future__ import annotations

from horae.api import schemas as S
from horae.api.auth import Role
from horae.api.framework import Call, Operation, Reply
from horae.api.passwords import check_password, hash_password
from horae.api.problems import ApiError
from horae.errors import Conflict
from horae.store.user_store import UserRecord, UserStore


def _users(c: Call) -> UserStore:
    return UserStore(c.api.horae.store)


def _user_id(u: UserRecord) -> str:
    return str(u.id)


def list_users(c: Call) -> Reply:
    return Reply({"items": [S.user_wire(u) for u in _users(c).users_list()]})


def create_user(c: Call) -> Reply:
    b: S.UserCreate = c.body
    assert c.principal is not None
    digest = hash_password(check_password(b.password))
    try:
        with c.audited("user.create", "user", target=_user_id, after=S.user_wire):
            user = _users(c).user_add(b.name, b.role, digest, c.principal.actor)
    except Conflict:
        raise ApiError(409, f"a user named {b.name!r} exists; choose another name",
                       errors=[{"field": "name", "reason": "already taken"}],
                       slug="conflict") from None
    return Reply(S.user_wire(user), 201, {"Location": f"/api/v1/users/{user.id}"})


def get_user(c: Call) -> Reply:
    return Reply(S.user_wire(_users(c).user_get(c.path["user_id"])))


def _refuse_self_lockout(c: Call, user: UserRecord, role: str | None,
                         disabled: bool | None) -> None:
    if c.principal is None or c.principal.user_id != user.id:
        return
    if disabled or (role is not None and role != "admin"):
        raise ApiError(409, "you cannot disable yourself or lower your own role (that would "
                            "lock you out); ask another admin", slug="conflict")


def _change(c: Call, action: str, role: str | None, disabled: bool | None) -> Reply:
    users = _users(c)
    before = users.user_get(c.path["user_id"])
    _refuse_self_lockout(c, before, role, disabled)
    if role is None and disabled is None:
        return Reply(S.user_wire(before))
    with c.audited(action, "user", target=str(before.id), before=S.user_wire(before),
                   after=S.user_wire):
        after = users.user_update(before.id, role=role, disabled=disabled)
    return Reply(S.user_wire(after))


def patch_user(c: Call) -> Reply:
    b: S.UserPatch = c.body
    return _change(c, "user.update", b.role, b.disabled)


def disable_user(c: Call) -> Reply:
    return _change(c, "user.disable", None, True)


def set_password(c: Call) -> Reply:
    b: S.PasswordSet = c.body
    users = _users(c)
    user = users.user_get(c.path["user_id"])
    digest = hash_password(check_password(b.password))
    with c.audited("user.password", "user", target=str(user.id), after=S.user_wire):
        user = users.user_set_password(user.id, digest)
    return Reply(S.user_wire(user), headers={"Cache-Control": "no-store"})


E_BODY = (400, 404, 409, 413, 415, 422)

USER_OPERATIONS: list[Operation] = [
    Operation("GET", "/users", "listUsers", "User accounts (never their passwords)", "users",
              Role.ADMIN, list_users, response=S.UserList),
    Operation("POST", "/users", "createUser", "Create a user account", "users", Role.ADMIN,
              create_user, body=S.UserCreate, response=S.UserOut, status=201,
              errors=(400, 409, 413, 415, 422), location=True),
    Operation("GET", "/users/{user_id:int}", "getUser", "One user account", "users",
              Role.ADMIN, get_user, response=S.UserOut, errors=(404,)),
    Operation("PATCH", "/users/{user_id:int}", "patchUser",
              "Change a user's role, or disable or enable it", "users", Role.ADMIN,
              patch_user, body=S.UserPatch, response=S.UserOut, errors=E_BODY,
              description="Disabling ends the user's console sessions."),
    Operation("DELETE", "/users/{user_id:int}", "disableUser",
              "Disable a user (the record stays, for the audit)", "users", Role.ADMIN,
              disable_user, response=S.UserOut, errors=(404, 409)),
    Operation("POST", "/users/{user_id:int}/password", "setUserPassword",
              "Set a user's password", "users", Role.ADMIN, set_password, body=S.PasswordSet,
              response=S.UserOut, errors=E_BODY,
              description="Ends every console session of the user."),
]
