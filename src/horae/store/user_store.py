"""What user accounts keep: name, role, password hash, and whether they are disabled.

Contract (proven by ``tests/api/test_users.py`` on every backend):

- A name is taken once (a second add raises Conflict); a user is never deleted, only
  disabled, so the audit trail keeps naming who did what.
- Only the hash of a password is stored (:mod:`horae.api.passwords` makes it).
- Setting a password, or disabling a user, ends that user's console sessions in the same
  transaction (all but ``keep``, the session that changed its own password).
- Each write calls the store's change hook (:func:`horae.store.on_change`) inside its
  transaction, so an audit record commits with the change or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from horae.errors import Conflict, NotFound
from horae.store.base import StoreBase
from horae.store.connection import Tx

USER_COLUMNS = ("id", "name", "role", "password_hash", "created_at", "created_by",
                "password_changed_at", "disabled_at")
_COLS = ", ".join(USER_COLUMNS)


@dataclass
class UserRecord:
    id: int
    name: str
    role: str
    password_hash: str
    created_at: float
    created_by: str | None = None
    password_changed_at: float | None = None
    disabled_at: float | None = None


class UserStore:
    """The users table, over an existing :class:`horae.store.Store` (same connections)."""

    def __init__(self, store: StoreBase) -> None:
        self.store = store
        self.db = store.db

    def user_add(self, name: str, role: str, password_hash: str,
                 created_by: str | None = None) -> UserRecord:
        """Insert a user; Conflict when the name is taken."""
        with self.db.write() as tx:
            now = self.store._now(tx)
            row = tx.one(
                "INSERT INTO horae_users (name, role, password_hash, created_at, created_by,"
                " password_changed_at) VALUES (:name, :role, :hash, :now, :by, :now)"
                f" ON CONFLICT (name) DO NOTHING RETURNING {_COLS}",
                {"name": name, "role": role, "hash": password_hash, "now": now,
                 "by": created_by})
            if row is None:
                raise Conflict(f"a user named {name!r} exists")
            user = UserRecord(**row)
            self.store._changed(tx, user)
        return user

    def user_get(self, user_id: int) -> UserRecord:
        with self.db.read() as tx:
            row = tx.one(f"SELECT {_COLS} FROM horae_users WHERE id = :id", {"id": user_id})
        if row is None:
            raise NotFound("user", user_id)
        return UserRecord(**row)

    def user_by_name(self, name: str) -> UserRecord | None:
        with self.db.read() as tx:
            row = tx.one(f"SELECT {_COLS} FROM horae_users WHERE name = :name", {"name": name})
        return None if row is None else UserRecord(**row)

    def users_list(self) -> list[UserRecord]:
        with self.db.read() as tx:
            rows = tx.all(f"SELECT {_COLS} FROM horae_users ORDER BY id")
        return [UserRecord(**r) for r in rows]

    def user_update(self, user_id: int, *, role: str | None = None,
                    disabled: bool | None = None) -> UserRecord:
        """Change the role and/or disable (or enable) a user; NotFound. Disabling ends the
        user's sessions."""
        sets: list[str] = []
        params: dict[str, Any] = {"id": user_id}
        if role is not None:
            sets.append("role = :role")
            params["role"] = role
        if disabled is not None:
            sets.append("disabled_at = COALESCE(disabled_at, :now)" if disabled
                        else "disabled_at = NULL")
        with self.db.write() as tx:
            params["now"] = self.store._now(tx)
            if sets:
                tx.run(f"UPDATE horae_users SET {', '.join(sets)} WHERE id = :id", params)
            user = self._get(tx, user_id)
            if disabled:
                self._end_sessions(tx, user_id, None)
            if sets:
                self.store._changed(tx, user)
        return user

    def user_set_password(self, user_id: int, password_hash: str, *,
                          keep_session: str | None = None) -> UserRecord:
        """Store a new password hash and end every session of the user but
        ``keep_session``; NotFound."""
        with self.db.write() as tx:
            now = self.store._now(tx)
            tx.run("UPDATE horae_users SET password_hash = :hash, password_changed_at = :now"
                   " WHERE id = :id", {"id": user_id, "hash": password_hash, "now": now})
            user = self._get(tx, user_id)
            self._end_sessions(tx, user_id, keep_session)
            self.store._changed(tx, user)
        return user

    def _get(self, tx: Tx, user_id: int) -> UserRecord:
        row = tx.one(f"SELECT {_COLS} FROM horae_users WHERE id = :id", {"id": user_id})
        if row is None:
            raise NotFound("user", user_id)
        return UserRecord(**row)

    @staticmethod
    def _end_sessions(tx: Tx, user_id: int, keep: str | None) -> None:
        tx.run("DELETE FROM horae_console_sessions WHERE user_id = :id AND id <> :keep",
               {"id": user_id, "keep": keep or ""})
