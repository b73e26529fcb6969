"""Shared parts of the store: constants, records passed in and out, connection helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from horae.models import TERMINAL_STATES, LogLine, Run, RunState
from horae.policies import FirePlan
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
    "fanout", "expires_at",
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
    oldest_active_at: float | None = None


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
    expires_at: float | None = None  # epoch seconds; not started by then: missed


@dataclass(slots=True)
class ClaimedRun:
    """What a worker needs of a run it claimed (:meth:`Store.runs_take`): to call the
    task, build its ``ctx``, decide a retry and fence its writes. A claim builds hundreds
    of these per statement, so it reads only these columns (a :class:`Run` has 36)."""

    id: int
    task: str
    attempt: int
    max_attempts: int
    retry_backoff: float
    retry_backoff_max: float
    timeout: float | None
    args: list[Any]
    kwargs: dict[str, Any]
    schedule_id: str | None
    fire_time: float | None
    shard_index: int | None
    shard_total: int | None
    priority: int
    not_before: float
    parent_id: int | None
    step: str | None  # a workflow step's run: its step id (ctx.step, the outcome's move)
    inputs: dict[str, Any] | None  # a workflow step's run: its predecessors' results


@dataclass
class Finish:
    """One outcome a worker records (see :meth:`Store.runs_finish`)."""

    run: Run | ClaimedRun  # only its id and attempt are read: the fence
    state: RunState
    result: Any = None
    error: str | None = None
    traceback: str | None = None
    retry_delay: float = 0.0
    logs: Sequence[LogLine] = ()
    progress: tuple[float | None, str | None] | None = None
    #: Seconds the code ran, for a run held ahead whose start no heartbeat wrote yet:
    #: sets ``started_at`` (if still empty) to that long before the outcome.
    ran_for: float | None = None


@dataclass
class RunFilter:
    schedule_id: str | None = None
    task: str | None = None
    states: Sequence[str] = ()
    queue: str | None = None
    parent_id: int | None = None  # the children of a broadcast or shard parent run
    since: float | None = None  # created_at >= since
    until: float | None = None  # created_at < until
    finished_since: float | None = None  # finished_at >= finished_since
    finished_until: float | None = None  # finished_at < finished_until
    before_id: int | None = None  # cursor: runs with a smaller id (the list is newest first)
    step: str | None = None  # a workflow step's runs (with parent_id: of one workflow run)
    limit: int = 100


Planner = Callable[[list[DueRow], float], list[FirePlan]]
#: Called inside the transaction of a change, before it commits, with what it returns.
ChangeHook = Callable[[Tx, Any], None]
_CHANGE_HOOK: ContextVar[ChangeHook | None] = ContextVar("horae_change_hook", default=None)


@contextmanager
def on_change(hook: ChangeHook) -> Iterator[None]:
    """Within this block (this thread or task), each change the store makes for an
    operator -- a schedule added, replaced or deleted; runs added, cancelled or retried; a
    token or user written -- calls ``hook(tx, result)`` inside that change's transaction,
    before it commits. Whatever the hook writes through ``tx`` commits with the change or
    not at all, and an exception from the hook rolls the change back. The REST API writes
    its audit records so; an embedder can do the same with its own table.
    """
    token = _CHANGE_HOOK.set(hook)
    try:
        yield
    finally:
        _CHANGE_HOOK.reset(token)


class StoreBase:
    """Connection, clock and the helpers every part of the store uses."""

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

    def _now(self, tx: Tx) -> float:
        row = tx.one(f"SELECT {self.db.now_sql} AS now")
        assert row is not None
        return float(row["now"])

    def _changed(self, tx: Tx, result: Any) -> None:
        """Run the :func:`on_change` hook of this context, if any, inside ``tx``."""
        hook = _CHANGE_HOOK.get()
        if hook is not None:
            hook(tx, result)

    def _schedules_changed(self, tx: Tx) -> None:
        """Tell schedulers that schedules changed, in the change's transaction.

        PostgreSQL: ``NOTIFY`` alone (sent right after commit, to every listening process);
        a shared counter row would make every schedule write in every process wait for the
        previous one to commit. SQLite has one writer at a time anyway, and its schedulers
        in other processes poll this counter (after ``PRAGMA data_version`` says something
        was written), so it keeps it.
        """
        if self.db.dialect != "postgres":
            tx.run("UPDATE horae_meta SET value = value + 1 WHERE key = 'schedules_changed'")
        self._notify(tx, "horae_schedules")

    def _notify(self, tx: Tx, channel: str) -> None:
        """Wake waiters after commit: in this process at once, and in others through
        PostgreSQL's NOTIFY, sent after the commit (see :mod:`horae.store.notices`)."""
        tx.pending.add(channel)

    def _count_outcomes(self, tx: Tx, outcomes: list[tuple[str, str, str]],
                        now: float) -> None:
        """Add outcomes ``(schedule id, state, origin)``, in order, to their schedules'
        counters and last state.

        Successes and failures count the runs the schedule *fired* (origin ``schedule``),
        so they never exceed ``fires``: a run started by hand or a retry of a finished run
        sets the last state but counts in neither (the console's "fires 7 / ok 10" was
        manual runs counted as successes but not as fires).
        """
        per: dict[str, dict[str, Any]] = {}
        for sid, st, origin in outcomes:
            row = per.setdefault(sid, {"id": sid, "ok": 0, "bad": 0, "now": now})
            fired = origin == "schedule"
            row["ok"] += fired and st == "succeeded"
            row["bad"] += fired and st in ("failed", "timed_out", "lost")
            row["state"] = st
        if not per:
            return
        if self.db.dialect == "postgres":  # one statement for the batch
            tx.run(
                "UPDATE horae_schedules AS s SET successes = s.successes + v.ok,"
                " failures = s.failures + v.bad, last_state = v.state, last_run_at = v.now"
                " FROM json_to_recordset(:rows::json)"
                " AS v(id text, ok int, bad int, state text, now float8) WHERE s.id = v.id",
                {"rows": R.dumps(list(per.values()))},
            )
            return
        tx.many(
            "UPDATE horae_schedules SET successes = successes + :ok,"
            " failures = failures + :bad, last_state = :state, last_run_at = :now"
            " WHERE id = :id",
            list(per.values()),
        )

    # -- the one lock order ------------------------------------------------------------
    #
    # A transaction that may wait on row locks takes them schedules first, then runs, and
    # rows of one table in ascending id order, before it changes them; every later
    # statement of it touches only rows it already holds. PostgreSQL locks the rows of an
    # `UPDATE ... FROM` or `UPDATE ... WHERE id IN (...)` in whatever order its plan visits
    # them, so each such change first locks through `SELECT id ... ORDER BY id FOR NO KEY
    # UPDATE` (`ordered`). A `SKIP LOCKED` statement never waits, so it is outside the rule.

    def _ordered(self, where: str) -> str:
        """``id IN (...)`` over the runs matching ``where``, locked in ascending id order
        (PostgreSQL): an UPDATE with it changes only rows its sub-select already holds."""
        return (f"id IN (SELECT id FROM horae_runs WHERE {where}"
                f" ORDER BY id{self.db.lock_rows})")

    def _lock_runs(self, tx: Tx, run_ids: list[int]) -> float:
        """Lock runs about to change, with their parents and the schedules of both, in the
        one order; returns the database's now.

        The parents come too because settling a fan-out (store/fanout.py) changes the
        parent and counts its outcome on the parent's schedule; a parent's id is below its
        children's, so it is locked first. (SQLite has one writer at a time: only now.)
        """
        if self.db.dialect != "postgres" or not run_ids:
            return self._now(tx)
        params = {"ids": self.db.list_param(run_ids)}
        schedules, runs = self.lock_runs_sql()
        tx.all(schedules, params)
        row = tx.one(runs, params)
        assert row is not None
        return float(row["now"])

    def lock_runs_sql(self) -> tuple[str, str]:
        """PostgreSQL's two statements of :meth:`_lock_runs`: the schedules, then the runs.

        The family is one ``id = ANY(array)`` (the runs' ids and their parents'), so both
        are primary-key lookups: an ``OR id IN (sub-select)`` made PostgreSQL read every
        run of the table for each outcome batch (286 ms at 300,000 runs instead of 1 ms).
        """
        family = ("id = ANY(:ids::bigint[] || array_remove(ARRAY(SELECT parent_id"
                  " FROM horae_runs WHERE id = ANY(:ids)), NULL))")
        return (
            "SELECT id FROM horae_schedules WHERE id IN (SELECT schedule_id FROM horae_runs"
            f" WHERE {family}) ORDER BY id FOR NO KEY UPDATE",
            f"SELECT {self.db.now_sql} AS now, (SELECT count(*) FROM (SELECT id"
            f" FROM horae_runs WHERE {family} ORDER BY id FOR NO KEY UPDATE) AS l) AS locked",
        )

    def _logs_insert(self, tx: Tx, logs: Sequence[tuple[int, LogLine]]) -> None:
        """``(attempt, line)`` items of outcomes this transaction has just written through
        their fence."""
        tx.many(
            "INSERT INTO horae_run_logs (run_id, ts, level, message, attempt)"
            " VALUES (:run_id, :ts, :level, :message, :attempt)",
            [{"run_id": x.run_id, "ts": x.ts, "level": x.level, "message": x.message,
              "attempt": attempt} for attempt, x in logs],
        )

    def _logs_insert_fenced(self, tx: Tx, logs: Sequence[tuple[int, LogLine]],
                            worker_id: str) -> None:
        """Keep ``(attempt, line)`` items only while that attempt is ``worker_id``'s running
        lease, like every other worker write: a worker that resumes after its run was
        rescued (or taken again, by another worker or by itself) adds nothing to its log."""
        tx.many(
            "INSERT INTO horae_run_logs (run_id, ts, level, message, attempt)"
            " SELECT id, :ts, :level, :message, attempt FROM horae_runs"
            " WHERE id = :run_id AND attempt = :attempt AND lease_owner = :me"
            " AND state = 'running'",
            [{"run_id": x.run_id, "attempt": attempt, "ts": x.ts, "level": x.level,
              "message": x.message, "me": worker_id} for attempt, x in logs],
        )
