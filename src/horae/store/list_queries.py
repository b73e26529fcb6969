"""The lists and the dashboard of the console and the API, kept fast at 100,000 schedules
and 1,000,000 runs.

Contract (proven by ``tests/store/test_lists.py`` on every backend):

- :meth:`ListQueries.schedule_list` filters by task, paused, queue, tag, failing (the last
  recorded outcome is failed, timed_out or lost) and search, ordered by id or by next fire.
  On SQLite every filter but ``search`` walks an index of ``horae_schedules`` (migration
  0007; ``tag`` reads the narrow index of (id, tags)). PostgreSQL has the indexes of the
  next-fire order, paused and failing only (each index there costs every fire a write) and
  reads the table for task, queue and tag, testing a substring of the JSON text before
  parsing it.
- Next-fire order is: unpaused schedules with a next fire, soonest first (ties by id); then
  unpaused ones without a next fire, by id; then paused ones, by id. The page key of a
  schedule (:func:`page_key`) is a total order over them, so pages neither skip nor repeat
  a schedule that does not change meanwhile.
- :meth:`ListQueries.schedule_last_runs` finds, for listed schedules, the run whose outcome
  the schedule recorded last (``last_state``/``last_run_at``): one probe of the runs'
  ``finished_at`` index per schedule.
- :meth:`ListQueries.run_stats` counts waiting and running runs exactly (over the
  active-state partial index) and finished runs over a window of ``finished_at`` (its
  index): no statement reads the whole runs table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from horae.models import Schedule
from horae.store import rows as R
from horae.store.base import ACTIVE_SQL, StoreBase

FAILING_STATES = ("failed", "timed_out", "lost")
# Literally the predicate of the partial index horae_schedules_failing (SQLite uses a
# partial index only for a query that repeats its WHERE term).
FAILING_SQL = "last_state IN ('failed', 'timed_out', 'lost')"
ORDERS = ("id", "next_fire")

#: (phase, next_fire_at, id): 0 unpaused with a next fire, 1 unpaused without, 2 paused.
PageKey = tuple[int, float | None, str]


def page_key(s: Schedule) -> PageKey:
    """Where ``s`` sits in next-fire order."""
    if s.paused:
        return (2, None, s.id)
    if s.next_fire_at is None:
        return (1, None, s.id)
    return (0, float(s.next_fire_at), s.id)


@dataclass
class LastRun:
    """The run behind a schedule's ``last_state``/``last_run_at``."""

    id: int
    state: str
    started_at: float | None
    finished_at: float

    @property
    def duration(self) -> float | None:
        return None if self.started_at is None else max(0.0, self.finished_at - self.started_at)


@dataclass
class ScheduleBrief:
    id: str
    task: str
    paused: bool
    next_fire_at: float | None
    last_state: str | None
    last_run_at: float | None
    trigger: dict[str, Any]


@dataclass
class RunStats:
    """Counts for a dashboard, read at ``now`` over the last ``hours``."""

    now: float
    since: float
    active: dict[str, int]  # exact, every waiting and running run
    finished: dict[str, int]  # runs whose finished_at is within [since, now]
    per_minute: dict[int, dict[str, int]]  # minute (epoch // 60) -> state -> count
    schedules: int
    paused: int
    failing: int
    next_fires: list[ScheduleBrief] = field(default_factory=list)
    failing_schedules: list[ScheduleBrief] = field(default_factory=list)


