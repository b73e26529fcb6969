"""What the web console keeps: its signing secret and its sign-in sessions.

Contract (proven by ``tests/browser/test_console_store.py``):

- :meth:`ConsoleStore.secret` returns the same random value to every process and every
  call: the first caller creates it (``INSERT ... ON CONFLICT DO NOTHING``), the others read
  it. There is no default secret.
- A session is found only before its ``expires_at`` (database clock); deleting it, or
  every session of a token, ends it at once for every server. A token's session is found
  only while the token exists and is not revoked.
- A session acts for an API token (``token_id``) or for a user (``user_id``, and
  ``token_id`` is empty). A user's session carries the user's current role and is not
  found once the user is disabled; a new password ends the user's other sessions
  (:class:`horae.store.user_store.UserStore`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from horae.store.base import StoreBase
from horae.store.connection import Database

SESSION_COLUMNS = ("id", "token_id", "name", "role", "csrf", "created_at", "expires_at",
                   "user_id")
SECRET_COLUMNS = ("name", "value", "created_at")


@dataclass(frozen=True)
class ConsoleSession:
    id: str
    token_id: str
    name: str
    role: str
    csrf: str
    created_at: float
    expires_at: float
    user_id: int | None = None


class ConsoleStore:
    """The console's tables, over an existing :class:`horae.store.Store`."""

    def __init__(self, store: StoreBase | Callable[[], StoreBase]) -> None:
        """``store``, or a function returning the store to use now (``lambda:
        horae.store``): then nothing connects until the first request, and a forked
        process (``gunicorn --preload``) uses its own connections, not its parent's."""
        self._store = store

    @property
    def store(self) -> StoreBase:
        return self._store if isinstance(self._store, StoreBase) else self._store()

    @property
    def db(self) -> Database:
        return self.store.db

    def secret(self, name: str = "session") -> str:
        with self.db.write() as tx:
            tx.run("INSERT INTO horae_console_secrets (name, value, created_at)"
                   f" VALUES (:name, :value, {self.db.now_sql}) ON CONFLICT (name) DO NOTHING",
                   {"name": name, "value": secrets.token_urlsafe(48)})
            row = tx.one("SELECT value FROM horae_console_secrets WHERE name = :name",
                         {"name": name})
        assert row is not None
        return str(row["value"])

    def session_add(self, *, token_id: str, name: str, role: str, ttl: float,
                    user_id: int | None = None, id: str | None = None) -> ConsoleSession:
        """A new session for a token (``token_id``) or a user (``user_id``, token_id '');
        ``id`` is the hash of the cookie's secret (horae.console.auth.session_id)."""
        params = {"id": id or secrets.token_hex(32), "token_id": token_id, "name": name,
                  "role": role, "csrf": secrets.token_urlsafe(32), "ttl": ttl,
                  "user_id": user_id}
        with self.db.write() as tx:
            tx.run(f"DELETE FROM horae_console_sessions WHERE expires_at < {self.db.now_sql}")
            tx.run("INSERT INTO horae_console_sessions (id, token_id, name, role, csrf,"
                   " created_at, expires_at, user_id) VALUES (:id, :token_id, :name, :role,"
                   f" :csrf, {self.db.now_sql}, {self.db.now_sql} + :ttl, :user_id)", params)
            row = tx.one(f"SELECT {', '.join(SESSION_COLUMNS)} FROM horae_console_sessions"
                         " WHERE id = :id", {"id": params["id"]})
        assert row is not None
        return ConsoleSession(**row)

    def session_get(self, session_id: str) -> ConsoleSession | None:
        """The session, if it exists and has not expired, and what it was made from still
        authenticates: its user is not disabled, its token not revoked."""
        cols = ", ".join(f"s.{c}" for c in SESSION_COLUMNS if c != "role")
        with self.db.read() as tx:
            row = tx.one(f"SELECT {cols}, COALESCE(u.role, t.role, s.role) AS role,"
                         " u.disabled_at, t.id AS live_token, t.revoked_at"
                         " FROM horae_console_sessions s"
                         " LEFT JOIN horae_users u ON u.id = s.user_id"
                         " LEFT JOIN horae_api_tokens t ON t.id = s.token_id"
                         f" WHERE s.id = :id AND s.expires_at > {self.db.now_sql}",
                         {"id": session_id})
        if row is None or row.pop("disabled_at") is not None:
            return None
        live_token, revoked = row.pop("live_token"), row.pop("revoked_at")
        if row["user_id"] is not None:
            return None if row["token_id"] else ConsoleSession(**row)  # never both
        if live_token is None or revoked is not None:
            return None  # the token it was made from is gone or revoked
        return ConsoleSession(**row)

    def session_delete(self, session_id: str) -> None:
        with self.db.write() as tx:
            tx.run("DELETE FROM horae_console_sessions WHERE id = :id", {"id": session_id})

    def sessions_end_for_token(self, token_id: str, *, keep: str | None = None) -> int:
        """End every session acting with ``token_id`` (except ``keep``)."""
        if not token_id:
            return 0
        with self.db.write() as tx:
            return tx.run("DELETE FROM horae_console_sessions WHERE token_id = :token"
                          " AND id <> :keep", {"token": token_id, "keep": keep or ""})

    def sessions_of_user(self, user_id: int) -> list[str]:
        """The ids of the user's live sessions."""
        with self.db.read() as tx:
            rows = tx.all("SELECT id FROM horae_console_sessions WHERE user_id = :id"
                          f" AND expires_at > {self.db.now_sql}", {"id": user_id})
        return [str(r["id"]) for r in rows]
