"""The store: every read and write Horae makes, with its contract.

Contract shared by every backend (SQLite file, SQLite in-memory, PostgreSQL), proven by
``tests/store``:

- Times are UTC epoch seconds. "Now" is always the database's clock (``now_sql``), so the
  hosts' clocks never decide due-ness or lease expiry.
- A fire is identified by ``(schedule_id, fire_time)``; the runs table has a unique key on
  it and :meth:`Store.schedules_fire_due` inserts runs and advances ``next_fire_at`` in one
  transaction, so a fire becomes at most one run whatever the number of schedulers.
- A run is *eligible* for a worker when its state is scheduled/queued/retrying, its queue
  is one the worker serves and ``not_before`` has passed. Eligible runs are claimed in
  priority order (higher first), then ``not_before``, then id.
- A claimed run carries a lease (``lease_owner``, ``lease_expires_at``) from the moment it
  is claimed; ``attempt`` grows by one at each claim. Every later write by a worker is
  fenced on ``(id, attempt, lease_owner)`` and changes nothing once the lease was lost.
  Log lines carry no attempt: they are kept while the writer is the run's latest claimer
  (``worker_id``), so lines trailing a worker's own finish are kept and a stale worker never
  writes into the log of an attempt another worker took over. A refused finish keeps none.
- A terminal state (succeeded, failed, timed_out, cancelled, skipped, missed, lost) never
  changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from horae.errors import Conflict, NotFound
from horae.models import (
    TERMINAL_STATES,
    Fanout,
    LogLine,
    Run,
    RunState,
    Schedule,
    TaskInfo,
    WorkerInfo,
)
from horae.policies import FirePlan
from horae.store import fanout
from horae.store import rows as R
from horae.store.connection import Database, Tx, open_database

WAITING_SQL = "('scheduled', 'queued', 'retrying')"
ACTIVE_SQL = "('scheduled', 'queued', 'retrying', 'running')"
TERMINAL_SQL = "(" + ", ".join(f"'{s.value}'" for s in sorted(TERMINAL_STATES)) + ")"
_RUN_COLS = R.columns(R.RUN_COLUMNS)
_NEW_RUN_COLS = (
    "task", "state", "schedule_id", "fire_time", "origin", "args", "kwargs", "queue",
    "priority", "not_before", "created_at", "finished_at", "max_attempts", "retry_backoff",
    "retry_backoff_max", "timeout", "parent_id", "shard_index", "shard_total", "retry_of",
    "fanout",
)


@dataclass(frozen=True)
class DueRow:
    """A due schedule as the planner sees it: raw JSON text, parsed by the caller (cached)."""

    id: str
    version: int
    trigger: str
    policies: str
    next_fire_at: float
    fires: int
    waiting: int
    running: int


@dataclass
class FireOutcome:
    schedules: int = 0
    fires: int = 0
    runs_queued: int = 0
    fanouts: int = 0  # parents among the queued runs: the caller should expand them


@dataclass
class NewRun:
    """An ad-hoc run to insert (run now, run at, retry, broadcast child...)."""

    task: str
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    queue: str = "default"
    priority: int = 0
    delay: float = 0.0  # seconds after the database's now
    schedule_id: str | None = None
    origin: str = "manual"
    max_attempts: int = 1
    retry_backoff: float = 1.0
    retry_backoff_max: float = 3600.0
    timeout: float | None = None
    parent_id: int | None = None
    shard_index: int | None = None
    shard_total: int | None = None
    retry_of: int | None = None
    fanout: str | None = None  # "broadcast" or "shard": a parent run (see store/fanout.py)


@dataclass
class Finish:
    """One outcome a worker records (see :meth:`Store.runs_finish`)."""

    run: Run
    state: RunState
    result: Any = None
    error: str | None = None
    traceback: str | None = None
    retry_delay: float = 0.0
    logs: Sequence[LogLine] = ()
    progress: tuple[float | None, str | None] | None = None


@dataclass
class RunFilter:
    schedule_id: str | None = None
    task: str | None = None
    states: Sequence[str] = ()
    queue: str | None = None
    since: float | None = None
    until: float | None = None
    before_id: int | None = None  # cursor: runs with a smaller id (the list is newest first)
    limit: int = 100


Planner = Callable[[list[DueRow], float], list[FirePlan]]


class Store:
    """All persistence. One object per process; safe to share between threads."""

    def __init__(self, db: Database | str) -> None:
        self.db = open_database(db) if isinstance(db, str) else db

    @property
    def dialect(self) -> str:
        return self.db.dialect

    def migrate(self) -> int:
        return self.db.migrate()

    def close(self) -> None:
        self.db.close()

    def now(self) -> float:
        """The database's clock."""
        with self.db.read() as tx:
            row = tx.one(f"SELECT {self.db.now_sql} AS now")
            assert row is not None
            return float(row["now"])

    # -- schedules -------------------------------------------------------------------

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
        return R.schedule_from_row(row)

    def schedule_get(self, schedule_id: str) -> Schedule:
        with self.db.read() as tx:
            row = tx.one(
                f"SELECT {R.columns(R.SCHEDULE_COLUMNS)} FROM horae_schedules WHERE id = :id",
                {"id": schedule_id},
            )
        if row is None:
            raise NotFound("schedule", schedule_id)
        return R.schedule_from_row(row)

    def schedule_list(
        self,
        *,
        task: str | None = None,
        paused: bool | None = None,
        search: str | None = None,
        after_id: str | None = None,
        limit: int = 100,
    ) -> list[Schedule]:
        """Schedules ordered by id; ``after_id`` is the cursor of the next page."""
        where: list[str] = ["1 = 1"]
        params: dict[str, Any] = {"limit": limit}
        if task is not None:
            where.append("task = :task")
            params["task"] = task
        if paused is not None:
            where.append("paused = :paused")
            params["paused"] = int(paused)
        if search:
            # The same answer on every backend (PostgreSQL's LIKE is case-sensitive, SQLite's
            # is not): lower() both sides in SQL, as SQLite's folds ASCII only. The person's
            # % and _ are plain characters.
            where.append("(" + " OR ".join(
                f"lower({c}) LIKE lower(:search) ESCAPE '!'" for c in ("id", "task", "description")
            ) + ")")
            escaped = search.replace("!", "!!").replace("%", "!%").replace("_", "!_")
            params["search"] = f"%{escaped}%"
        if after_id is not None:
            where.append("id > :after_id")
            params["after_id"] = after_id
        with self.db.read() as tx:
            rows = tx.all(
                f"SELECT {R.columns(R.SCHEDULE_COLUMNS)} FROM horae_schedules"
                f" WHERE {' AND '.join(where)} ORDER BY id LIMIT :limit",
                params,
            )
        return [R.schedule_from_row(r) for r in rows]

    def schedule_count(self) -> int:
        with self.db.read() as tx:
            row = tx.one("SELECT count(*) AS n FROM horae_schedules")
        return int(row["n"]) if row else 0

    def schedule_replace(self, s: Schedule, *, expected_version: int | None = None) -> Schedule:
        """Write every editable field of ``s`` (and its next_fire_at); bump its version.

        With ``expected_version``, raises Conflict when the stored version differs (a lost
        update). Counters are kept.
        """
        row = R.schedule_to_row(s)
        editable = ("task", "trigger", "args", "kwargs", "policies", "paused", "description",
                    "tags", "next_fire_at")
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
        return R.schedule_from_row(changed)

    def schedule_delete(self, schedule_id: str) -> None:
        """Delete a schedule; its runs stay (history). Raises NotFound."""
        with self.db.write() as tx:
            if not tx.run("DELETE FROM horae_schedules WHERE id = :id", {"id": schedule_id}):
                raise NotFound("schedule", schedule_id)
            self._schedules_changed(tx)

    def schedules_changed_mark(self) -> int:
        """A counter that grows with every schedule write: cheap to poll across processes."""
        with self.db.read() as tx:
            row = tx.one("SELECT value FROM horae_meta WHERE key = 'schedules_changed'")
        return int(row["value"]) if row else 0

    def schedules_next_due(self) -> float | None:
        """The earliest next_fire_at of an active schedule."""
        with self.db.read() as tx:
            row = tx.one(
                "SELECT min(next_fire_at) AS t FROM horae_schedules WHERE paused = 0"
            )
        return None if row is None or row["t"] is None else float(row["t"])

    def schedules_fire_due(self, planner: Planner, limit: int = 1000) -> FireOutcome:
        """Turn due fires into run rows and advance each schedule, in one transaction.

        Takes up to ``limit`` unpaused schedules whose next_fire_at <= now (earliest first;
        PostgreSQL skips rows another scheduler holds), asks ``planner`` what each due fire
        becomes, then inserts the runs (a fire that already has a run is ignored) and writes
        each schedule's new next_fire_at and counters.
        """
        out = FireOutcome()
        with self.db.write() as tx:
            now = self._now(tx)
            due = tx.all(
                "SELECT id, version, trigger, policies, next_fire_at, fires, task, args, kwargs"
                " FROM horae_schedules WHERE paused = 0 AND next_fire_at <= :now"
                f" ORDER BY next_fire_at LIMIT :limit{self.db.skip_locked}",
                {"now": now, "limit": limit},
            )
            if not due:
                return out
            active = self._active_counts(tx, [r["id"] for r in due])
            plans = planner(
                [
                    DueRow(r["id"], r["version"], r["trigger"], r["policies"], r["next_fire_at"],
                           r["fires"], *active.get(r["id"], (0, 0)))
                    for r in due
                ],
                now,
            )
            by_id = {r["id"]: r for r in due}
            self._drop_fired(tx, plans)
            self._cancel_previous(tx, [p.schedule_id for p in plans if p.cancel_active], now)
            self._insert_planned(tx, plans, by_id, now, out)
            tx.many(
                "UPDATE horae_schedules SET next_fire_at = :next, fires = fires + :fires,"
                " missed = missed + :missed, skipped = skipped + :skipped WHERE id = :id",
                [
                    {"id": p.schedule_id, "next": p.next_fire_at,
                     "fires": p.count(RunState.QUEUED, RunState.SCHEDULED),
                     "missed": p.count(RunState.MISSED) + p.skipped_over,
                     "skipped": p.count(RunState.SKIPPED)}
                    for p in plans
                ],
            )
            out.schedules = len(plans)
            if out.runs_queued:
                self._notify(tx, "horae_runs")
        return out

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

    def _active_counts(self, tx: Tx, ids: list[str]) -> dict[str, tuple[int, int]]:
        rows = tx.all(
            "SELECT schedule_id, count(*) AS total,"
            " sum(CASE WHEN state = 'running' THEN 1 ELSE 0 END) AS running"
            f" FROM horae_runs WHERE state IN {ACTIVE_SQL}"
            f" AND {self.db.in_list('schedule_id', 'ids')} GROUP BY schedule_id",
            {"ids": self.db.list_param(ids)},
        )
        return {
            r["schedule_id"]: (int(r["total"]) - int(r["running"]), int(r["running"]))
            for r in rows
        }

    def _cancel_previous(self, tx: Tx, schedule_ids: list[str], now: float) -> None:
        if not schedule_ids:
            return
        ids = {"ids": self.db.list_param(schedule_ids), "now": now}
        in_ids = self.db.in_list("schedule_id", "ids")
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
                ))
                out.fanouts += bool(fanout) and runnable
        tx.many(
            f"INSERT INTO horae_runs ({', '.join(_NEW_RUN_COLS)}) VALUES"
            f" ({', '.join(':' + c for c in _NEW_RUN_COLS)})"
            " ON CONFLICT (schedule_id, fire_time) DO NOTHING",
            [dict(zip(_NEW_RUN_COLS, r, strict=True)) for r in rows],
        )

    # -- runs ------------------------------------------------------------------------

    def runs_add(self, new: Iterable[NewRun]) -> list[Run]:
        """Insert ad-hoc runs; each is queued at now + delay."""
        out: list[Run] = []
        with self.db.write() as tx:
            now = self._now(tx)
            for n in new:
                params = {c: getattr(n, c, None) for c in _NEW_RUN_COLS}
                params.update(
                    state=(RunState.SCHEDULED if n.delay > 0 else RunState.QUEUED).value,
                    fire_time=None, args=R.dumps(n.args), kwargs=R.dumps(n.kwargs),
                    not_before=now + max(0.0, n.delay), created_at=now, finished_at=None,
                )
                row = tx.one(
                    f"INSERT INTO horae_runs ({', '.join(_NEW_RUN_COLS)}) VALUES"
                    f" ({', '.join(':' + c for c in _NEW_RUN_COLS)}) RETURNING {_RUN_COLS}",
                    params,
                )
                assert row is not None
                out.append(R.run_from_row(row))
            self._notify(tx, "horae_runs")
            if any(r.fanout for r in out):
                self._notify(tx, "horae_fanout")
        return out

    def run_get(self, run_id: int) -> Run:
        with self.db.read() as tx:
            row = tx.one(f"SELECT {_RUN_COLS} FROM horae_runs WHERE id = :id", {"id": run_id})
        if row is None:
            raise NotFound("run", run_id)
        return R.run_from_row(row)

    def run_list(self, f: RunFilter | None = None) -> list[Run]:
        """Runs newest first (by id), filtered; ``before_id`` pages backwards."""
        f = f or RunFilter()
        where: list[str] = ["1 = 1"]
        params: dict[str, Any] = {"limit": f.limit}
        for col in ("schedule_id", "task", "queue"):
            if getattr(f, col) is not None:
                where.append(f"{col} = :{col}")
                params[col] = getattr(f, col)
        if f.states:
            where.append(self.db.in_list("state", "states"))
            params["states"] = self.db.list_param(list(f.states))
        if f.since is not None:
            where.append("created_at >= :since")
            params["since"] = f.since
        if f.until is not None:
            where.append("created_at < :until")
            params["until"] = f.until
        if f.before_id is not None:
            where.append("id < :before_id")
            params["before_id"] = f.before_id
        with self.db.read() as tx:
            rows = tx.all(
                f"SELECT {_RUN_COLS} FROM horae_runs WHERE {' AND '.join(where)}"
                " ORDER BY id DESC LIMIT :limit",
                params,
            )
        return [R.run_from_row(r) for r in rows]

    def run_counts(self) -> dict[str, int]:
        """How many runs are in each state."""
        with self.db.read() as tx:
            rows = tx.all("SELECT state, count(*) AS n FROM horae_runs GROUP BY state")
        return {r["state"]: int(r["n"]) for r in rows}

    def runs_claim(
        self,
        worker_id: str,
        queues: Sequence[str],
        limit: int,
        lease: float,
        *,
        tasks: Sequence[str] | None = None,
        task_limit: int | None = None,
    ) -> list[Run]:
        """Claim up to ``limit`` eligible runs in one statement; they become running.

        With ``tasks``, only runs of those tasks are eligible (a worker never takes a run
        it has no code for). A run with a ``target_worker`` is eligible only for that
        worker. With ``task_limit`` (and one task), at most that many runs of the task are
        running afterwards: claimers of the task serialise on its catalogue row.
        """
        params: dict[str, Any] = {"limit": limit, "me": worker_id, "lease": lease,
                                  "tasks": self.db.list_param(list(tasks or ()))}
        # One branch per queue, each `queue = :qN`, so the claim index (queue, priority,
        # not_before, id) yields rows in order and LIMIT stops early: an `IN` list would
        # make the database sort every waiting run of those queues at each claim.
        branches = []
        for i, queue in enumerate(dict.fromkeys(queues)):
            params[f"q{i}"] = queue
            cond = (f"state IN {WAITING_SQL} AND queue = :q{i}"
                    f" AND not_before <= {self.db.now_sql}"
                    " AND fanout IS NULL AND (target_worker IS NULL OR target_worker = :me)")
            if tasks is not None:
                cond += f" AND {self.db.in_list('task', 'tasks')}"
            branches.append(
                f"SELECT * FROM (SELECT id, priority, not_before FROM horae_runs WHERE {cond}"
                f" ORDER BY priority DESC, not_before, id LIMIT :limit{self.db.skip_locked})"
                f" AS b{i}"
            )
        if not branches:
            return []
        candidates = " UNION ALL ".join(branches)
        if self.db.dialect == "sqlite":
            # Look before taking SQLite's single write lock: idle polls stay read-only.
            with self.db.read() as tx:
                if tx.one(f"SELECT id FROM ({candidates}) AS c LIMIT 1", params) is None:
                    return []
        with self.db.write() as tx:
            if task_limit is not None:
                assert tasks is not None and len(tasks) == 1
                params["limit"] = min(limit, self._task_room(tx, tasks[0], task_limit))
                if params["limit"] <= 0:
                    return []
            rows = tx.all(
                f"UPDATE horae_runs SET state = 'running', attempt = attempt + 1,"
                f" lease_owner = :me, worker_id = :me, started_at = {self.db.now_sql},"
                f" lease_expires_at = {self.db.now_sql} + :lease"
                f" WHERE id IN (SELECT id FROM ({candidates}) AS c"
                f" ORDER BY priority DESC, not_before, id LIMIT :limit)"
                f" RETURNING {_RUN_COLS}",
                params,
            )
        runs = [R.run_from_row(r) for r in rows]
        runs.sort(key=lambda r: (-r.priority, r.not_before, r.id))
        return runs

    def _task_room(self, tx: Tx, task: str, task_limit: int) -> int:
        """How many more runs of ``task`` may start, holding the task's row (PostgreSQL)."""
        if self.db.dialect == "postgres":
            tx.all("SELECT name FROM horae_tasks WHERE name = :t FOR UPDATE", {"t": task})
        row = tx.one("SELECT count(*) AS n FROM horae_runs WHERE task = :t AND state = 'running'",
                     {"t": task})
        return task_limit - (int(row["n"]) if row else 0)

    def runs_heartbeat(
        self,
        worker_id: str,
        lease: float,
        *,
        running: int = 0,
        progress: Sequence[tuple[int, int, float | None, str | None]] = (),
        logs: Sequence[LogLine] = (),
    ) -> set[int]:
        """Renew the leases of the worker's runs, save progress and logs.

        ``progress`` items are ``(run_id, attempt, fraction, message)``, fenced like every
        worker write; log lines are kept for runs this worker claimed last. Returns the ids
        of the worker's runs whose cancellation was asked.
        """
        with self.db.write() as tx:
            params = {"me": worker_id, "lease": lease, "running": running}
            tx.run(
                f"UPDATE horae_runs SET lease_expires_at = {self.db.now_sql} + :lease"
                " WHERE lease_owner = :me AND state = 'running'",
                params,
            )
            tx.many(
                "UPDATE horae_runs SET progress = :p, progress_message = :m WHERE id = :id"
                " AND attempt = :attempt AND lease_owner = :me AND state = 'running'",
                [{"id": i, "attempt": a, "p": p, "m": m, "me": worker_id}
                 for i, a, p, m in progress],
            )
            self._logs_insert(tx, logs, worker_id)
            tx.run(
                f"UPDATE horae_workers SET heartbeat_at = {self.db.now_sql}, running = :running,"
                " state = CASE WHEN state = 'gone' THEN 'active' ELSE state END WHERE id = :me",
                params,
            )
            rows = tx.all(
                "SELECT id FROM horae_runs WHERE lease_owner = :me AND state = 'running'"
                " AND cancel_requested = 1",
                params,
            )
        return {int(r["id"]) for r in rows}

    def run_finish(
        self,
        run: Run,
        worker_id: str,
        state: RunState,
        *,
        result: Any = None,
        error: str | None = None,
        traceback: str | None = None,
        retry_delay: float = 0.0,
        logs: Sequence[LogLine] = (),
        progress: tuple[float | None, str | None] | None = None,
    ) -> bool:
        """Record the outcome of the worker's attempt; False if its lease was lost.

        ``state`` is terminal, or RETRYING to queue another attempt after ``retry_delay``.
        """
        return self.runs_finish(worker_id, [Finish(
            run, state, result, error, traceback, retry_delay, logs, progress
        )])[0]

    def runs_finish(self, worker_id: str, items: Sequence[Finish]) -> list[bool]:
        """Record many outcomes in one transaction (see :meth:`run_finish`), in order.

        Each is fenced on (run, attempt, worker): the list says which were kept. A refused
        outcome writes nothing, not even its log lines.
        """
        if not items:
            return []
        with self.db.write() as tx:
            self._lock_schedules_of(tx, [f.run.id for f in items])
            now = self._now(tx)
            rows = tx.many_returning(
                "UPDATE horae_runs SET state = :state, result = :result, error = :error,"
                " traceback = :tb, lease_owner = NULL, lease_expires_at = NULL,"
                " finished_at = :finished, not_before = :now + :delay,"
                " progress = COALESCE(:progress, progress),"
                " progress_message = COALESCE(:message, progress_message)"
                " WHERE id = :id AND attempt = :attempt AND lease_owner = :me"
                " AND state = 'running' RETURNING schedule_id, parent_id",
                [self._finish_params(f, worker_id, now) for f in items],
            )
            kept = [row is not None for row in rows]
            self._logs_insert(tx, [x for f, ok in zip(items, kept, strict=True) if ok
                                   for x in f.logs], worker_id)
            self._count_outcomes(tx, [
                (row["schedule_id"], f.state.value) for f, row in zip(items, rows, strict=True)
                if row is not None and row["schedule_id"] is not None
                and f.state in TERMINAL_STATES
            ], now)
            fanout.settle(self, tx, [r["parent_id"] for r in rows if r is not None], now)
            if any(f.state is RunState.RETRYING for f in items):
                self._notify(tx, "horae_runs")
        return kept

    @staticmethod
    def _finish_params(f: Finish, worker_id: str, now: float) -> dict[str, Any]:
        fraction, message = f.progress if f.progress is not None else (None, None)
        return {
            "state": f.state.value, "result": None if f.result is None else R.dumps(f.result),
            "error": f.error, "tb": f.traceback, "delay": f.retry_delay, "id": f.run.id,
            "attempt": f.run.attempt, "me": worker_id, "now": now, "message": message,
            "progress": 1.0 if f.state is RunState.SUCCEEDED else fraction,
            "finished": now if f.state in TERMINAL_STATES else None,
        }

    def _lock_schedules_of(self, tx: Tx, run_ids: list[int]) -> None:
        """PostgreSQL: lock the schedules of runs about to change, before the runs.

        schedules_fire_due holds a schedule and then changes its runs (cancel_previous); a
        writer that changed a run first and its schedule's counters second would deadlock
        with it. Schedules first, in id order, is the one lock order. (SQLite has one
        writer at a time.)
        """
        if self.db.dialect != "postgres":
            return
        tx.all(
            "SELECT id FROM horae_schedules WHERE id IN (SELECT schedule_id FROM horae_runs"
            f" WHERE {self.db.in_list('id', 'ids')}) ORDER BY id FOR UPDATE",
            {"ids": self.db.list_param(run_ids)},
        )

    def _count_outcomes(self, tx: Tx, outcomes: list[tuple[str, str]], now: float) -> None:
        tx.many(
            "UPDATE horae_schedules SET successes = successes + :ok,"
            " failures = failures + :bad, last_state = :state, last_run_at = :now"
            " WHERE id = :id",
            [{"id": sid, "state": st, "now": now, "ok": int(st == "succeeded"),
              "bad": int(st in ("failed", "timed_out", "lost"))} for sid, st in outcomes],
        )

    def run_cancel(self, run_id: int) -> Run:
        """Cancel a waiting run at once, or ask a running one to stop.

        Raises NotFound, or Conflict for a run that already finished.
        """
        with self.db.write() as tx:
            self._lock_schedules_of(tx, [run_id])
            now = self._now(tx)
            done = tx.one(
                "UPDATE horae_runs SET state = 'cancelled', finished_at = :now,"
                f" error = 'cancelled before it started' WHERE id = :id AND state IN {WAITING_SQL}"
                " RETURNING schedule_id, parent_id",
                {"id": run_id, "now": now},
            )
            if done is not None and done["schedule_id"] is not None:
                self._count_outcomes(tx, [(done["schedule_id"], "cancelled")], now)
            if done is not None:
                fanout.settle(self, tx, [done["parent_id"]], now)
            running = None if done is not None else tx.one(
                "UPDATE horae_runs SET cancel_requested = 1 WHERE id = :id AND state = 'running'"
                " RETURNING fanout",
                {"id": run_id},
            )
            if done is None and running is None:
                state = tx.one("SELECT state FROM horae_runs WHERE id = :id", {"id": run_id})
                if state is None:
                    raise NotFound("run", run_id)
                raise Conflict(f"run {run_id} already finished ({state['state']})")
            if running is not None and running["fanout"]:
                fanout.cancel_children(self, tx, run_id, now)
            self._notify(tx, "horae_cancel")
        return self.run_get(run_id)

    def run_retry(self, run_id: int) -> Run:
        """Queue a new run with the same task and arguments as a finished one."""
        with self.db.write() as tx:
            now = self._now(tx)
            cols = list(_NEW_RUN_COLS)
            values = {
                "state": "'queued'", "fire_time": "NULL", "origin": "'retry'", "not_before": ":now",
                "created_at": ":now", "finished_at": "NULL", "retry_of": "id", "parent_id": "NULL",
                "shard_index": "NULL", "shard_total": "NULL",
            }
            row = tx.one(
                f"INSERT INTO horae_runs ({', '.join(cols)})"
                f" SELECT {', '.join(values.get(c, c) for c in cols)} FROM horae_runs"
                f" WHERE id = :id AND state IN {TERMINAL_SQL} RETURNING {_RUN_COLS}",
                {"id": run_id, "now": now},
            )
            if row is None:
                state = tx.one("SELECT state FROM horae_runs WHERE id = :id", {"id": run_id})
                if state is None:
                    raise NotFound("run", run_id)
                raise Conflict(f"run {run_id} has not finished ({state['state']}); cancel it first")
            self._notify(tx, "horae_runs")
        return R.run_from_row(row)

    def runs_rescue(self, *, owner: str | None = None, limit: int = 1000) -> list[Run]:
        """Take back running runs whose lease expired (or, with ``owner``, all of its runs).

        Each becomes cancelled (if cancellation was asked), retrying (an attempt is left,
        after its backoff) or lost. Returns the runs as they are now.
        """
        cond = "lease_owner = :owner" if owner else f"lease_expires_at < {self.db.now_sql}"
        with self.db.write() as tx:
            now = self._now(tx)
            params = {"owner": owner, "now": now, "limit": limit}
            candidates = [r["id"] for r in tx.all(
                f"SELECT id FROM horae_runs WHERE state = 'running' AND {cond} LIMIT :limit",
                params,
            )]
            if not candidates:
                return []
            self._lock_schedules_of(tx, candidates)
            params["ids"] = self.db.list_param(candidates)
            rows = tx.all(
                "UPDATE horae_runs SET"
                " state = CASE WHEN cancel_requested = 1 THEN 'cancelled'"
                "  WHEN attempt < max_attempts THEN 'retrying' ELSE 'lost' END,"
                " finished_at = CASE WHEN cancel_requested = 1 OR attempt >= max_attempts"
                "  THEN :now ELSE NULL END,"
                " not_before = :now + retry_backoff,"
                " error = 'lease expired: worker ' || COALESCE(lease_owner, '?')"
                "  || ' stopped renewing it',"
                " lease_owner = NULL, lease_expires_at = NULL"
                f" WHERE id IN (SELECT id FROM horae_runs WHERE {self.db.in_list('id', 'ids')}"
                f" AND state = 'running' AND {cond}{self.db.skip_locked}) RETURNING {_RUN_COLS}",
                params,
            )
            runs = [R.run_from_row(r) for r in rows]
            fanout.settle(self, tx, [r.parent_id for r in runs], now)
            self._count_outcomes(
                tx,
                [(r.schedule_id, r.state.value) for r in runs
                 if r.schedule_id is not None and r.state in TERMINAL_STATES],
                now,
            )
            if any(r.state is RunState.RETRYING for r in runs):
                self._notify(tx, "horae_runs")
        return runs

    def runs_release(self, worker_id: str, run_ids: Sequence[int]) -> int:
        """Give claimed runs back to the queue unrun (a draining worker's unstarted work)."""
        if not run_ids:
            return 0
        with self.db.write() as tx:
            n = tx.run(
                "UPDATE horae_runs SET state = 'queued', attempt = attempt - 1,"
                " lease_owner = NULL, lease_expires_at = NULL, started_at = NULL"
                " WHERE lease_owner = :me AND state = 'running'"
                f" AND {self.db.in_list('id', 'ids')}",
                {"me": worker_id, "ids": self.db.list_param(list(run_ids))},
            )
            self._notify(tx, "horae_runs")
        return n

    def run_logs(self, run_id: int, *, after_id: int = 0, limit: int = 1000) -> list[LogLine]:
        with self.db.read() as tx:
            rows = tx.all(
                f"SELECT {R.columns(R.LOG_COLUMNS)} FROM horae_run_logs WHERE run_id = :run"
                " AND id > :after ORDER BY id LIMIT :limit",
                {"run": run_id, "after": after_id, "limit": limit},
            )
        return [R.log_from_row(r) for r in rows]

    def _logs_insert(self, tx: Tx, logs: Sequence[LogLine], worker_id: str) -> None:
        """Keep lines only for runs whose latest claim is ``worker_id``'s: a stale worker
        never writes into the log of an attempt another worker took over."""
        tx.many(
            "INSERT INTO horae_run_logs (run_id, ts, level, message)"
            " SELECT id, :ts, :level, :message FROM horae_runs"
            " WHERE id = :run_id AND worker_id = :me",
            [{"run_id": x.run_id, "ts": x.ts, "level": x.level, "message": x.message,
              "me": worker_id} for x in logs],
        )

    def runs_prune(self, older_than: float, *, batch: int = 1000) -> int:
        """Delete up to ``batch`` finished runs that ended more than ``older_than`` s ago."""
        with self.db.write() as tx:
            rows = tx.all(
                "DELETE FROM horae_runs WHERE id IN (SELECT id FROM horae_runs"
                f" WHERE finished_at < {self.db.now_sql} - :age AND state IN {TERMINAL_SQL}"
                " LIMIT :batch) RETURNING id",
                {"age": older_than, "batch": batch},
            )
            ids = [r["id"] for r in rows]
            if ids:
                tx.run(
                    f"DELETE FROM horae_run_logs WHERE {self.db.in_list('run_id', 'ids')}",
                    {"ids": self.db.list_param(ids)},
                )
        return len(ids)

    # -- workers and the task catalogue ---------------------------------------------

    def worker_register(self, w: WorkerInfo, tasks: Sequence[TaskInfo] = ()) -> None:
        """Insert or refresh a worker record and advertise its tasks."""
        with self.db.write() as tx:
            now = self._now(tx)
            row = {c: getattr(w, c) for c in R.WORKER_COLUMNS}
            row.update(queues=R.dumps(w.queues), labels=R.dumps(w.labels), started_at=now,
                       heartbeat_at=now, state="active", running=0)
            cols = R.columns(R.WORKER_COLUMNS)
            tx.run(
                f"INSERT INTO horae_workers ({cols}) VALUES ({R.columns(R.WORKER_COLUMNS, ':')})"
                " ON CONFLICT (id) DO UPDATE SET "
                + ", ".join(f"{c} = excluded.{c}" for c in R.WORKER_COLUMNS if c != "id"),
                row,
            )
            tx.many(
                f"INSERT INTO horae_tasks ({R.columns(R.TASK_COLUMNS)})"
                f" VALUES ({R.columns(R.TASK_COLUMNS, ':')}) ON CONFLICT (name) DO UPDATE SET "
                + ", ".join(f"{c} = excluded.{c}" for c in R.TASK_COLUMNS if c != "name"),
                [{c: getattr(t, c, None) for c in R.TASK_COLUMNS}
                 | {"schema": R.dumps(t.schema), "updated_at": now} for t in tasks],
            )

    def worker_set_state(self, worker_id: str, state: str) -> None:
        """active, draining or gone; a gone worker's broadcast children are lost."""
        with self.db.write() as tx:
            tx.run("UPDATE horae_workers SET state = :state WHERE id = :id",
                   {"id": worker_id, "state": state})
            if state != "active":
                fanout.lose_targeted(self, tx, [worker_id], self._now(tx))

    def workers_list(self) -> list[WorkerInfo]:
        with self.db.read() as tx:
            rows = tx.all(f"SELECT {R.columns(R.WORKER_COLUMNS)} FROM horae_workers ORDER BY id")
        return [R.worker_from_row(r) for r in rows]

    def workers_mark_gone(self, silent_for: float) -> list[str]:
        """Workers that have not heartbeated for ``silent_for`` seconds become gone."""
        with self.db.write() as tx:
            rows = tx.all(
                "UPDATE horae_workers SET state = 'gone' WHERE state <> 'gone'"
                f" AND heartbeat_at < {self.db.now_sql} - :silent RETURNING id",
                {"silent": silent_for},
            )
            gone = [r["id"] for r in rows]
            fanout.lose_targeted(self, tx, gone, self._now(tx))
        return gone

    def runs_expand(self, worker_ttl: float = 60.0) -> int:
        """Expand due broadcast/shard parents into children (see store/fanout.py).

        Broadcast targets the workers that are active and heartbeated within
        ``worker_ttl`` seconds. Returns how many children were created.
        """
        if self.db.dialect == "sqlite":
            with self.db.read() as tx:  # stay read-only when nothing is due
                if tx.one(f"SELECT id FROM horae_runs WHERE fanout IS NOT NULL AND state IN"
                          f" {WAITING_SQL} AND not_before <= {self.db.now_sql} LIMIT 1") is None:
                    return 0
        with self.db.write() as tx:
            created = fanout.expand_due(self, tx, self._now(tx), worker_ttl)
            if created:
                self._notify(tx, "horae_runs")
        return created

    def tasks_list(self) -> list[TaskInfo]:
        with self.db.read() as tx:
            rows = tx.all(f"SELECT {R.columns(R.TASK_COLUMNS)} FROM horae_tasks ORDER BY name")
        return [R.task_from_row(r) for r in rows]

    # -- helpers ---------------------------------------------------------------------

    def _now(self, tx: Tx) -> float:
        row = tx.one(f"SELECT {self.db.now_sql} AS now")
        assert row is not None
        return float(row["now"])

    def _schedules_changed(self, tx: Tx) -> None:
        tx.run("UPDATE horae_meta SET value = value + 1 WHERE key = 'schedules_changed'")
        self._notify(tx, "horae_schedules")

    def _notify(self, tx: Tx, channel: str) -> None:
        """Wake waiters: in this process after commit, and in others through PostgreSQL."""
        tx.pending.add(channel)
        if self.db.dialect == "postgres":
            tx.run(f"NOTIFY {channel}")
