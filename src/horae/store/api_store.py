"""What the REST API keeps: API tokens, the audit trail, idempotent requests, the event log.

Contract (proven by ``tests/api/test_api_store.py`` on every backend):

- Tokens are stored as SHA-256 hex digests under a short public id; the secret itself is
  never stored. A revoked token stays (for the audit trail) but never authenticates.
- The audit trail is append-only: the database refuses UPDATE and DELETE on it.
- An idempotency key is stored once per actor, with the response, in the transaction of
  the change it guards: a crash leaves both or neither, so a retry replays the response
  or performs the request (once). A request that failed stores nothing.
- Events are written by database triggers (migration 0003) in the transaction of the change
  they describe, so every writer (scheduler, worker, API, CLI, another host) produces them.
  Ids grow with insertion; :meth:`ApiStore.events_after` pages through them in id order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from horae.errors import Conflict, NotFound
from horae.store.base import StoreBase
from horae.store.connection import Tx

TOKEN_COLUMNS = ("id", "name", "role", "hash", "created_at", "created_by", "last_used_at",
                 "revoked_at")
AUDIT_COLUMNS = ("id", "ts", "actor", "role", "action", "target_kind", "target_id",
                 "before_data", "after_data")
IDEMPOTENCY_COLUMNS = ("actor", "key", "fingerprint", "status", "body", "created_at")
EVENT_COLUMNS = ("id", "ts", "kind", "run_id", "schedule_id", "data")
IDEMPOTENCY_TTL = 86400.0  # seconds a key is remembered
#: Seconds a response-less reservation (left by an older Horae that reserved a key in a
#: transaction of its own) still blocks its key: longer than any request takes.
ABANDONED_AFTER = 300.0
PRUNE_BATCH = 100  # expired keys each new key removes, at most


@dataclass
class TokenRecord:
    id: str
    name: str
    role: str
    hash: str
    created_at: float
    created_by: str | None = None
    last_used_at: float | None = None
    revoked_at: float | None = None


@dataclass
class AuditRecord:
    id: int
    ts: float
    actor: str
    role: str
    action: str
    target_kind: str
    target_id: str | None
    before: Any
    after: Any


@dataclass
class Event:
    id: int
    ts: float
    kind: str
    run_id: int | None
    schedule_id: str | None
    data: dict[str, Any]


@dataclass
class StoredResponse:
    """A completed idempotent request (status None: still in progress)."""

    fingerprint: str
    status: int | None
    body: str | None


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _dumps(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


class ApiStore:
    """The API's tables, over an existing :class:`horae.store.Store` (same connections)."""

    def __init__(self, store: StoreBase) -> None:
        self.store = store
        self.db = store.db

    # -- tokens ----------------------------------------------------------------------

    def token_add(self, record: TokenRecord, *, only_if_none: bool = False) -> bool:
        """Insert a token; with ``only_if_none``, only when the table holds no token at all
        (the first start's admin token: two servers starting at once create one)."""
        cols = ", ".join(TOKEN_COLUMNS)
        params = {c: getattr(record, c) for c in TOKEN_COLUMNS}
        with self.db.write() as tx:
            params["created_at"] = self.store._now(tx)
            if only_if_none:
                if not tx.run(
                    f"INSERT INTO horae_api_tokens ({cols}) SELECT "
                    + ", ".join(f":{c}" for c in TOKEN_COLUMNS)
                    + " WHERE NOT EXISTS (SELECT 1 FROM horae_api_tokens)",
                    params,
                ):
                    return False
            elif not tx.run(
                f"INSERT INTO horae_api_tokens ({cols}) VALUES ("
                + ", ".join(f":{c}" for c in TOKEN_COLUMNS) + ") ON CONFLICT (id) DO NOTHING",
                params,
            ):
                raise Conflict(f"token id {record.id!r} exists")
            self.store._changed(tx, TokenRecord(**params))
        return True

    def token_get(self, token_id: str) -> TokenRecord | None:
        with self.db.read() as tx:
            row = tx.one(f"SELECT {', '.join(TOKEN_COLUMNS)} FROM horae_api_tokens"
                         " WHERE id = :id", {"id": token_id})
        return None if row is None else TokenRecord(**row)

    def tokens_list(self, *, include_revoked: bool = True) -> list[TokenRecord]:
        where = "" if include_revoked else " WHERE revoked_at IS NULL"
        with self.db.read() as tx:
            rows = tx.all(f"SELECT {', '.join(TOKEN_COLUMNS)} FROM horae_api_tokens{where}"
                          " ORDER BY created_at, id")
        return [TokenRecord(**r) for r in rows]

    def token_count(self) -> int:
        with self.db.read() as tx:
            row = tx.one("SELECT count(*) AS n FROM horae_api_tokens")
        return int(row["n"]) if row else 0

    def token_revoke(self, token_id: str) -> TokenRecord:
        """Revoke a token (at once, for every server). Raises NotFound."""
        with self.db.write() as tx:
            now = self.store._now(tx)
            row = tx.one("UPDATE horae_api_tokens SET revoked_at = COALESCE(revoked_at, :now)"
                         f" WHERE id = :id RETURNING {', '.join(TOKEN_COLUMNS)}",
                         {"id": token_id, "now": now})
            if row is None:
                raise NotFound("token", token_id)
            record = TokenRecord(**row)
            self.store._changed(tx, record)
        return record

    def token_touch(self, token_id: str) -> None:
        with self.db.write() as tx:
            tx.run(f"UPDATE horae_api_tokens SET last_used_at = {self.db.now_sql}"
                   " WHERE id = :id", {"id": token_id})

    # -- readiness -------------------------------------------------------------------

    def probe_write(self) -> None:
        """A real, tiny write (a counter in horae_meta): the database takes the write lock,
        has room, and commits. Readiness asks this."""
        with self.db.write() as tx:
            tx.run("INSERT INTO horae_meta (key, value) VALUES ('ready_probes', 1)"
                   " ON CONFLICT (key) DO UPDATE SET value = horae_meta.value + 1")

    # -- audit -----------------------------------------------------------------------

    def audit_add(self, *, actor: str, role: str, action: str, target_kind: str,
                  target_id: str | None, before: Any = None, after: Any = None) -> None:
        """Write one audit record in a transaction of its own (prefer :meth:`audit_in`
        inside the change's transaction)."""
        with self.db.write() as tx:
            self.audit_in(tx, actor=actor, role=role, action=action, target_kind=target_kind,
                          target_id=target_id, before=before, after=after)

    def audit_in(self, tx: Tx, *, actor: str, role: str, action: str, target_kind: str,
                 target_id: str | None, before: Any = None, after: Any = None) -> None:
        """Write one audit record inside ``tx``: it commits with the change it describes."""
        tx.run(
            "INSERT INTO horae_audit (ts, actor, role, action, target_kind, target_id,"
            f" before_data, after_data) VALUES ({self.db.now_sql}, :actor, :role, :action,"
            " :kind, :target, :before, :after)",
            {"actor": actor, "role": role, "action": action, "kind": target_kind,
             "target": target_id, "before": _dumps(before), "after": _dumps(after)},
        )

    def audit_many(self, tx: Tx, *, actor: str, role: str, target_kind: str,
                   records: list[tuple[str, str | None, Any, Any]]) -> None:
        """Write one audit record per ``(action, target_id, before, after)`` inside ``tx``,
        in one statement per thousand (a batch of changes)."""
        if not records:
            return
        now = self.store._now(tx)
        rows = [{"ts": now, "actor": actor, "role": role, "action": action,
                 "target_kind": target_kind, "target_id": target, "before_data": _dumps(before),
                 "after_data": _dumps(after)} for action, target, before, after in records]
        for start in range(0, len(rows), 1000):
            self.db.insert_many(tx, "horae_audit", rows[start:start + 1000])

    def audit_list(self, *, actor: str | None = None, target_kind: str | None = None,
                   target_id: str | None = None, action: str | None = None,
                   before_id: int | None = None, limit: int = 100) -> list[AuditRecord]:
        """Newest first; ``before_id`` is the cursor of the next page."""
        where: list[str] = ["1 = 1"]
        params: dict[str, Any] = {"limit": limit}
        for col, value in (("actor", actor), ("target_kind", target_kind),
                           ("target_id", target_id), ("action", action)):
            if value is not None:
                where.append(f"{col} = :{col}")
                params[col] = value
        if before_id is not None:
            where.append("id < :before_id")
            params["before_id"] = before_id
        with self.db.read() as tx:
            rows = tx.all(f"SELECT {', '.join(AUDIT_COLUMNS)} FROM horae_audit"
                          f" WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT :limit", params)
        return [AuditRecord(r["id"], r["ts"], r["actor"], r["role"], r["action"],
                            r["target_kind"], r["target_id"], _loads(r["before_data"]),
                            _loads(r["after_data"])) for r in rows]

    # -- idempotency -----------------------------------------------------------------

    def idempotency_get(self, actor: str, key: str,
                        ttl: float = IDEMPOTENCY_TTL) -> StoredResponse | None:
        """What is stored under ``key`` for ``actor`` and still remembered, if anything.

        A completed request is remembered ``ttl`` seconds. A row without a response is a
        reservation an older version of Horae made before its change (status None: in
        progress); it counts only for :data:`ABANDONED_AFTER` seconds, so a process that
        died holding one does not block the key for a day.
        """
        with self.db.read() as tx:
            row = tx.one(
                f"SELECT fingerprint, status, body, {self.db.now_sql} - created_at AS age"
                " FROM horae_idempotency WHERE actor = :actor AND key = :key",
                {"actor": actor, "key": key})
        if row is None or row["age"] >= (ttl if row["status"] is not None else ABANDONED_AFTER):
            return None
        return StoredResponse(row["fingerprint"], row["status"], row["body"])

    def idempotency_record_in(self, tx: Tx, actor: str, key: str, fingerprint: str,
                              status: int, body: str, ttl: float = IDEMPOTENCY_TTL) -> bool:
        """Store the response of the change ``tx`` makes under ``key``, in that change's
        transaction: the key, the change and the response commit together or not at all.
        False when the key is already taken (a duplicate committed first; PostgreSQL makes
        this insert wait for a duplicate still in flight): roll the change back and replay.

        Up to :data:`PRUNE_BATCH` expired keys of any actor go first (so the table stays a
        day deep without a janitor, and each insert does a bounded amount of work).
        """
        now = self.store._now(tx)
        self._idempotency_prune(tx, now - ttl, PRUNE_BATCH, skip_locked=self.db.skip_locked)
        return bool(tx.run(
            "INSERT INTO horae_idempotency (actor, key, fingerprint, status, body, created_at)"
            " VALUES (:actor, :key, :fp, :status, :body, :now) ON CONFLICT (actor, key)"
            " DO UPDATE SET fingerprint = excluded.fingerprint, status = excluded.status,"
            " body = excluded.body, created_at = excluded.created_at"
            " WHERE horae_idempotency.created_at < :old OR (horae_idempotency.status IS NULL"
            " AND horae_idempotency.created_at < :abandoned)",
            {"actor": actor, "key": key, "fp": fingerprint, "status": status, "body": body,
             "now": now, "old": now - ttl, "abandoned": now - ABANDONED_AFTER},
        ))

    def idempotency_prune(self, older_than: float = IDEMPOTENCY_TTL, *,
                          batch: int = 10_000, now: float | None = None) -> int:
        """Forget up to ``batch`` keys created more than ``older_than`` seconds before
        ``now`` (default: the database's clock); returns how many."""
        with self.db.write() as tx:
            now = self.store._now(tx) if now is None else now
            return self._idempotency_prune(tx, now - older_than, batch)

    @staticmethod
    def _idempotency_prune(tx: Tx, before: float, batch: int, skip_locked: str = "") -> int:
        # The oldest first, through the created_at index: bounded however large the table.
        # In a change's transaction, SKIP LOCKED: two requests pruning at once never wait
        # on each other's rows (nor deadlock over them).
        return tx.run(
            "DELETE FROM horae_idempotency WHERE (actor, key) IN (SELECT actor, key"
            " FROM horae_idempotency WHERE created_at < :before ORDER BY created_at"
            f" LIMIT :batch{skip_locked})",
            {"before": before, "batch": batch},
        )

    # -- schedules: the conditional delete the API needs -------------------------------

    def schedule_delete_if(self, schedule_id: str, version: int) -> None:
        """Delete a schedule only at ``version``: NotFound, or Conflict on a lost update."""
        with self.db.write() as tx:
            if tx.run("DELETE FROM horae_schedules WHERE id = :id AND version = :v",
                      {"id": schedule_id, "v": version}):
                self.store._schedules_changed(tx)
                self.store._changed(tx, None)
                return
            row = tx.one("SELECT version FROM horae_schedules WHERE id = :id",
                         {"id": schedule_id})
        if row is None:
            raise NotFound("schedule", schedule_id)
        raise Conflict(f"schedule {schedule_id!r} is at version {row['version']}, not {version}")

    # -- events ----------------------------------------------------------------------

    def events_after(self, after_id: int, limit: int = 500) -> tuple[list[Event], float]:
        """Events with an id above ``after_id``, in id order, and the database's now."""
        with self.db.read() as tx:
            rows = tx.all(
                f"SELECT {', '.join(EVENT_COLUMNS)} FROM horae_events WHERE id > :after"
                " ORDER BY id LIMIT :limit",
                {"after": after_id, "limit": limit},
            )
            now = tx.one(f"SELECT {self.db.now_sql} AS now")
        assert now is not None
        return ([Event(r["id"], r["ts"], r["kind"], r["run_id"], r["schedule_id"],
                       json.loads(r["data"])) for r in rows], float(now["now"]))

    def events_last_id(self) -> int:
        with self.db.read() as tx:
            row = tx.one("SELECT max(id) AS id FROM horae_events")
        return int(row["id"]) if row and row["id"] is not None else 0
