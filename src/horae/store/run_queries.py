"""Runs as operators see them: add, list, cancel, retry, logs, fan-out expansion (pruning
is in store/retention.py)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from horae.errors import Conflict, NotFound
from horae.models import (
    TERMINAL_STATES,
    LogLine,
    Run,
    RunAttempt,
    RunState,
)
from horae.store import fanout, workflow_runs
from horae.store import rows as R
from horae.store.base import (
    _NEW_RUN_COLS,
    _RUN_COLS,
    TERMINAL_SQL,
    WAITING_SQL,
    NewRun,
    RunFilter,
    StoreBase,
)
from horae.store.connection import Row, Tx

_ENDED_BADLY = ("failed", "timed_out", "cancelled", "skipped", "missed", "lost")
_ENDED_BADLY_SQL = "state IN (" + ", ".join(f"'{s}'" for s in _ENDED_BADLY) + ")"


class RunQueries(StoreBase):
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
            self._changed(tx, out)
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
        # parent_id = :parent_id implies parent_id IS NOT NULL, so both databases read the
        # children from the partial index horae_runs_parent (0002).
        for col in ("schedule_id", "task", "queue", "parent_id"):
            if getattr(f, col) is not None:
                where.append(f"{col} = :{col}")
                params[col] = getattr(f, col)
        if f.step is not None:  # with parent_id: the index horae_runs_step (0014)
            where.append("step = :step")
            params["step"] = f.step
        if f.states:
            where.append(self.db.in_list("state", "states"))
            params["states"] = self.db.list_param(list(f.states))
            if set(f.states) <= set(_ENDED_BADLY):
                # Literally the predicate of the partial index horae_runs_state (0005): a
                # planner uses a partial index only when the query says so.
                where.append(_ENDED_BADLY_SQL)
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
            if f.finished_since is not None or f.finished_until is not None:
                where.append(self._finished_range(tx, f, params))
            where += self._id_bounds(tx, f, params)
            rows = tx.all(
                f"SELECT {_RUN_COLS} FROM horae_runs WHERE {' AND '.join(where)}"
                " ORDER BY id DESC LIMIT :limit",
                params,
            )
        return [R.run_from_row(r) for r in rows]

    #: How far creation times may run out of id order (a run's id and created_at are
    #: taken in one short transaction; concurrent ones interleave by milliseconds).
    _CREATION_SKEW = 3600.0

    def _id_bounds(self, tx: Tx, f: RunFilter, params: dict[str, Any]) -> list[str]:
        """Time windows as id ranges too, so a window far back is read from the primary key
        where it starts, not walked to from the newest run. Ids grow with creation, and a
        run finishes after it was created: runs created at or after ``since`` have ids at or
        after the first created ``_CREATION_SKEW`` before it, and runs created or finished
        before ``until`` have ids before the first created ``_CREATION_SKEW`` after it."""
        out = []
        if f.since is not None:
            low = self._first_id_created(tx, f.since - self._CREATION_SKEW)
            if low is not None:
                out.append("id >= :id_low")
                params["id_low"] = low
        ends = [t for t in (f.until, f.finished_until) if t is not None]
        if ends:
            high = self._first_id_created(tx, min(ends) + self._CREATION_SKEW)
            if high is not None:
                out.append("id < :id_high")
                params["id_high"] = high
        return out

    def _first_id_created(self, tx: Tx, t: float) -> int | None:
        """The first id created at or after ``t`` (None: every run is older), by bisecting
        the primary key: about twenty index probes for a million runs."""
        # Two sub-queries: SQLite answers a lone min() or max() from the index, but scans
        # the table for both in one SELECT.
        span = tx.one("SELECT (SELECT min(id) FROM horae_runs) AS lo,"
                      " (SELECT max(id) FROM horae_runs) AS hi")
        if span is None or span["lo"] is None:
            return None
        best = None
        lo, hi = int(span["lo"]), int(span["hi"]) + 1  # the answer is in [lo, hi) or best
        while lo < hi:
            row = tx.one("SELECT id, created_at FROM horae_runs WHERE id >= :mid AND id < :hi"
                         " ORDER BY id LIMIT 1", {"mid": (lo + hi) // 2, "hi": hi})
            if row is None:  # no id in the upper half
                hi = (lo + hi) // 2
            elif float(row["created_at"]) >= t:
                best, hi = int(row["id"]), (lo + hi) // 2
            else:
                lo = int(row["id"]) + 1
        return best

    _DENSE = 20_000  # runs in a finished-time window above which the id walk is cheaper

    def _finished_range(self, tx: Tx, f: RunFilter, params: dict[str, Any]) -> str:
        """The finished-time window as a condition. A window of few runs is read over the
        ``finished_at`` index and sorted by id; a dense one (more than ``_DENSE`` runs,
        counted over the index, capped) is checked while walking the ids backwards, where
        its runs come soon. PostgreSQL's planner weighs this itself, from its statistics;
        SQLite has none, so the store decides (``+finished_at`` hides the index)."""
        params["f_since"] = f.finished_since if f.finished_since is not None else -1e300
        params["f_until"] = f.finished_until if f.finished_until is not None else 1e300
        col = "finished_at"
        if self.db.dialect == "sqlite":
            dense = tx.one(
                "SELECT count(*) AS n FROM (SELECT 1 FROM horae_runs WHERE finished_at IS NOT"
                " NULL AND finished_at >= :f_since AND finished_at < :f_until LIMIT :cap)",
                {"f_since": params["f_since"], "f_until": params["f_until"],
                 "cap": self._DENSE})
            if dense is not None and int(dense["n"]) >= self._DENSE:
                col = "+finished_at"
        return (f"finished_at IS NOT NULL AND {col} >= :f_since AND {col} < :f_until")

    def run_counts(self) -> dict[str, int]:
        """How many runs are in each state."""
        with self.db.read() as tx:
            rows = tx.all("SELECT state, count(*) AS n FROM horae_runs GROUP BY state")
        return {r["state"]: int(r["n"]) for r in rows}

    def run_cancel(self, run_id: int) -> Run:
        """Cancel a waiting run at once, or ask a running one to stop.

        Raises NotFound, or Conflict for a run that already finished.
        """
        with self.db.write() as tx:
            now = self._lock_runs(tx, [run_id])
            done = tx.one(
                "UPDATE horae_runs SET state = 'cancelled', finished_at = :now,"
                f" error = 'cancelled before it started' WHERE id = :id AND state IN {WAITING_SQL}"
                " RETURNING schedule_id, parent_id, origin, step",
                {"id": run_id, "now": now},
            )
            running = None if done is not None else tx.one(
                "UPDATE horae_runs SET cancel_requested = 1 WHERE id = :id AND state = 'running'"
                " RETURNING id, fanout",
                {"id": run_id},
            )
            if done is None and running is None:
                state = tx.one("SELECT state FROM horae_runs WHERE id = :id", {"id": run_id})
                if state is None:
                    raise NotFound("run", run_id)
                raise Conflict(f"run {run_id} already finished ({state['state']})")
            after_cancel(self, tx, [done] if done else [], [running] if running else [], now)
            row = tx.one(f"SELECT {_RUN_COLS} FROM horae_runs WHERE id = :id", {"id": run_id})
            assert row is not None
            cancelled = R.run_from_row(row)
            self._changed(tx, cancelled)
        return cancelled

    def run_retry(self, run_id: int) -> Run:
        """Queue a new run with the same task and arguments as a finished one."""
        with self.db.write() as tx:
            now = self._now(tx)
            cols = list(_NEW_RUN_COLS)
            values = {
                "state": "'queued'", "fire_time": "NULL", "origin": "'retry'", "not_before": ":now",
                "created_at": ":now", "finished_at": "NULL", "retry_of": "id", "parent_id": "NULL",
                "shard_index": "NULL", "shard_total": "NULL", "expires_at": "NULL",
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
            retried = R.run_from_row(row)
            self._changed(tx, retried)
        return retried

    def run_attempts(self, run_id: int) -> list[RunAttempt]:
        """Every attempt of a run, oldest first: the earlier ones as migration 0012's
        trigger recorded them when they ended, the current one from the run row (its error
        only once it ended). Empty while the first attempt has not been claimed."""
        with self.db.read() as tx:
            row = tx.one(f"SELECT {_RUN_COLS} FROM horae_runs WHERE id = :id",
                         {"id": run_id})
            if row is None:
                raise NotFound("run", run_id)
            earlier = tx.all(
                f"SELECT {R.columns(R.ATTEMPT_COLUMNS)} FROM horae_run_attempts"
                " WHERE run_id = :id ORDER BY attempt",
                {"id": run_id})
        run = R.run_from_row(row)
        attempts = [RunAttempt(**r) for r in earlier]
        if run.attempt > 0 and run.attempt not in {a.attempt for a in attempts}:
            ended = run.state in TERMINAL_STATES
            attempts.append(RunAttempt(
                run.id, run.attempt, run.state.value, run.worker_id, run.started_at,
                run.finished_at, run.error if ended else None,
                run.traceback if ended else None))
        return attempts

    def run_logs(self, run_id: int, *, after_id: int = 0, limit: int = 1000) -> list[LogLine]:
        with self.db.read() as tx:
            rows = tx.all(
                f"SELECT {R.columns(R.LOG_COLUMNS)} FROM horae_run_logs WHERE run_id = :run"
                " AND id > :after ORDER BY id LIMIT :limit",
                {"run": run_id, "after": after_id, "limit": limit},
            )
        return [R.log_from_row(r) for r in rows]

    def runs_expand(self, worker_ttl: float = 60.0) -> int:
        """Expand due broadcast/shard parents into children (see store/fanout.py).

        Broadcast targets the workers that are active and heartbeated within
        ``worker_ttl`` seconds. Returns how many children were created.
        """
        with self.db.read() as tx:  # one read when nothing is due, as at almost every pass
            if tx.one(f"SELECT id FROM horae_runs WHERE fanout IS NOT NULL AND state IN"
                      f" {WAITING_SQL} AND not_before <= {self.db.now_sql} LIMIT 1") is None:
                return 0
        with self.db.write() as tx:
            created = fanout.expand_due(self, tx, self._now(tx), worker_ttl)
            if created:
                self._notify(tx, "horae_runs")
        return created


def after_cancel(store: StoreBase, tx: Tx, done: list[Row], asked: list[Row],
                 now: float) -> None:
    """What a cancel changes beyond its runs, in its transaction (one cancel or many):
    ``done`` (cancelled before they started: ``schedule_id, parent_id, origin, step``) count
    on their schedules and move their workflow or fan-out parent on; ``asked`` (running,
    asked to stop: ``id, fanout``) that are parents have their children cancelled."""
    store._count_outcomes(tx, [(r["schedule_id"], "cancelled", r["origin"])
                               for r in done if r["schedule_id"] is not None], now)
    if done:
        workflow_runs.children_ended(
            store, tx, [(r["parent_id"], r["step"], "cancelled") for r in done], now)
        fanout.settle(store, tx, [r["parent_id"] for r in done], now)
    for r in asked:
        if r["fanout"] == "workflow":
            workflow_runs.cancel(store, tx, int(r["id"]), now)
        elif r["fanout"]:
            fanout.cancel_children(store, tx, int(r["id"]), now)
    store._notify(tx, "horae_cancel")
