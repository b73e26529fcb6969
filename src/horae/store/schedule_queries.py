"""Schedules: create, change, list, and turn due fires into runs."""

from __future__ import annotations

from typing import Any

from horae.errors import Conflict, NotFound
from horae.models import (
    Fanout,
    Policies,
    RunState,
    Schedule,
)
from horae.policies import FirePlan
from horae.store import rows as R
from horae.store.base import (
    _NEW_RUN_COLS,
    ACTIVE_SQL,
    WAITING_SQL,
    DueRow,
    FireOutcome,
    Planner,
    StoreBase,
)
from horae.store.connection import Tx

# The overlap policy counts a schedule's own runs, not a backfill's (docs/semantics.md).
_OWN = " AND r.origin <> 'backfill'"


class ScheduleQueries(StoreBase):
    def schedule_add(self, s: Schedule) -> Schedule:
        """Insert a new schedule. Raises Conflict if the id exists."""
        row = R.schedule_to_row(s)
        with self.db.write() as tx:
            now = self._now(tx)
            row.update(created_at=now, updated_at=now, version=1)
            cols = R.columns(R.SCHEDULE_COLUMNS)
            vals = R.columns(R.SCHEDULE_COLUMNS, ":")
            inserted = tx.run(
                f"INSERT INTO horae_schedules ({cols}) VALUES ({vals}) ON CONFLICT (id) DO NOTHING",
                row,
            )
            if not inserted:
                raise Conflict(f"schedule {s.id!r} already exists")
            self._schedules_changed(tx)
            added = R.schedule_from_row(row)
            self._changed(tx, added)
        return added

    def schedule_get(self, schedule_id: str) -> Schedule:
        with self.db.read() as tx:
            row = tx.one(
                f"SELECT {R.columns(R.SCHEDULE_COLUMNS)} FROM horae_schedules WHERE id = :id",
                {"id": schedule_id},
            )
        if row is None:
            raise NotFound("schedule", schedule_id)
        return R.schedule_from_row(row)

    def schedule_count(self) -> int:
        with self.db.read() as tx:
            row = tx.one("SELECT count(*) AS n FROM horae_schedules")
        return int(row["n"]) if row else 0

    def schedule_replace(
        self, s: Schedule, *, expected_version: int | None = None, retime: bool = True,
        declare: bool = False,
    ) -> Schedule:
        """Write every editable field of ``s`` (and, with ``retime``, its next_fire_at); bump
        its version.

        With ``expected_version``, raises Conflict when the stored version differs (a lost
        update). Counters are kept. Without ``retime`` the stored next_fire_at stays: a
        scheduler may have advanced it since ``s`` was read. ``declare`` also writes
        ``declared`` and ``declared_fingerprint`` (only code's declarations do).
        """
        row = R.schedule_to_row(s)
        editable: tuple[str, ...] = ("task", "trigger", "args", "kwargs", "policies", "paused",
                                     "description", "tags")
        if retime:
            editable += ("next_fire_at",)
        if declare:
            editable += ("declared", "declared_fingerprint")
        sets = ", ".join(f"{c} = :{c}" for c in editable)
        guard = "" if expected_version is None else " AND version = :expected"
        with self.db.write() as tx:
            params = {c: row[c] for c in editable} | {"id": s.id, "expected": expected_version}
            changed = tx.one(
                f"UPDATE horae_schedules SET {sets}, version = version + 1,"
                f" updated_at = {self.db.now_sql} WHERE id = :id{guard}"
                f" RETURNING {R.columns(R.SCHEDULE_COLUMNS)}",
                params,
            )
            if changed is None:
                exists = tx.one("SELECT version FROM horae_schedules WHERE id = :id", {"id": s.id})
                if exists is None:
                    raise NotFound("schedule", s.id)
                raise Conflict(
                    f"schedule {s.id!r} changed meanwhile (version {exists['version']},"
                    f" expected {expected_version}); reload it and try again"
                )
            self._schedules_changed(tx)
            replaced = R.schedule_from_row(changed)
            self._changed(tx, replaced)
        return replaced

    def schedules_declared_ids(self) -> list[str]:
        """The ids of the schedules declared in code, sorted."""
        with self.db.read() as tx:
            rows = tx.all("SELECT id FROM horae_schedules WHERE declared = 1 ORDER BY id")
        return [r["id"] for r in rows]

    def schedule_delete(self, schedule_id: str) -> None:
        """Delete a schedule; its runs stay (history). Raises NotFound."""
        with self.db.write() as tx:
            if not tx.run("DELETE FROM horae_schedules WHERE id = :id", {"id": schedule_id}):
                raise NotFound("schedule", schedule_id)
            self._schedules_changed(tx)
            self._changed(tx, None)

    def schedules_changed_mark(self) -> int:
        """SQLite: a counter that grows with every schedule write, cheap to poll across
        processes. PostgreSQL keeps no such counter (NOTIFY carries changes there)."""
        if self.db.dialect == "postgres":
            raise NotImplementedError("PostgreSQL announces schedule changes with NOTIFY "
                                      "horae_schedules; it keeps no change counter")
        with self.db.read() as tx:
            row = tx.one("SELECT value FROM horae_meta WHERE key = 'schedules_changed'")
        return int(row["value"]) if row else 0

    def schedules_next_due(self) -> float | None:
        """The earliest next_fire_at of an active schedule."""
        return self.schedules_next_due_and_now()[0]

    def schedules_next_due_and_now(self) -> tuple[float | None, float]:
        """The earliest next_fire_at of an active schedule, and the database's now."""
        with self.db.read() as tx:
            row = tx.one(f"SELECT min(next_fire_at) AS t, {self.db.now_sql} AS now"
                         " FROM horae_schedules WHERE paused = 0")
        assert row is not None
        return (None if row["t"] is None else float(row["t"])), float(row["now"])

    def schedules_fire_due(self, planner: Planner, limit: int = 1000) -> FireOutcome:
        """Turn due fires into run rows and advance each schedule, in one transaction.

        Takes up to ``limit`` unpaused schedules whose next_fire_at <= now (earliest first;
        PostgreSQL skips rows another scheduler holds), asks ``planner`` what each due fire
        becomes, then inserts the runs (a fire that already has a run is ignored) and writes
        each schedule's new next_fire_at and counters.
        """
        out = FireOutcome()
        lock = " FOR UPDATE OF s SKIP LOCKED" if self.db.dialect == "postgres" else ""
        if self.db.dialect == "sqlite":
            with self.db.read() as tx:  # don't take the single write lock to find nothing
                if tx.one("SELECT id FROM horae_schedules WHERE paused = 0 AND next_fire_at"
                          f" <= {self.db.now_sql} LIMIT 1") is None:
                    return out
        with self.db.write() as tx:
            # One statement reads the clock, the due schedules and, per schedule, what the
            # planner needs from its runs (each an index lookup): a pass is few round trips.
            # The clock is a scalar subquery so the due index is read as a range, and the
            # active-state term repeats the partial index's condition so SQLite uses it.
            due = tx.all(self.due_sql(lock), {"limit": limit})
            if not due:
                return out
            now = float(due[0]["now"])
            plans = planner(
                [
                    DueRow(r["id"], r["version"], r["trigger"], r["policies"], r["next_fire_at"],
                           r["fires"], int(r["active"]) - int(r["running"]), int(r["running"]),
                           None if r["oldest_active"] is None else float(r["oldest_active"]))
                    for r in due
                ],
                now,
            )
            by_id = {r["id"]: r for r in due}
            refired = {r["id"] for r in due if r["fired"]}
            if refired:
                self._drop_fired(tx, [p for p in plans if p.schedule_id in refired])
            self._cancel_previous(tx, [p.schedule_id for p in plans if p.cancel_active], now)
            self._insert_planned(tx, plans, by_id, now, out)
            self._advance(tx, [
                {"id": p.schedule_id, "next": p.next_fire_at,
                 "fires": p.count(RunState.QUEUED, RunState.SCHEDULED),
                 "missed": p.count(RunState.MISSED) + p.skipped_over,
                 "skipped": p.count(RunState.SKIPPED)}
                for p in plans
            ])
            out.schedules = len(plans)
            if out.runs_queued:
                self._notify(tx, "horae_runs")
        return out

    def due_sql(self, lock: str = "") -> str:
        """The due pass's read: clock, due schedules, and per schedule its run counts.

        Every count reads the runs of one schedule through an index on ``schedule_id``
        (O(due), never O(runs)). The running count is a sum over the active index rather
        than a ``state = 'running'`` condition: given that condition, PostgreSQL with stale
        statistics (a table analysed while few runs were running) walks the partial index of
        *every* running run for each due schedule, which made a pass cost O(due × running)
        and stalled firing for minutes under load. A backfill's runs are left out: they are
        throttled by the backfill's own bound, and the overlap policy sees only the runs
        the schedule fired itself (or was asked to run now).
        """
        return (
            f"WITH c AS (SELECT {self.db.now_sql} AS now)"
            " SELECT s.id, s.version, s.trigger, s.policies, s.next_fire_at, s.fires,"
            " s.task, s.args, s.kwargs, c.now,"
            " (SELECT count(*) FROM horae_runs r WHERE r.schedule_id = s.id"
            f"  AND r.state IN {ACTIVE_SQL}{_OWN}) AS active,"
            " (SELECT coalesce(sum(CASE WHEN r.state = 'running' THEN 1 ELSE 0 END), 0)"
            f"  FROM horae_runs r WHERE r.schedule_id = s.id AND r.state IN {ACTIVE_SQL}{_OWN})"
            " AS running,"
            " (SELECT min(r.created_at) FROM horae_runs r WHERE r.schedule_id = s.id"
            f"  AND r.state IN {ACTIVE_SQL}{_OWN}) AS oldest_active,"
            " (SELECT count(*) FROM horae_runs r WHERE r.schedule_id = s.id"
            "  AND r.fire_time >= s.next_fire_at) AS fired"
            " FROM horae_schedules s CROSS JOIN c"
            " WHERE s.paused = 0 AND s.next_fire_at <= (SELECT now FROM c)"
            f" ORDER BY s.next_fire_at LIMIT :limit{lock}"
        )

    def _advance(self, tx: Tx, updates: list[dict[str, Any]]) -> None:
        """Write each fired schedule's next_fire_at and counters."""
        if self.db.dialect == "postgres":
            # One statement for the batch (see Database.insert_many); the rows are already
            # locked by the SELECT ... FOR UPDATE of this transaction.
            tx.run(
                "UPDATE horae_schedules AS s SET next_fire_at = v.next,"
                " fires = s.fires + v.fires, missed = s.missed + v.missed,"
                " skipped = s.skipped + v.skipped FROM json_to_recordset(:rows::json)"
                " AS v(id text, next float8, fires int, missed int, skipped int)"
                " WHERE s.id = v.id",
                {"rows": R.dumps(updates)},
            )
            return
        tx.many(
            "UPDATE horae_schedules SET next_fire_at = :next, fires = fires + :fires,"
            " missed = missed + :missed, skipped = skipped + :skipped WHERE id = :id",
            updates,
        )

    def _drop_fired(self, tx: Tx, plans: list[FirePlan]) -> None:
        """Forget planned fires that already have a run (an edit moved next_fire_at back).

        The unique key would ignore their rows anyway; dropping them first keeps the
        schedule's counters equal to its runs.
        """
        ids = [p.schedule_id for p in plans if p.runs]
        if not ids:
            return
        rows = tx.all(
            "SELECT r.schedule_id, r.fire_time FROM horae_schedules s JOIN horae_runs r"
            " ON r.schedule_id = s.id AND r.fire_time >= s.next_fire_at"
            f" WHERE {self.db.in_list('s.id', 'ids')}",
            {"ids": self.db.list_param(ids)},
        )
        fired = {(r["schedule_id"], float(r["fire_time"])) for r in rows}
        if fired:
            for p in plans:
                p.runs = [r for r in p.runs if (p.schedule_id, r.fire_time) not in fired]

    def _cancel_previous(self, tx: Tx, schedule_ids: list[str], now: float) -> None:
        if not schedule_ids:
            return
        # The schedules are held (this pass locked them); their active runs next, in id
        # order, before either update (the lock order).
        locked = [r["id"] for r in tx.all(
            f"SELECT id FROM horae_runs WHERE {self.db.in_list('schedule_id', 'ids')}"
            f" AND state IN {ACTIVE_SQL} AND origin <> 'backfill' ORDER BY id"
            f"{self.db.lock_rows}",
            {"ids": self.db.list_param(schedule_ids)},
        )]
        if not locked:
            return
        ids = {"ids": self.db.list_param(locked), "now": now}
        in_ids = self.db.in_list("id", "ids")
        tx.run(
            "UPDATE horae_runs SET state = 'cancelled', finished_at = :now,"
            f" error = 'cancelled: a newer fire replaced it' WHERE state IN {WAITING_SQL}"
            f" AND {in_ids}",
            ids,
        )
        tx.run(f"UPDATE horae_runs SET cancel_requested = 1 WHERE state = 'running' AND {in_ids}",
               ids)

    def _insert_planned(
        self, tx: Tx, plans: list[FirePlan], by_id: dict[str, Any], now: float, out: FireOutcome
    ) -> None:
        rows = []
        for plan in plans:
            sched, pol = by_id[plan.schedule_id], plan.policies
            assert pol is not None
            for p in plan.runs:
                out.fires += 1
                runnable = p.state in (RunState.QUEUED, RunState.SCHEDULED)
                out.runs_queued += runnable
                fanout = None if pol.fanout is Fanout.ONE else pol.fanout.value
                rows.append((
                    sched["task"], p.state.value, plan.schedule_id, p.fire_time, "schedule",
                    sched["args"], sched["kwargs"], pol.queue, pol.priority, p.not_before, now,
                    None if runnable else now, pol.retries + 1, pol.retry_backoff,
                    pol.retry_backoff_max, pol.timeout, None, None,
                    pol.shards if fanout == "shard" else None, None, fanout,
                    _expires_at(p.not_before, pol) if runnable and fanout is None else None,
                    p.reason,
                ))
                out.fanouts += bool(fanout) and runnable
        self.db.insert_many(tx, "horae_runs", [dict(zip((*_NEW_RUN_COLS, "error"), r,
                                                        strict=True)) for r in rows],
                            "ON CONFLICT (schedule_id, fire_time) DO NOTHING")


def _expires_at(due_to_start: float, pol: Policies) -> float | None:
    """From when the run was due to start (its fire time plus its jitter)."""
    return None if pol.expire_after is None else due_to_start + pol.expire_after