class ListQueries(StoreBase):
    def schedule_list(
        self,
        *,
        task: str | None = None,
        paused: bool | None = None,
        search: str | None = None,
        queue: str | None = None,
        tag: str | None = None,
        failing: bool | None = None,
        order: str = "id",
        after_id: str | None = None,
        after: PageKey | None = None,
        limit: int = 100,
    ) -> list[Schedule]:
        """Schedules by id (``after_id`` pages on) or by next fire (``after``, the
        :func:`page_key` of the last schedule of the previous page)."""
        where, params = self._schedule_filters(task=task, paused=paused, search=search,
                                               queue=queue, tag=tag, failing=failing)
        cols = R.columns(R.SCHEDULE_COLUMNS)
        if order == "id":
            if after_id is not None:
                where.append("id > :after_id")
                params["after_id"] = after_id
            return self._schedules(f"SELECT {cols} FROM horae_schedules"
                                   f" WHERE {' AND '.join(where)} ORDER BY id LIMIT :limit",
                                   params | {"limit": limit})
        if order != "next_fire":
            raise ValueError(f"unknown order {order!r}")
        phases = [
            # each phase walks one index in its own order (migration 0007)
            ("paused = 0 AND next_fire_at IS NOT NULL", "next_fire_at, id"),
            ("paused = 0 AND next_fire_at IS NULL", "id"),
            ("paused = 1", "id"),
        ]
        out: list[Schedule] = []
        start = 0 if after is None else after[0]
        for phase in range(start, len(phases)):
            if paused is not None and (phase == 2) != paused:
                continue
            cond, by = phases[phase]
            extra: list[str] = [cond]
            args = dict(params, limit=limit - len(out))
            if after is not None and phase == after[0]:
                if phase == 0:
                    extra.append("(next_fire_at, id) > (:after_t, :after_id)")
                    args["after_t"] = after[1]
                else:
                    extra.append("id > :after_id")
                args["after_id"] = after[2]
            out += self._schedules(f"SELECT {cols} FROM horae_schedules"
                                   f" WHERE {' AND '.join(where + extra)} ORDER BY {by}"
                                   " LIMIT :limit", args)
            if len(out) >= limit:
                break
        return out

    def _schedules(self, sql: str, params: dict[str, Any]) -> list[Schedule]:
        with self.db.read() as tx:
            # A search is planned for its text (PostgreSQL: a parallel read of the table
            # for a rare text, the id order for a common one); the generic plan of a
            # prepared statement would always walk the ids, 2 to 3 times slower for a rare
            # text. The other filters' estimates are guesses either way: the id walk is
            # the better bet for them.
            rows = tx.all(sql, params, planned="search" in params)
        return [R.schedule_from_row(r) for r in rows]

    def _schedule_filters(self, *, task: str | None, paused: bool | None, search: str | None,
                          queue: str | None, tag: str | None,
                          failing: bool | None) -> tuple[list[str], dict[str, Any]]:
        where: list[str] = ["1 = 1"]
        params: dict[str, Any] = {}
        postgres = self.db.dialect == "postgres"
        if task is not None:
            where.append("task = :task")
            params["task"] = task
        if paused is not None:  # literals: the partial indexes name them
            where.append("paused = 1" if paused else "paused = 0")
        if queue is not None:
            params["queue"] = queue
            if postgres:  # no index (0007): the value's JSON text first, then the JSON
                params["queue_json"] = R.dumps(queue)
                where.append("strpos(policies, :queue_json) > 0"
                             " AND (policies::jsonb ->> 'queue') = :queue")
            else:  # the expression of the index horae_schedules_queue
                where.append("json_extract(policies, '$.queue') = :queue")
        if tag is not None:
            # A cheap substring test on the JSON text first, then the exact element test.
            params["tag"] = tag
            params["tag_json"] = R.dumps(tag)
            if postgres:
                where.append("strpos(tags, :tag_json) > 0"
                             " AND tags::jsonb @> jsonb_build_array(CAST(:tag AS text))")
            else:  # the ids of the tagged, from the narrow index (id, tags)
                where.append("id IN (SELECT id FROM horae_schedules INDEXED BY"
                             " horae_schedules_tags WHERE instr(tags, :tag_json) > 0 AND"
                             " EXISTS (SELECT 1 FROM json_each(tags) WHERE value = :tag))")
        if failing is not None:
            where.append(FAILING_SQL if failing else f"(last_state IS NULL OR NOT {FAILING_SQL})")
        if search:
            # The same answer on every backend: SQLite's LIKE ignores the case of ASCII
            # letters (only), so PostgreSQL compares lower() of both sides, which SQLite's
            # lower() would fold the same way (ASCII only) at three calls a row. The
            # person's % and _ are plain characters.
            match = ("lower({c}) LIKE lower(:search) ESCAPE '!'" if self.db.dialect == "postgres"
                     else "{c} LIKE :search ESCAPE '!'")
            where.append("(" + " OR ".join(
                match.format(c=c) for c in ("id", "task", "description")) + ")")
            escaped = search.replace("!", "!!").replace("%", "!%").replace("_", "!_")
            params["search"] = f"%{escaped}%"
        return where, params

    def schedule_last_runs(self, schedules: list[Schedule]) -> dict[str, LastRun]:
        """The run each schedule recorded last (its ``last_state`` at ``last_run_at``).

        Runs finished at the recorded instants are read through the ``finished_at`` index
        (one probe per instant) and matched on (schedule, instant, state).
        """
        wanted = {(s.id, float(s.last_run_at)): s.last_state for s in schedules
                  if s.last_run_at is not None and s.last_state is not None}
        if not wanted:
            return {}
        instants = sorted({t for _, t in wanted})
        ids = sorted({sid for sid, _ in wanted})
        # SQLite: `+schedule_id` keeps the planner on the finished_at index (a schedule
        # with many runs would make the unique (schedule_id, fire_time) index a long walk).
        sid = "schedule_id" if self.db.dialect == "postgres" else "+schedule_id"
        with self.db.read() as tx:
            rows = tx.all(
                "SELECT id, schedule_id, state, started_at, finished_at FROM horae_runs"
                f" WHERE finished_at IS NOT NULL AND {self.db.in_list('finished_at', 'ts')}"
                f" AND {self.db.in_list(sid, 'ids')}",
                {"ts": self.db.list_param(instants), "ids": self.db.list_param(ids)},
            )
        found: dict[str, LastRun] = {}
        for r in rows:
            key = (r["schedule_id"], float(r["finished_at"]))
            if wanted.get(key) != r["state"]:
                continue
            seen = found.get(r["schedule_id"])
            if seen is None or r["id"] > seen.id:
                found[r["schedule_id"]] = LastRun(int(r["id"]), r["state"], r["started_at"],
                                                  float(r["finished_at"]))
        return found

    def run_stats(self, hours: float, top: int = 10) -> RunStats:
        """Counts of runs by state, finished runs per minute over the last ``hours``, the
        ``top`` next fires and most recently failed schedules."""
        minute = ("floor(finished_at / 60)::bigint" if self.db.dialect == "postgres"
                  else "CAST(finished_at / 60 AS INTEGER)")
        with self.db.read() as tx:
            now = self._now(tx)
            since = now - hours * 3600.0
            active = {r["state"]: int(r["n"]) for r in tx.all(
                f"SELECT state, count(*) AS n FROM horae_runs WHERE state IN {ACTIVE_SQL}"
                " GROUP BY state")}
            per_minute: dict[int, dict[str, int]] = {}
            finished: dict[str, int] = {}
            for r in tx.all(
                f"SELECT {minute} AS m, state, count(*) AS n FROM horae_runs"
                " WHERE finished_at IS NOT NULL AND finished_at >= :since"
                " AND finished_at <= :now GROUP BY 1, 2", {"since": since, "now": now},
            ):
                n = int(r["n"])
                per_minute.setdefault(int(r["m"]), {})[r["state"]] = n
                finished[r["state"]] = finished.get(r["state"], 0) + n
            brief = "id, task, paused, next_fire_at, last_state, last_run_at, trigger"
            next_fires = tx.all(
                f"SELECT {brief} FROM horae_schedules WHERE paused = 0"
                " AND next_fire_at IS NOT NULL ORDER BY next_fire_at, id LIMIT :top",
                {"top": top})
            failing = tx.all(
                f"SELECT {brief} FROM horae_schedules WHERE {FAILING_SQL}"
                " ORDER BY last_run_at DESC, id LIMIT :top", {"top": top})
            counts = tx.one(
                "SELECT (SELECT count(*) FROM horae_schedules) AS total,"
                " (SELECT count(*) FROM horae_schedules WHERE paused = 1) AS paused,"
                f" (SELECT count(*) FROM horae_schedules WHERE {FAILING_SQL}) AS failing")
        assert counts is not None
        return RunStats(now, since, active, finished, per_minute, int(counts["total"]),
                        int(counts["paused"]), int(counts["failing"]),
                        [_brief(r) for r in next_fires], [_brief(r) for r in failing])


def _brief(row: dict[str, Any]) -> ScheduleBrief:
    return ScheduleBrief(row["id"], row["task"], bool(row["paused"]), row["next_fire_at"],
                         row["last_state"], row["last_run_at"], json.loads(row["trigger"]))
