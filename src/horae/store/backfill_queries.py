"""Backfills: a schedule run over a past range, queued a few runs at a time.

Contract (proven by ``tests/store/test_backfill.py`` on every backend):

- A backfill row (``horae_backfills``) holds its range, its concurrency bound and a cursor:
  the next fire time not yet queued. :meth:`BackfillQueries.backfills_top_up` queues, for
  each running backfill, fires from its cursor until ``concurrency`` of its runs are active
  (waiting or running), never more: runs with origin ``backfill``, their logical
  ``fire_time``, the schedule's task, arguments and run policies as they are now.
- Each fire is inserted ``ON CONFLICT (schedule_id, fire_time) DO NOTHING``: a fire that
  already has a run (fired by the schedule, or by an earlier backfill) is skipped and
  counted in ``skipped_existing``; a backfill run twice never duplicates a fire.
- A backfill is ``done`` once every fire was queued or skipped and none of its runs is
  active; ``cancelled`` (by an operator, or because its schedule was removed) stops the
  queueing and cancels its waiting runs; running ones finish.
- Top-ups take the backfill rows ``FOR UPDATE SKIP LOCKED`` (PostgreSQL): two schedulers
  never top up one backfill at once, and neither waits for the other. Runs are locked
  only by the cancel, in the one order (schedules, then runs by id; see base.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from horae.backfill import Backfill
from horae.errors import Conflict, NotFound
from horae.store import rows as R
from horae.store.base import _NEW_RUN_COLS, ACTIVE_SQL, WAITING_SQL, StoreBase
from horae.store.connection import Tx

BACKFILL_COLUMNS = ("id", "schedule_id", "range_from", "range_to", "concurrency", "state",
                    "total", "created", "skipped_existing", "created_by", "created_at",
                    "finished_at", "cursor", "plan_window")
_COLS = R.columns(BACKFILL_COLUMNS)
#: Fires read per step of a top-up, and steps per backfill per pass: a long stretch of
#: fires that already have runs is skipped over a few passes, never in one long transaction.
_STEP = 256
_STEPS_PER_PASS = 20

#: ``(plan_window JSON, cursor, end, n)`` -> up to ``n`` fires from the cursor (inclusive)
#: before ``end``, and the next cursor (None: none left). Trigger math, given by the caller.
NextFires = Callable[[str, float, float, int], tuple[list[float], float | None]]


def backfill_from_row(row: dict[str, Any]) -> Backfill:
    return Backfill(
        id=int(row["id"]), schedule_id=row["schedule_id"], start=float(row["range_from"]),
        end=float(row["range_to"]), concurrency=int(row["concurrency"]), state=row["state"],
        total=int(row["total"]), created=int(row["created"]),
        skipped_existing=int(row["skipped_existing"]), created_by=row["created_by"],
        created_at=float(row["created_at"]),
        finished_at=None if row["finished_at"] is None else float(row["finished_at"]),
        cursor=None if row["cursor"] is None else float(row["cursor"]),
        window=row["plan_window"],
    )


class BackfillQueries(StoreBase):
    def backfill_existing(self, schedule_id: str, start: float, end: float) -> set[float]:
        """Fire times in ``[start, end)`` that already have a run of this schedule."""
        with self.db.read() as tx:
            rows = tx.all(
                "SELECT fire_time FROM horae_runs WHERE schedule_id = :sid"
                " AND fire_time >= :start AND fire_time < :end",
                {"sid": schedule_id, "start": start, "end": end},
            )
        return {float(r["fire_time"]) for r in rows}

    def backfill_add(self, schedule_id: str, start: float, end: float, *, concurrency: int,
                     total: int, cursor: float | None, window: str,
                     created_by: str | None = None) -> Backfill:
        """Record a running backfill (its fires are queued by :meth:`backfills_top_up`).

        Raises NotFound when the schedule is gone.
        """
        with self.db.write() as tx:
            if tx.one("SELECT id FROM horae_schedules WHERE id = :id", {"id": schedule_id}) \
                    is None:
                raise NotFound("schedule", schedule_id)
            now = self._now(tx)
            row = tx.one(
                "INSERT INTO horae_backfills (schedule_id, range_from, range_to, concurrency,"
                " state, total, created, skipped_existing, created_by, created_at, cursor,"
                " plan_window) VALUES (:sid, :start, :end, :concurrency, :state, :total, 0, 0,"
                f" :by, :now, :cursor, :window) RETURNING {_COLS}",
                {"sid": schedule_id, "start": start, "end": end, "concurrency": concurrency,
                 "state": "running" if cursor is not None else "done", "total": total,
                 "by": created_by, "now": now, "cursor": cursor, "window": window},
            )
            assert row is not None
            added = backfill_from_row(row)
            self._notify(tx, "horae_backfills")
            self._changed(tx, added)
        return added

    def backfill_get(self, backfill_id: int, schedule_id: str | None = None) -> Backfill:
        with self.db.read() as tx:
            row = tx.one(f"SELECT {_COLS} FROM horae_backfills WHERE id = :id",
                         {"id": backfill_id})
        if row is None or (schedule_id is not None and row["schedule_id"] != schedule_id):
            raise NotFound("backfill", backfill_id)
        return backfill_from_row(row)

    def backfill_list(self, schedule_id: str, limit: int = 100) -> list[Backfill]:
        """A schedule's backfills, newest first."""
        with self.db.read() as tx:
            rows = tx.all(f"SELECT {_COLS} FROM horae_backfills WHERE schedule_id = :sid"
                          " ORDER BY id DESC LIMIT :limit", {"sid": schedule_id, "limit": limit})
        return [backfill_from_row(r) for r in rows]

    def backfill_cancel(self, backfill_id: int, schedule_id: str | None = None) -> Backfill:
        """Stop queueing a running backfill and cancel its waiting runs (running ones
        finish). Raises NotFound, or Conflict when it already ended."""
        with self.db.write() as tx:
            row = tx.one(f"SELECT {_COLS} FROM horae_backfills WHERE id = :id"
                         f"{self.db.lock_rows}", {"id": backfill_id})
            if row is None or (schedule_id is not None and row["schedule_id"] != schedule_id):
                raise NotFound("backfill", backfill_id)
            if row["state"] != "running":
                raise Conflict(f"backfill {backfill_id} already ended ({row['state']})")
            waiting = [int(r["id"]) for r in tx.all(
                "SELECT id FROM horae_runs WHERE schedule_id = :sid AND origin = 'backfill'"
                f" AND state IN {WAITING_SQL} AND fire_time >= :start AND fire_time < :end"
                " ORDER BY id",
                {"sid": row["schedule_id"], "start": row["range_from"],
                 "end": row["range_to"]})]
            now = self._lock_runs(tx, waiting)
            if waiting:
                done = tx.all(
                    "UPDATE horae_runs SET state = 'cancelled', finished_at = :now,"
                    " error = 'cancelled: its backfill was cancelled'"
                    f" WHERE {self.db.in_list('id', 'ids')} AND state IN {WAITING_SQL}"
                    " RETURNING schedule_id, origin",
                    {"ids": self.db.list_param(waiting), "now": now},
                )
                self._count_outcomes(tx, [(r["schedule_id"], "cancelled", r["origin"])
                                          for r in done], now)
            changed = tx.one(
                "UPDATE horae_backfills SET state = 'cancelled', finished_at = :now"
                f" WHERE id = :id RETURNING {_COLS}", {"id": backfill_id, "now": now})
            assert changed is not None
            cancelled = backfill_from_row(changed)
            self._changed(tx, cancelled)
        return cancelled

    def backfills_top_up(self, next_fires: NextFires, *, limit: int = 100) -> int:
        """Queue fires of running backfills up to each one's concurrency bound; end those
        with nothing left. Returns how many runs were queued."""
        with self.db.read() as tx:  # one read per pass when no backfill runs
            if tx.one("SELECT id FROM horae_backfills WHERE state = 'running' LIMIT 1") is None:
                return 0
        lock = " FOR UPDATE SKIP LOCKED" if self.db.dialect == "postgres" else ""
        queued = 0
        with self.db.write() as tx:
            rows = tx.all(f"SELECT {_COLS} FROM horae_backfills WHERE state = 'running'"
                          f" ORDER BY id LIMIT :limit{lock}", {"limit": limit})
            if not rows:
                return 0
            now = self._now(tx)
            for row in rows:
                queued += self._top_up(tx, backfill_from_row(row), next_fires, now)
            if queued:
                self._notify(tx, "horae_runs")
        return queued

    def _top_up(self, tx: Tx, b: Backfill, next_fires: NextFires, now: float) -> int:
        sched = tx.one("SELECT task, args, kwargs, policies FROM horae_schedules WHERE id = :id",
                       {"id": b.schedule_id})
        if sched is None:  # removed: nothing to run the fires with
            tx.run("UPDATE horae_backfills SET state = 'cancelled', finished_at = :now"
                   " WHERE id = :id", {"id": b.id, "now": now})
            return 0
        active_row = tx.one(
            "SELECT count(*) AS n FROM horae_runs WHERE schedule_id = :sid"
            f" AND state IN {ACTIVE_SQL} AND origin = 'backfill'"
            " AND fire_time >= :start AND fire_time < :end",
            {"sid": b.schedule_id, "start": b.start, "end": b.end},
        )
        active = int(active_row["n"]) if active_row else 0
        need = b.concurrency - active
        cursor, created, skipped = b.cursor, 0, 0
        template = _run_template(sched, b.schedule_id, now)
        steps = 0
        while need > 0 and cursor is not None and steps < _STEPS_PER_PASS:
            steps += 1
            try:
                fires, after = next_fires(b.window, cursor, b.end, _STEP)
            except (ValueError, KeyError, TypeError):
                # An unreadable plan (written by hand past validation): stop this backfill,
                # not the others of the pass.
                tx.run("UPDATE horae_backfills SET state = 'cancelled', finished_at = :now"
                       " WHERE id = :id", {"id": b.id, "now": now})
                return created
            existing = self._existing(tx, b.schedule_id, fires)
            cursor = after
            for fire in fires:
                if need == 0:
                    cursor = fire  # the first fire not yet looked at
                    break
                if fire not in existing and tx.run(
                    f"INSERT INTO horae_runs ({', '.join(_NEW_RUN_COLS)}) VALUES"
                    f" ({', '.join(':' + c for c in _NEW_RUN_COLS)})"
                    " ON CONFLICT (schedule_id, fire_time) DO NOTHING",
                    template | {"fire_time": fire},
                ):
                    created += 1
                    need -= 1
                else:
                    skipped += 1
        ended = cursor is None and active + created == 0
        tx.run(
            "UPDATE horae_backfills SET cursor = :cursor, created = created + :created,"
            " skipped_existing = skipped_existing + :skipped, state = :state,"
            " finished_at = :finished WHERE id = :id",
            {"id": b.id, "cursor": cursor, "created": created, "skipped": skipped,
             "state": "done" if ended else "running", "finished": now if ended else None},
        )
        return created

    def _existing(self, tx: Tx, schedule_id: str, fires: list[float]) -> set[float]:
        if not fires:
            return set()
        rows = tx.all("SELECT fire_time FROM horae_runs WHERE schedule_id = :sid"
                      " AND fire_time >= :first AND fire_time <= :last",
                      {"sid": schedule_id, "first": fires[0], "last": fires[-1]})
        return {float(r["fire_time"]) for r in rows}


def _run_template(sched: dict[str, Any], schedule_id: str, now: float) -> dict[str, Any]:
    """The columns of a backfill run of ``sched`` but its fire time: the run policies as
    the schedule has them now, due at once (a backfill is late on purpose, so no
    ``expire_after`` applies)."""
    pol = R.policies_from_json(sched["policies"])
    fanout = None if pol.fanout.value == "one" else pol.fanout.value
    return {
        "task": sched["task"], "state": "queued", "schedule_id": schedule_id,
        "fire_time": None, "origin": "backfill", "args": sched["args"],
        "kwargs": sched["kwargs"], "queue": pol.queue, "priority": pol.priority,
        "not_before": now, "created_at": now, "finished_at": None,
        "max_attempts": pol.retries + 1, "retry_backoff": pol.retry_backoff,
        "retry_backoff_max": pol.retry_backoff_max, "timeout": pol.timeout,
        "parent_id": None, "shard_index": None,
        "shard_total": pol.shards if fanout == "shard" else None, "retry_of": None,
        "fanout": fanout, "expires_at": None,
    }
