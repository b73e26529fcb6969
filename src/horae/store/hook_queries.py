"""Consumers of the event log: a durable cursor and a lease per consumer (hooks; alerts).

Contract (proven by ``tests/store/test_consumers.py`` on every backend):

- A consumer is a row of ``horae_consumers``: ``cursor`` is the id of the last event it
  has handled. :meth:`HookQueries.consumer_open` creates it at the newest event id (a new
  consumer handles what happens from then on, not the retained history) and never moves
  an existing cursor.
- The lease: :meth:`HookQueries.consumer_lease` gives the consumer to ``owner`` when
  nobody holds it, its holder's lease expired (database clock) or ``owner`` already holds
  it, for ``ttl`` seconds, and returns the cursor; else None. So at most one owner at a
  time delivers a consumer's events; another takes over once the lease expires.
- :meth:`HookQueries.consumer_advance` moves the cursor forward (never back) and renews
  the lease, only while ``owner`` still holds it (fenced on the owner): a process that
  lost its lease cannot move a cursor its successor now owns. It returns False then.
- :meth:`HookQueries.consumer_events` pages through the events after a cursor in id order,
  every id (a reader that follows the ids must see each one to find holes), with the
  payload only for the kinds consumers handle, and the run's ``max_attempts``,
  ``started_at`` and ``finished_at`` when the event is about a run still kept.
- Ids are taken at insert and become visible at commit: on PostgreSQL event N+1 may be
  visible before N commits. :meth:`HookQueries.consumer_running` tells when such a hole
  is final (see ``horae.hooks.dispatcher``): every event is inserted by a transaction that
  already has its transaction id (a trigger after the row it describes, or after the
  ``UPDATE`` of the worker it reports), so the transaction holding a hole is among those
  running when the hole was seen; once none of those is running any more, the hole is
  filled or never will be. Transactions that started later, and read-only ones (which
  have no id), do not hold it up. SQLite has one writer at a time: a visible id means
  every smaller id is committed or never will be, so it has no such holes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from horae.store.base import StoreBase

#: The event kinds whose payload consumers read; other ids are read for their id only.
CONSUMED_KINDS = ("run.state", "schedule.created", "schedule.changed", "schedule.deleted",
                  "worker.gone")
CONSUMER_COLUMNS = ("name", "cursor", "lease_owner", "lease_expires_at", "updated_at")
_CONSUMED_SQL = ", ".join(f"'{k}'" for k in CONSUMED_KINDS)


@dataclass
class LoggedEvent:
    """One row of the event log as a consumer reads it (``data`` empty for other kinds)."""

    id: int
    ts: float
    kind: str
    run_id: int | None
    schedule_id: str | None
    data: dict[str, Any]
    max_attempts: int | None = None
    started_at: float | None = None
    finished_at: float | None = None


class HookQueries(StoreBase):
    def consumer_open(self, name: str) -> int:
        """Create consumer ``name`` at the newest event id if it does not exist; return its
        cursor."""
        with self.db.write() as tx:
            now = self._now(tx)
            tx.run(
                "INSERT INTO horae_consumers (name, cursor, updated_at)"
                " SELECT :name, coalesce(max(id), 0), :now FROM horae_events WHERE true"
                " ON CONFLICT (name) DO NOTHING",
                {"name": name, "now": now},
            )
            row = tx.one("SELECT cursor FROM horae_consumers WHERE name = :name",
                         {"name": name})
        assert row is not None
        return int(row["cursor"])

    def consumer_lease(self, name: str, owner: str, ttl: float) -> int | None:
        """Take or renew the lease of consumer ``name`` for ``owner``; its cursor, or None
        while another owner's lease runs (the consumer must exist: consumer_open)."""
        with self.db.read() as tx:  # the processes that wait for the lease only read
            if tx.one("SELECT name FROM horae_consumers WHERE name = :name"
                      " AND lease_owner <> :owner"
                      f" AND lease_expires_at >= {self.db.now_sql}",
                      {"name": name, "owner": owner}) is not None:
                return None
        with self.db.write() as tx:
            now = self._now(tx)
            row = tx.one(
                "UPDATE horae_consumers SET lease_owner = :owner,"
                " lease_expires_at = :now + :ttl, updated_at = :now"
                " WHERE name = :name AND (lease_owner IS NULL OR lease_owner = :owner"
                " OR lease_expires_at IS NULL OR lease_expires_at < :now) RETURNING cursor",
                {"name": name, "owner": owner, "now": now, "ttl": ttl},
            )
        return None if row is None else int(row["cursor"])

    def consumer_advance(self, name: str, owner: str, cursor: int, ttl: float) -> bool:
        """Move the cursor of ``name`` up to ``cursor`` and renew the lease, if ``owner``
        still holds it; False when it does not."""
        with self.db.write() as tx:
            now = self._now(tx)
            return tx.run(
                "UPDATE horae_consumers SET cursor = CASE WHEN cursor < :cursor THEN :cursor"
                " ELSE cursor END, lease_expires_at = :now + :ttl, updated_at = :now"
                " WHERE name = :name AND lease_owner = :owner",
                {"name": name, "owner": owner, "cursor": cursor, "now": now, "ttl": ttl},
            ) > 0

    def consumer_release(self, name: str, owner: str) -> None:
        """Give the lease up (a clean stop), so another process takes over at once."""
        with self.db.write() as tx:
            tx.run("UPDATE horae_consumers SET lease_owner = NULL, lease_expires_at = NULL"
                   " WHERE name = :name AND lease_owner = :owner",
                   {"name": name, "owner": owner})

    def consumer_get(self, name: str) -> dict[str, Any] | None:
        """The consumer's row (name, cursor, lease_owner, lease_expires_at), or None."""
        with self.db.read() as tx:
            return tx.one("SELECT name, cursor, lease_owner, lease_expires_at"
                          " FROM horae_consumers WHERE name = :name", {"name": name})

    def consumer_events(self, after: int, limit: int = 200) -> list[LoggedEvent]:
        """Up to ``limit`` events with an id above ``after``, in id order (see the module
        docstring for what each carries)."""
        with self.db.read() as tx:
            rows = tx.all(
                "SELECT e.id, e.ts, e.kind, e.run_id, e.schedule_id,"
                f" CASE WHEN e.kind IN ({_CONSUMED_SQL}) THEN e.data END AS data,"
                " r.max_attempts, r.started_at, r.finished_at"
                " FROM horae_events e LEFT JOIN horae_runs r"
                " ON r.id = e.run_id AND e.kind = 'run.state'"
                " WHERE e.id > :after ORDER BY e.id LIMIT :limit",
                {"after": after, "limit": limit},
            )
        return [LoggedEvent(int(r["id"]), float(r["ts"]), r["kind"], r["run_id"],
                            r["schedule_id"], json.loads(r["data"]) if r["data"] else {},
                            r["max_attempts"], r["started_at"], r["finished_at"])
                for r in rows]

    def consumer_running(self) -> frozenset[int] | None:
        """PostgreSQL: the ids of the transactions running now (``pg_snapshot_xip`` of a
        snapshot taken now). None on SQLite."""
        if self.db.dialect != "postgres":
            return None
        with self.db.read() as tx:
            rows = tx.all("SELECT pg_snapshot_xip(pg_current_snapshot())::text AS xid")
        return frozenset(int(r["xid"]) for r in rows)
