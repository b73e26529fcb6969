"""Broadcast and sharding: one run that becomes several, and its summary.

A run with ``fanout`` set is a *parent*: workers never claim it. When it is due, the
scheduler expands it (:func:`expand_due`): ``broadcast`` makes one child per live worker
serving its queue, each targeted at that worker; ``shard`` makes ``shard_total`` children
any worker may take, each with its ``shard_index``. The parent is ``running`` while its
children are active and settles (:func:`settle`) when the last one ends: ``succeeded``
with the list of the children's results (by shard index) if all succeeded, ``cancelled``
if it was cancelled, else ``failed``. Children carry no schedule_id; the parent's
schedule counts the parent's outcome.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from horae.store import rows as R
from horae.store.connection import Tx

if TYPE_CHECKING:
    from horae.store.base import StoreBase as Store

WAITING = "('scheduled', 'queued', 'retrying')"
ACTIVE = "('scheduled', 'queued', 'retrying', 'running')"
_COPIED = ("task", "args", "kwargs", "queue", "priority", "max_attempts", "retry_backoff",
           "retry_backoff_max", "timeout")


def expand_due(store: Store, tx: Tx, now: float, worker_ttl: float, limit: int = 100) -> int:
    """Expand parents whose time has come; returns how many children were created."""
    due = "fanout IS NOT NULL AND state IN " + WAITING + " AND not_before <= :now"
    if store.db.dialect == "postgres":
        # A parent that finds no worker ends and counts on its schedule: the schedules
        # are locked before the parents (the lock order, see StoreBase._ordered).
        tx.all(
            "SELECT id FROM horae_schedules WHERE id IN (SELECT schedule_id FROM (SELECT"
            f" schedule_id FROM horae_runs WHERE {due} ORDER BY id LIMIT :limit) AS p)"
            " ORDER BY id FOR NO KEY UPDATE",
            {"now": now, "limit": limit},
        )
    parents = tx.all(
        f"SELECT id, fanout, shard_total, origin, {', '.join(_COPIED)} FROM horae_runs"
        f" WHERE {due} ORDER BY id LIMIT :limit{store.db.skip_locked}",
        {"now": now, "limit": limit},
    )
    if not parents:
        return 0
    workers = tx.all(
        "SELECT id, queues FROM horae_workers WHERE state = 'active'"
        " AND heartbeat_at >= :fresh ORDER BY id",
        {"fresh": now - worker_ttl},
    )
    created = 0
    children: list[dict[str, Any]] = []
    for p in parents:
        if p["fanout"] == "broadcast":
            targets = [w["id"] for w in workers if p["queue"] in json.loads(w["queues"])]
        else:
            targets = [None] * int(p["shard_total"] or 1)
        if not targets:
            _end_parent(store, tx, p["id"], "failed", now,
                        error=f"no live worker serves queue {p['queue']!r}")
            continue
        for i, target in enumerate(targets):
            children.append({c: p[c] for c in _COPIED} | {
                "state": "queued", "origin": p["fanout"], "parent_id": p["id"],
                "shard_index": i, "shard_total": len(targets), "target_worker": target,
                "not_before": now, "created_at": now,
            })
        tx.run("UPDATE horae_runs SET state = 'running', started_at = :now, shard_total = :n,"
               " progress = 0.0, progress_message = :msg WHERE id = :id",
               {"now": now, "n": len(targets), "id": p["id"],
                "msg": f"0 of {len(targets)} done"})
        created += len(targets)
    cols = (*_COPIED, "state", "origin", "parent_id", "shard_index", "shard_total",
            "target_worker", "not_before", "created_at")
    tx.many(f"INSERT INTO horae_runs ({', '.join(cols)}) VALUES"
            f" ({', '.join(':' + c for c in cols)})", children)
    return created


def settle(store: Store, tx: Tx, parent_ids: Sequence[int | None], now: float) -> None:
    """Update the parents of children that changed: progress, or the final outcome."""
    for pid in sorted({p for p in parent_ids if p is not None}):
        if store.db.dialect == "postgres":
            # Siblings finishing at once on other connections would each still see the
            # others running and none would settle the parent: take turns on its row, so
            # the last one reads every sibling's committed state.
            # (Every caller locked the parent already, before its children, in the lock
            # order: this takes nothing new.)
            tx.all("SELECT id FROM horae_runs WHERE id = :p FOR NO KEY UPDATE", {"p": pid})
        parent = tx.one("SELECT fanout, cancel_requested FROM horae_runs WHERE id = :p",
                        {"p": pid})
        if parent is None or parent["fanout"] not in ("broadcast", "shard"):
            # A workflow run moves on in store/workflow_runs.py; a run that made children
            # itself (runs.create(parent=...)) ends by its own outcome.
            continue
        kids = tx.all(
            "SELECT state, result, error, shard_index FROM horae_runs WHERE parent_id = :p"
            " ORDER BY shard_index",
            {"p": pid},
        )
        active = sum(k["state"] in ACTIVE for k in kids)
        done = len(kids) - active
        if active:
            tx.run("UPDATE horae_runs SET progress = :f, progress_message = :m"
                   " WHERE id = :p AND state = 'running'",
                   {"p": pid, "f": done / len(kids), "m": f"{done} of {len(kids)} done"})
            continue
        failed = [k for k in kids if k["state"] != "succeeded"]
        if not failed:
            results = [json.loads(k["result"]) if k["result"] is not None else None
                       for k in kids]
            _end_parent(store, tx, pid, "succeeded", now, result=results)
        else:
            state = "cancelled" if parent["cancel_requested"] else "failed"
            first = failed[0]
            _end_parent(store, tx, pid, state, now, error=(
                f"{len(failed)} of {len(kids)} children did not succeed; child"
                f" {first['shard_index']}: {first['state']}"
                + (f" ({first['error']})" if first["error"] else "")))


def cancel_children(store: Store, tx: Tx, parent_id: int, now: float) -> None:
    """Cancel a held parent's children (their ids are above the parent's: lock order)."""
    kids = store._ordered(f"parent_id = :p AND state IN {ACTIVE}")
    tx.run(f"UPDATE horae_runs SET state = 'cancelled', finished_at = :now,"
           f" error = 'cancelled with its parent' WHERE {kids} AND state IN {WAITING}",
           {"p": parent_id, "now": now})
    tx.run(f"UPDATE horae_runs SET cancel_requested = 1 WHERE {kids}"
           " AND state = 'running'", {"p": parent_id})
    settle(store, tx, [parent_id], now)


def lose_targeted(store: Store, tx: Tx, worker_ids: Sequence[str], now: float) -> None:
    """Children waiting for a worker that is gone can never run: they are lost."""
    if not worker_ids:
        return
    targeted = [r["id"] for r in tx.all(
        f"SELECT id FROM horae_runs WHERE state IN {WAITING}"
        f" AND {store.db.in_list('target_worker', 'ids')}",
        {"ids": store.db.list_param(list(worker_ids))},
    )]
    if not targeted:
        return
    store._lock_runs(tx, targeted)  # and their parents, which settle changes
    rows = tx.all(
        f"UPDATE horae_runs SET state = 'lost', finished_at = :now,"
        f" error = 'its worker ' || target_worker || ' went away before taking it'"
        f" WHERE state IN {WAITING} AND {store.db.in_list('id', 'ids')}"
        " RETURNING parent_id",
        {"now": now, "ids": store.db.list_param(targeted)},
    )
    settle(store, tx, [r["parent_id"] for r in rows], now)


def _end_parent(store: Store, tx: Tx, pid: int, state: str, now: float, *,
                result: Any = None, error: str | None = None) -> None:
    row = tx.one(
        "UPDATE horae_runs SET state = :state, finished_at = :now, result = :result,"
        " error = :error, progress = CASE WHEN :ok = 1 THEN 1.0 ELSE progress END"
        " WHERE id = :p AND state IN ('scheduled', 'queued', 'retrying', 'running')"
        " RETURNING schedule_id, origin",
        {"state": state, "now": now, "p": pid, "error": error, "ok": int(state == "succeeded"),
         "result": None if result is None else R.dumps(result)},
    )
    if row is not None and row["schedule_id"] is not None:
        store._count_outcomes(tx, [(row["schedule_id"], state, row["origin"])], now)
