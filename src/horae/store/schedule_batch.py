"""Many schedule writes in one transaction: a few statements per kind of write, whatever
the number of schedules, and one change notice for the lot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from horae.models import Schedule
from horae.store import rows as R
from horae.store.base import StoreBase
from horae.store.connection import Tx

#: Rows per statement: bounds the size of one parameter (PostgreSQL) and of one executemany.
CHUNK = 1000
_EDITABLE = ("task", "trigger", "args", "kwargs", "policies", "paused", "description", "tags")
_PG_TYPES = {"task": "text", "trigger": "text", "args": "text", "kwargs": "text",
             "policies": "text", "paused": "int", "description": "text", "tags": "text"}


@dataclass
class ScheduleWrite:
    """One write of a batch. ``guard``: only at this version (else the outcome is
    ``stale``). ``before``: the schedule as the caller read it, for change hooks."""

    kind: Literal["insert", "replace", "delete"]
    id: str
    schedule: Schedule | None = None
    guard: int | None = None
    retime: bool = True
    before: Schedule | None = None


@dataclass
class WriteOutcome:
    """``problem``: ``exists`` (insert), ``missing`` or ``stale`` (replace, delete)."""

    ok: bool
    schedule: Schedule | None = None
    problem: str | None = None
    version: int | None = None


@dataclass
class SchedulesChanged:
    """What :func:`horae.store.on_change` hooks receive for a batch, once: each write
    made, with the schedule after it (None for a delete)."""

    changes: list[tuple[ScheduleWrite, Schedule | None]]


class _RollBack(Exception):
    pass


class ScheduleBatchQueries(StoreBase):
    def schedules_write(self, writes: Sequence[ScheduleWrite], *,
                        atomic: bool) -> list[WriteOutcome]:
        """Make ``writes`` (distinct ids) in one transaction; the outcome of each, in order.

        With ``atomic``, a write that cannot be made (its id exists, is missing, or is at
        another version than its guard) leaves every write unmade; the outcomes still say
        which failed. PostgreSQL locks the rows it changes in id order first: the one lock
        order of every writer of schedules.
        """
        outcomes: list[WriteOutcome] = []
        try:
            with self.db.write() as tx:
                outcomes = self._write_all(tx, writes)
                if atomic and not all(o.ok for o in outcomes):
                    raise _RollBack
                done = [(w, o.schedule) for w, o in zip(writes, outcomes, strict=True) if o.ok]
                if done:
                    self._schedules_changed(tx)  # one notice for the whole batch
                    self._changed(tx, SchedulesChanged(done))
        except _RollBack:
            for o in outcomes:
                if o.ok:
                    o.schedule = None
        return outcomes

    def _write_all(self, tx: Tx, writes: Sequence[ScheduleWrite]) -> list[WriteOutcome]:
        now = self._now(tx)
        existing = sorted(w.id for w in writes if w.kind != "insert")
        if existing and self.db.dialect == "postgres":
            for part in _chunks(existing):
                tx.all("SELECT id FROM horae_schedules WHERE"
                       f" {self.db.in_list('id', 'ids')} ORDER BY id FOR UPDATE",
                       {"ids": self.db.list_param(part)})
        by_kind: dict[str, list[int]] = {"insert": [], "replace": [], "delete": []}
        for i, w in enumerate(writes):
            by_kind[w.kind].append(i)
        out: dict[int, WriteOutcome] = {}
        for part in _chunks(by_kind["insert"]):
            out |= self._insert(tx, [writes[i] for i in part], part, now)
        for part in _chunks(by_kind["replace"]):
            out |= self._replace(tx, [writes[i] for i in part], part, now)
        for part in _chunks(by_kind["delete"]):
            out |= self._delete(tx, [writes[i] for i in part], part)
        failed = [writes[i].id for i, o in out.items()
                  if not o.ok and writes[i].kind != "insert"]
        if failed:
            versions = self._versions(tx, failed)
            for i, o in out.items():
                if not o.ok and writes[i].kind != "insert":
                    o.version = versions.get(writes[i].id)
                    o.problem = "missing" if o.version is None else "stale"
        return [out[i] for i in range(len(writes))]

    def _insert(self, tx: Tx, writes: list[ScheduleWrite], idx: list[int],
                now: float) -> dict[int, WriteOutcome]:
        rows = []
        for w in writes:
            assert w.schedule is not None
            row = R.schedule_to_row(w.schedule)
            row.update(created_at=now, updated_at=now, version=1, fires=0, missed=0,
                       skipped=0, successes=0, failures=0, last_state=None, last_run_at=None)
            rows.append(row)
        cols = R.columns(R.SCHEDULE_COLUMNS)
        if self.db.dialect == "postgres":
            got = tx.all(
                f"INSERT INTO horae_schedules ({cols}) SELECT {cols} FROM"
                " json_populate_recordset(NULL::horae_schedules, :rows::json)"
                " ON CONFLICT (id) DO NOTHING RETURNING id",
                {"rows": R.dumps(rows)})
            inserted = {r["id"] for r in got}
        else:
            vals = R.columns(R.SCHEDULE_COLUMNS, ":")
            returned = tx.many_returning(
                f"INSERT INTO horae_schedules ({cols}) VALUES ({vals})"
                " ON CONFLICT (id) DO NOTHING RETURNING id", rows)
            inserted = {r["id"] for r in returned if r is not None}
        return {i: (WriteOutcome(True, replace(w.schedule, created_at=now, updated_at=now,
                                               version=1))  # what the row now holds
                    if w.id in inserted else WriteOutcome(False, problem="exists"))
                for i, w in zip(idx, writes, strict=True) if w.schedule is not None}

    def _replace(self, tx: Tx, writes: list[ScheduleWrite], idx: list[int],
                 now: float) -> dict[int, WriteOutcome]:
        rows = []
        for w in writes:
            assert w.schedule is not None
            full = R.schedule_to_row(w.schedule)
            rows.append({c: full[c] for c in _EDITABLE} | {
                "id": w.id, "next_fire_at": full["next_fire_at"], "retime": w.retime,
                "guard": w.guard, "now": now})
        returning = ", ".join(f"s.{c}" for c in R.SCHEDULE_COLUMNS)
        if self.db.dialect == "postgres":
            sets = ", ".join(f"{c} = v.{c}" for c in _EDITABLE)
            types = ", ".join(f"{c} {t}" for c, t in _PG_TYPES.items())
            got = tx.all(
                f"UPDATE horae_schedules AS s SET {sets}, next_fire_at = CASE WHEN v.retime"
                " THEN v.next_fire_at ELSE s.next_fire_at END, version = s.version + 1,"
                f" updated_at = v.now FROM json_to_recordset(:rows::json) AS v(id text, {types},"
                " next_fire_at float8, retime boolean, guard int, now float8)"
                " WHERE s.id = v.id AND (v.guard IS NULL OR s.version = v.guard)"
                f" RETURNING {returning}",
                {"rows": R.dumps(rows)})
            changed = {r["id"]: r for r in got}
        else:
            sets = ", ".join(f"{c} = :{c}" for c in _EDITABLE)
            returned = tx.many_returning(
                f"UPDATE horae_schedules SET {sets}, next_fire_at = CASE WHEN :retime"
                " THEN :next_fire_at ELSE next_fire_at END, version = version + 1,"
                " updated_at = :now WHERE id = :id AND (:guard IS NULL OR version = :guard)"
                f" RETURNING {R.columns(R.SCHEDULE_COLUMNS)}", rows)
            changed = {r["id"]: r for r in returned if r is not None}
        return {i: (WriteOutcome(True, R.schedule_from_row(changed[row["id"]]))
                    if row["id"] in changed else WriteOutcome(False))
                for i, row in zip(idx, rows, strict=True)}

    def _delete(self, tx: Tx, writes: list[ScheduleWrite],
                idx: list[int]) -> dict[int, WriteOutcome]:
        rows = [{"id": w.id, "guard": w.guard} for w in writes]
        if self.db.dialect == "postgres":
            got = tx.all(
                "DELETE FROM horae_schedules AS s USING json_to_recordset(:rows::json)"
                " AS v(id text, guard int) WHERE s.id = v.id"
                " AND (v.guard IS NULL OR s.version = v.guard) RETURNING s.id",
                {"rows": R.dumps(rows)})
            deleted = {r["id"] for r in got}
        else:
            returned = tx.many_returning(
                "DELETE FROM horae_schedules WHERE id = :id"
                " AND (:guard IS NULL OR version = :guard) RETURNING id", rows)
            deleted = {r["id"] for r in returned if r is not None}
        return {i: WriteOutcome(w.id in deleted) for i, w in zip(idx, writes, strict=True)}

    def _versions(self, tx: Tx, ids: list[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for part in _chunks(ids):
            for r in tx.all(f"SELECT id, version FROM horae_schedules WHERE"
                            f" {self.db.in_list('id', 'ids')}",
                            {"ids": self.db.list_param(part)}):
                out[r["id"]] = int(r["version"])
        return out

    def schedules_get_many(self, ids: Sequence[str]) -> dict[str, Schedule]:
        """The schedules of ``ids`` that exist, by id (absent ids are left out)."""
        out: dict[str, Schedule] = {}
        with self.db.read() as tx:
            for part in _chunks(list(ids)):
                for row in tx.all(
                        f"SELECT {R.columns(R.SCHEDULE_COLUMNS)} FROM horae_schedules WHERE"
                        f" {self.db.in_list('id', 'ids')}",
                        {"ids": self.db.list_param(part)}):
                    out[row["id"]] = R.schedule_from_row(row)
        return out


def _chunks(items: list[Any]) -> list[list[Any]]:
    return [items[i:i + CHUNK] for i in range(0, len(items), CHUNK)]
