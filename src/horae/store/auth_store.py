"""Failed authentications, counted in the database so that every API process shares them.

Contract (proven by ``tests/api/test_auth_limits.py`` on every backend):

- A key (``addr:<address>`` or ``account:<name>``) counts its failures in a fixed window
  that starts at its first failure; a failure after the window has passed starts a new
  window at 1. Times are the database's clock, so processes on several hosts agree.
- Rows whose window has passed are pruned by the writers (at most once per ``window`` per
  process), never all at once: a spray of new keys cannot reset the count of another key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from horae.store.base import StoreBase

AUTH_FAILURE_COLUMNS = ("key", "failures", "window_start")
KEY_MAX = 200  # characters of a key that count (longer names are an attacker's, not a user's)


@dataclass(frozen=True)
class FailureCount:
    key: str
    failures: int
    window_start: float
    now: float  # the database's clock when it was read

    def wait(self, limit: int, window: float) -> float:
        """Seconds until this key may try again (0: it may)."""
        if self.failures < limit or self.window_start <= self.now - window:
            return 0.0
        return max(self.window_start + window - self.now, 0.001)


class AuthFailureStore:
    """The ``horae_auth_failures`` table, over an existing :class:`horae.store.Store`."""

    def __init__(self, store: StoreBase) -> None:
        self.store = store
        self.db = store.db

    def counts(self, keys: Sequence[str]) -> list[FailureCount]:
        """The current counts of ``keys`` (those with a row)."""
        params = {f"k{i}": k[:KEY_MAX] for i, k in enumerate(keys)}
        if not params:
            return []
        where = " OR ".join(f"key = :{p}" for p in params)
        with self.db.read() as tx:
            rows = tx.all(f"SELECT key, failures, window_start, {self.db.now_sql} AS now"
                          f" FROM horae_auth_failures WHERE {where}", params)
        return [FailureCount(**r) for r in rows]

    def fail(self, keys: Sequence[str], window: float, *,
             prune: bool = False) -> list[FailureCount]:
        """Count one failure for each key; their counts after it. ``prune`` also deletes
        the rows whose window has passed."""
        out = []
        with self.db.write() as tx:
            now = self.store._now(tx)
            if prune:
                tx.run("DELETE FROM horae_auth_failures WHERE window_start <= :old",
                       {"old": now - window})
            for key in keys:
                row = tx.one(
                    "INSERT INTO horae_auth_failures (key, failures, window_start)"
                    " VALUES (:key, 1, :now) ON CONFLICT (key) DO UPDATE SET"
                    " failures = CASE WHEN horae_auth_failures.window_start <= :old THEN 1"
                    " ELSE horae_auth_failures.failures + 1 END,"
                    " window_start = CASE WHEN horae_auth_failures.window_start <= :old"
                    " THEN :now ELSE horae_auth_failures.window_start END"
                    " RETURNING key, failures, window_start",
                    {"key": key[:KEY_MAX], "now": now, "old": now - window})
                assert row is not None
                out.append(FailureCount(now=now, **row))
        return out

    def count_rows(self) -> int:
        with self.db.read() as tx:
            row = tx.one("SELECT count(*) AS n FROM horae_auth_failures")
        return int(row["n"]) if row else 0
