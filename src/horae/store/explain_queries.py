"""What "why didn't it fire?" (horae.explain) reads, and the scheduler liveness it needs.

Liveness: each scheduler process writes one ``horae_schedulers`` row when it starts and
moves its ``seen_at`` forward at most every :data:`SEEN_EVERY` seconds while its loop goes
round (and writes ``stopped_at`` when it stops cleanly). An instant that no row's
``[started_at, stopped_at]`` (or ``[started_at, seen_at + SLACK]`` for a scheduler that went
silent) covers is a time when no scheduler was running. The table stays small: each start
deletes the rows last seen more than :data:`KEEP_SECONDS` ago and all but the newest
:data:`KEEP_ROWS`. The table is touched by nothing else, so these statements take no lock
any fire, claim or outcome waits for.

The facts for one instant are a handful of index lookups in one read transaction: the
schedule, its runs whose fire time is near the instant (the unique ``(schedule_id,
fire_time)`` key), the nearest run before and after, its recorded changes (the events
table keeps every write for ``events_keep_hours``; the audit keeps who and the definition
before and after, for changes made through the API, the CLI or the console), and liveness.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from horae.models import Run, Schedule
from horae.store import rows as R
from horae.store.base import StoreBase
from horae.store.connection import Tx

SCHEDULER_COLUMNS = ("id", "host", "pid", "started_at", "seen_at", "stopped_at")
#: A running scheduler writes ``seen_at`` at most this often.
SEEN_EVERY = 5.0
#: A scheduler counts as running until this long after its last ``seen_at`` (a loop that
#: sleeps at most ``max_sleep`` between passes writes well within it).
SLACK = 3 * SEEN_EVERY
KEEP_SECONDS = 30 * 86400.0
KEEP_ROWS = 10_000
#: How many recorded changes of one schedule are read (the newest).
MAX_CHANGES = 500
_RUN_COLS = R.columns(R.RUN_COLUMNS)
_OWN_FIRES = "schedule_id = :sid AND origin = 'schedule' AND parent_id IS NULL"


@dataclass(frozen=True)
class ScheduleChange:
    """One recorded write of a schedule: from the events table (every write, kept for
    hours) and/or the audit (who, and the wire form before and after)."""

    ts: float
    kind: str  # created | changed
    version: int | None
    paused: bool | None
    actor: str | None = None
    action: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


@dataclass(frozen=True)
class Liveness:
    """Scheduler liveness around one instant (all None when nothing is recorded)."""

    first_started: float | None  # the oldest kept record: before it, nothing is known
    seen_before: float | None  # when the schedulers started at or before it were last seen
    covered_until: float | None  # until when one of them surely or possibly ran
    started_after: float | None  # earliest start after it
    running_now: bool  # some scheduler was seen within SLACK and has not stopped


@dataclass
class ExplainFacts:
    now: float
    schedule: Schedule
    runs: list[Run] = field(default_factory=list)  # fire_time within ``near`` of the instant
    run_before: Run | None = None  # the newest fire before that window
    run_after: Run | None = None  # the oldest fire after that window
    fired_before: int = 0  # runs made (not skipped/missed) with a fire time before it
    active: int = 0  # its runs waiting or running now
    changes: list[ScheduleChange] = field(default_factory=list)
    liveness: Liveness | None = None


class ExplainQueries(StoreBase):
    # -- scheduler liveness --------------------------------------------------------

    def scheduler_started(self, scheduler_id: str, host: str, pid: int) -> None:
        """Record a scheduler process start."""
        with self.db.write() as tx:
            tx.run(f"INSERT INTO horae_schedulers (id, host, pid, started_at, seen_at)"
                   f" VALUES (:id, :host, :pid, {self.db.now_sql}, {self.db.now_sql})"
                   " ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at,"
                   " seen_at = excluded.seen_at, stopped_at = NULL",
                   {"id": scheduler_id, "host": host, "pid": pid})

    def scheduler_seen(self, scheduler_id: str, host: str, pid: int, *,
                       stopped: bool = False) -> None:
        """Move a running scheduler's ``seen_at`` to now (``stopped``: it stops cleanly).
        A row that is missing (its start could not be written) is written now: the
        scheduler is known to run from this moment."""
        now = self.db.now_sql
        with self.db.write() as tx:
            tx.run(f"INSERT INTO horae_schedulers (id, host, pid, started_at, seen_at,"
                   f" stopped_at) VALUES (:id, :host, :pid, {now}, {now},"
                   f" {now if stopped else 'NULL'}) ON CONFLICT (id) DO UPDATE SET"
                   " seen_at = excluded.seen_at, stopped_at = excluded.stopped_at",
                   {"id": scheduler_id, "host": host, "pid": pid})

    def schedulers_prune(self) -> int:
        """Forget liveness rows last seen more than KEEP_SECONDS ago, and all but the
        newest KEEP_ROWS; returns how many. Each scheduler start calls it."""
        offset = "LIMIT -1 OFFSET :keep" if self.db.dialect == "sqlite" else "OFFSET :keep"
        with self.db.write() as tx:
            now = self._now(tx)
            old = tx.run("DELETE FROM horae_schedulers WHERE seen_at < :cut",
                         {"cut": now - KEEP_SECONDS})
            extra = tx.run("DELETE FROM horae_schedulers WHERE id IN (SELECT id FROM"
                           f" horae_schedulers ORDER BY seen_at DESC, id {offset})",
                           {"keep": KEEP_ROWS})
        return old + extra

    def _liveness(self, tx: Tx, at: float, now: float) -> Liveness:
        # A scheduler covers [started_at, stopped_at] when it stopped cleanly, else
        # [started_at, seen_at + SLACK] (it may have run until just before it went silent).
        row = tx.one(
            "SELECT (SELECT min(started_at) FROM horae_schedulers) AS first_started,"
            " (SELECT max(coalesce(stopped_at, seen_at)) FROM horae_schedulers"
            "  WHERE started_at <= :at) AS seen_before,"
            " (SELECT max(coalesce(stopped_at, seen_at + :slack)) FROM horae_schedulers"
            "  WHERE started_at <= :at) AS covered_until,"
            " (SELECT min(started_at) FROM horae_schedulers WHERE started_at > :at)"
            " AS started_after,"
            " (SELECT count(*) FROM horae_schedulers WHERE stopped_at IS NULL"
            "  AND seen_at >= :fresh) AS running",
            {"at": at, "fresh": now - SLACK, "slack": SLACK})
        assert row is not None

        def num(key: str) -> float | None:
            return None if row[key] is None else float(row[key])

        return Liveness(num("first_started"), num("seen_before"), num("covered_until"),
                        num("started_after"), int(row["running"]) > 0)

    # -- the facts for one instant ---------------------------------------------------

    def explain_facts(self, schedule_id: str, at: float, near: float) -> ExplainFacts:
        """Everything :func:`horae.explain.explain_at` needs about ``at`` (NotFound when
        the schedule does not exist)."""
        params = {"sid": schedule_id, "low": at - near, "high": at + near, "at": at}
        with self.db.read() as tx:
            now = self._now(tx)
            row = tx.one(f"SELECT {R.columns(R.SCHEDULE_COLUMNS)} FROM horae_schedules"
                         " WHERE id = :sid", params)
            if row is None:
                from horae.errors import NotFound

                raise NotFound("schedule", schedule_id)
            facts = ExplainFacts(now, R.schedule_from_row(row))
            facts.runs = [R.run_from_row(r) for r in tx.all(
                f"SELECT {_RUN_COLS} FROM horae_runs WHERE {_OWN_FIRES}"
                " AND fire_time >= :low AND fire_time <= :high ORDER BY fire_time", params)]
            before = tx.one(f"SELECT {_RUN_COLS} FROM horae_runs WHERE {_OWN_FIRES}"
                            " AND fire_time < :low ORDER BY fire_time DESC LIMIT 1", params)
            after = tx.one(f"SELECT {_RUN_COLS} FROM horae_runs WHERE {_OWN_FIRES}"
                           " AND fire_time > :high ORDER BY fire_time LIMIT 1", params)
            facts.run_before = None if before is None else R.run_from_row(before)
            facts.run_after = None if after is None else R.run_from_row(after)
            counted = tx.one(
                f"SELECT count(*) AS n FROM horae_runs WHERE {_OWN_FIRES} AND fire_time < :at"
                " AND (state NOT IN ('skipped', 'missed') OR error LIKE :expired)",
                params | {"expired": "expire_after=%"})
            facts.fired_before = int(counted["n"]) if counted else 0
            active = tx.one("SELECT count(*) AS n FROM horae_runs WHERE schedule_id = :sid"
                            " AND state IN ('scheduled', 'queued', 'retrying', 'running')",
                            params)
            facts.active = int(active["n"]) if active else 0
            facts.changes = self._changes(tx, schedule_id)
            facts.liveness = self._liveness(tx, at, now)
        return facts

    def explain_last_fire(self, schedule_id: str) -> float | None:
        """The newest fire time of the schedule's own fires that is not in the future."""
        with self.db.read() as tx:
            row = tx.one(f"SELECT max(fire_time) AS f FROM horae_runs WHERE {_OWN_FIRES}"
                         f" AND fire_time <= {self.db.now_sql}", {"sid": schedule_id})
        return None if row is None or row["f"] is None else float(row["f"])

    def _changes(self, tx: Tx, schedule_id: str) -> list[ScheduleChange]:
        """The schedule's recorded writes, oldest first: events and audit records joined
        by version (an audit record names who made the version it wrote)."""
        params = {"sid": schedule_id, "limit": MAX_CHANGES}
        events = tx.all(
            "SELECT ts, kind, data FROM (SELECT id, ts, kind, data FROM horae_events"
            " WHERE schedule_id = :sid AND kind IN ('schedule.created', 'schedule.changed')"
            " AND run_id IS NULL ORDER BY id DESC LIMIT :limit) e ORDER BY id", params)
        audits = tx.all(
            "SELECT ts, actor, action, before_data, after_data FROM (SELECT id, ts, actor,"
            " action, before_data, after_data FROM horae_audit WHERE target_kind = 'schedule'"
            " AND target_id = :sid ORDER BY id DESC LIMIT :limit) a ORDER BY id", params)
        by_version: dict[int, dict[str, Any]] = {}
        loose: list[ScheduleChange] = []
        for a in audits:
            after, before = _loads(a["after_data"]), _loads(a["before_data"])
            version = after.get("version") if isinstance(after, dict) else None
            record = {"ts": float(a["ts"]), "actor": a["actor"], "action": a["action"],
                      "before": before if isinstance(before, dict) else None,
                      "after": after if isinstance(after, dict) else None}
            if isinstance(version, int):
                by_version[version] = record
            elif a["action"] not in ("schedule.trigger", "schedule.delete"):
                loose.append(ScheduleChange(record["ts"], "changed", None, None,
                                            a["actor"], a["action"], record["before"], None))
        changes: list[ScheduleChange] = []
        seen: set[int] = set()
        for e in events:
            data = _loads(e["data"]) or {}
            version = data.get("version")
            audit = by_version.get(version, {}) if isinstance(version, int) else {}
            if isinstance(version, int):
                seen.add(version)
            changes.append(ScheduleChange(
                float(e["ts"]), str(e["kind"]).removeprefix("schedule."),
                version if isinstance(version, int) else None,
                None if data.get("paused") is None else bool(data.get("paused")),
                audit.get("actor"), audit.get("action"), audit.get("before"),
                audit.get("after")))
        for version, audit in by_version.items():
            if version in seen:
                continue  # its event is kept: already joined above
            after = audit["after"] or {}
            changes.append(ScheduleChange(
                audit["ts"], "created" if audit["action"] == "schedule.create" else "changed",
                version, None if after.get("paused") is None else bool(after.get("paused")),
                audit["actor"], audit["action"], audit["before"], audit["after"]))
        changes.extend(loose)
        changes.sort(key=lambda c: c.ts)  # stable: writes in one millisecond keep their order
        return changes


def _loads(text: Any) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None
