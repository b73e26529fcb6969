"""The worker side of runs: claim, heartbeat, finish, rescue, release (all fenced)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from horae.models import (
    TERMINAL_STATES,
    LogLine,
    Run,
    RunState,
)
from horae.store import fanout, workflow_runs
from horae.store import rows as R
from horae.store.base import (
    _RUN_COLS,
    TERMINAL_SQL,
    WAITING_SQL,
    ClaimedRun,
    Finish,
    StoreBase,
)
from horae.store.connection import Row, Tx

_CLAIM_COLS = R.columns(R.CLAIM_COLUMNS)
# The worker's running runs whose cancellation was asked.
_CANCEL_ASKED = ("SELECT id FROM horae_runs WHERE lease_owner = :me AND state = 'running'"
                 " AND cancel_requested = 1")


class LeaseQueries(StoreBase):
    def runs_claim(
        self,
        worker_id: str,
        queues: Sequence[str],
        limit: int,
        lease: float,
        *,
        tasks: Sequence[str] | None = None,
        task_limit: int | None = None,
        start_claimed: int | None = None,
    ) -> list[Run]:
        """Claim up to ``limit`` eligible runs in one statement; they become running.

        With ``tasks``, only runs of those tasks are eligible (a worker never takes a run
        it has no code for). A run with a ``target_worker`` is eligible only for that
        worker. With ``task_limit`` (and one task), at most that many runs of the task are
        running afterwards: claimers of the task serialise on its catalogue row.

        ``started_at`` means the code started. The claimed runs are marked started unless
        ``start_claimed`` says only the first n of them (in claim order) start at once: the
        rest are held ahead, leased but unstarted (a rescue gives them back with their
        attempt unspent), and the worker writes their start with its next heartbeat or
        their outcome, whichever comes first (``started`` of :meth:`runs_heartbeat`,
        ``ran_for`` of :class:`Finish`).
        """
        rows = self._claim_rows(worker_id, queues, limit, lease, tasks, task_limit,
                                start_claimed, _RUN_COLS)
        return [R.run_from_row(r) for r in rows]

    def runs_take(
        self,
        worker_id: str,
        queues: Sequence[str],
        limit: int,
        lease: float,
        *,
        tasks: Sequence[str] | None = None,
        task_limit: int | None = None,
        start_claimed: int | None = None,
    ) -> list[ClaimedRun]:
        """:meth:`runs_claim` for a worker: the same claim, returning only what a worker
        needs of each run (:class:`ClaimedRun`), in claim order."""
        rows = self._claim_rows(worker_id, queues, limit, lease, tasks, task_limit,
                                start_claimed, _CLAIM_COLS)
        return [ClaimedRun(*R.claimed_args(r)) for r in rows]

    def _claim_rows(
        self,
        worker_id: str,
        queues: Sequence[str],
        limit: int,
        lease: float,
        tasks: Sequence[str] | None,
        task_limit: int | None,
        start_claimed: int | None,
        returning: str,
    ) -> list[Row]:
        """The claim of :meth:`runs_claim`; its rows (``returning`` columns, which include
        id, priority and not_before) in claim order."""
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
                    # never-started runs only: a retry is never stale (store/expiry.py)
                    f" AND (expires_at IS NULL OR expires_at > {self.db.now_sql}"
                    "  OR state = 'retrying')"
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
            started = self.db.now_sql if start_claimed is None else "NULL"
            rows = tx.all(
                f"UPDATE horae_runs SET state = 'running', attempt = attempt + 1,"
                f" lease_owner = :me, worker_id = :me, started_at = {started},"
                f" lease_expires_at = {self.db.now_sql} + :lease"
                f" WHERE id IN (SELECT id FROM ({candidates}) AS c"
                f" ORDER BY priority DESC, not_before, id LIMIT :limit)"
                f" RETURNING {returning}",
                params,
            )
            rows.sort(key=lambda r: (-r["priority"], r["not_before"], r["id"]))
            if start_claimed:
                tx.run(f"UPDATE horae_runs SET started_at = {self.db.now_sql}"
                       f" WHERE {self.db.in_list('id', 'ids')}",
                       {"ids": self.db.list_param([r["id"] for r in rows[:start_claimed]])})
        return rows

    def _task_room(self, tx: Tx, task: str, task_limit: int) -> int:
        """How many more runs of ``task`` may start, holding the task's row (PostgreSQL).

        SKIP LOCKED: while another claimer holds the row it is filling the room itself, so
        this one takes nothing instead of waiting (a frozen claimer must not stall others).
        """
        if self.db.dialect == "postgres" and not tx.all(
            "SELECT name FROM horae_tasks WHERE name = :t FOR UPDATE SKIP LOCKED", {"t": task}
        ):
            return 0
        row = tx.one("SELECT count(*) AS n FROM horae_runs WHERE task = :t AND state = 'running'",
                     {"t": task})
        return task_limit - (int(row["n"]) if row else 0)

    def runs_cancel_requested(self, worker_id: str) -> set[int]:
        """Ids of the worker's running runs whose cancellation was asked (read-only)."""
        with self.db.read() as tx:
            rows = tx.all(
                _CANCEL_ASKED,
                {"me": worker_id},
            )
        return {int(r["id"]) for r in rows}

    def runs_heartbeat(
        self,
        worker_id: str,
        lease: float,
        *,
        running: int = 0,
        progress: Sequence[tuple[int, int, float | None, str | None]] = (),
        logs: Sequence[tuple[int, LogLine]] = (),
        started: Sequence[tuple[int, int, float]] = (),
    ) -> set[int]:
        """Renew the leases of the worker's runs, save progress, logs and starts.

        ``progress`` items are ``(run_id, attempt, fraction, message)``, ``logs`` items
        ``(attempt, line)`` and ``started`` items ``(run_id, attempt, seconds ago)`` (runs
        held ahead whose code started since), all fenced on (run, attempt, worker) like
        every worker write. Returns the ids of the worker's runs whose cancellation was
        asked.
        """
        with self.db.write() as tx:
            params = {"me": worker_id, "lease": lease, "running": running}
            # The renewal locks every run this heartbeat writes, in id order (the lock
            # order); the progress updates then touch only rows it holds.
            mine = "lease_owner = :me AND state = 'running'"
            tx.run(
                f"UPDATE horae_runs SET lease_expires_at = {self.db.now_sql} + :lease"
                f" WHERE {self._ordered(mine)} AND {mine}",
                params,
            )
            tx.many(
                "UPDATE horae_runs SET progress = :p, progress_message = :m WHERE id = :id"
                " AND attempt = :attempt AND lease_owner = :me AND state = 'running'",
                [{"id": i, "attempt": a, "p": p, "m": m, "me": worker_id}
                 for i, a, p, m in sorted(progress, key=lambda x: x[0])],
            )
            tx.many(
                f"UPDATE horae_runs SET started_at = {self.db.now_sql} - :ago WHERE id = :id"
                " AND attempt = :attempt AND lease_owner = :me AND state = 'running'"
                " AND started_at IS NULL",
                [{"id": i, "attempt": a, "ago": ago, "me": worker_id}
                 for i, a, ago in sorted(started)],
            )
            self._logs_insert_fenced(tx, logs, worker_id)
            tx.run(
                f"UPDATE horae_workers SET heartbeat_at = {self.db.now_sql}, running = :running,"
                " state = CASE WHEN state = 'gone' THEN 'active' ELSE state END WHERE id = :me",
                params,
            )
            rows = tx.all(
                _CANCEL_ASKED,
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
            now = self._lock_runs(tx, [f.run.id for f in items])
            rows = self._finish_rows(tx, items, worker_id, now)
            kept = [row is not None for row in rows]
            self._logs_insert(tx, [(f.run.attempt, x) for f, ok in zip(items, kept, strict=True)
                                   if ok for x in f.logs])
            self._count_outcomes(tx, [
                (row["schedule_id"], f.state.value, row["origin"])
                for f, row in zip(items, rows, strict=True)
                if row is not None and row["schedule_id"] is not None
                and f.state in TERMINAL_STATES
            ], now)
            workflow_runs.children_ended(self, tx, [
                (row["parent_id"], f.run.step, f.state.value)
                for f, row in zip(items, rows, strict=True)
                if row is not None and f.state in TERMINAL_STATES], now)
            fanout.settle(self, tx, [r["parent_id"] for r in rows if r is not None], now)
            if any(f.state is RunState.RETRYING for f in items):
                self._notify(tx, "horae_runs")
            if any(r is not None and r["origin"] == "backfill" for r in rows):
                self._notify(tx, "horae_backfills")  # a slot is free: the scheduler tops up
        return kept

    def _finish_rows(self, tx: Tx, items: Sequence[Finish], worker_id: str,
                     now: float) -> list[Row | None]:
        """Write each fenced outcome; per item, its run's (schedule_id, parent_id) or None
        when the fence refused it."""
        if self.db.dialect == "postgres":  # one statement for the batch
            # Each outcome is a JSON array (no keys) and what the batch shares (now, the
            # worker) is a parameter: the batch is encoded once, compactly.
            done = {r["id"]: r for r in tx.all(
                "UPDATE horae_runs AS r SET state = v.state, result = v.result,"
                " error = v.error, traceback = v.tb, lease_owner = NULL,"
                " lease_expires_at = NULL,"
                f" finished_at = CASE WHEN v.state IN {TERMINAL_SQL} THEN :now END,"
                " not_before = :now + v.delay, progress = COALESCE(v.progress, r.progress),"
                " progress_message = COALESCE(v.message, r.progress_message),"
                " started_at = COALESCE(r.started_at, :now - v.ran)"
                " FROM (SELECT (e->>0)::bigint AS id, (e->>1)::int AS attempt,"
                " e->>2 AS state, e->>3 AS result, e->>4 AS error, e->>5 AS tb,"
                " (e->>6)::float8 AS delay, (e->>7)::float8 AS progress, e->>8 AS message,"
                " (e->>9)::float8 AS ran FROM json_array_elements(:rows::json) AS e) AS v"
                " WHERE r.id = v.id AND r.attempt = v.attempt AND r.lease_owner = :me"
                " AND r.state = 'running' RETURNING r.id, r.schedule_id, r.parent_id, r.origin",
                {"rows": R.dumps([self._finish_array(f) for f in items]), "me": worker_id,
                 "now": now},
            )}
            return [done.pop(f.run.id, None) for f in items]
        # SQLite: the same batch in one statement too (a statement per outcome cost more
        # in Python than in SQLite); v's columns are named apart from the run's.
        done = {r["id"]: r for r in tx.all(
            "UPDATE horae_runs SET state = v.n_state, result = v.n_result,"
            " error = v.n_error, traceback = v.n_tb, lease_owner = NULL,"
            " lease_expires_at = NULL,"
            f" finished_at = CASE WHEN v.n_state IN {TERMINAL_SQL} THEN :now END,"
            " not_before = :now + v.n_delay, progress = COALESCE(v.n_progress, progress),"
            " progress_message = COALESCE(v.n_message, progress_message),"
            " started_at = COALESCE(started_at, :now - v.n_ran)"
            " FROM (SELECT json_extract(value, '$[0]') AS n_id,"
            " json_extract(value, '$[1]') AS n_attempt, json_extract(value, '$[2]') AS n_state,"
            " json_extract(value, '$[3]') AS n_result, json_extract(value, '$[4]') AS n_error,"
            " json_extract(value, '$[5]') AS n_tb, json_extract(value, '$[6]') AS n_delay,"
            " json_extract(value, '$[7]') AS n_progress,"
            " json_extract(value, '$[8]') AS n_message, json_extract(value, '$[9]') AS n_ran"
            " FROM json_each(:rows)) AS v"
            " WHERE id = v.n_id AND attempt = v.n_attempt AND lease_owner = :me"
            " AND state = 'running' RETURNING id, schedule_id, parent_id, origin",
            {"rows": R.dumps([self._finish_array(f) for f in items]), "me": worker_id,
             "now": now},
        )}
        return [done.pop(f.run.id, None) for f in items]

    @staticmethod
    def _finish_array(f: Finish) -> list[Any]:
        """One outcome as the batch statement reads it (see :meth:`_finish_rows`)."""
        succeeded = f.state is RunState.SUCCEEDED
        fraction, message = f.progress if f.progress is not None else (None, None)
        return [f.run.id, f.run.attempt, f.state.value,
                None if f.result is None else R.dumps(f.result), f.error, f.traceback,
                f.retry_delay, 1.0 if succeeded else fraction, message, f.ran_for]

    def runs_rescue(self, *, owner: str | None = None, limit: int = 1000) -> list[Run]:
        """Take back running runs whose lease expired (or, with ``owner``, all of its runs).

        A run that never started (claimed ahead, ``started_at`` empty) goes back to
        ``queued`` with its attempt restored, or becomes ``cancelled`` if cancellation was
        asked. One that started becomes cancelled (if cancellation was asked), retrying
        (an attempt is left, after its backoff) or lost. Returns the runs as they are now.
        """
        cond = "lease_owner = :owner" if owner else f"lease_expires_at < {self.db.now_sql}"
        with self.db.read() as tx:  # one read at almost every sweep: nothing expired
            if tx.one(f"SELECT id FROM horae_runs WHERE state = 'running' AND {cond} LIMIT 1",
                      {"owner": owner}) is None:
                return []
        with self.db.write() as tx:
            params: dict[str, Any] = {"owner": owner, "limit": limit}
            candidates = [r["id"] for r in tx.all(
                f"SELECT id FROM horae_runs WHERE state = 'running' AND {cond} LIMIT :limit",
                params,
            )]
            if not candidates:
                return []
            now = params["now"] = self._lock_runs(tx, candidates)
            params["ids"] = self.db.list_param(candidates)
            rows = tx.all(
                "UPDATE horae_runs SET"
                " state = CASE WHEN cancel_requested = 1 THEN 'cancelled'"
                "  WHEN started_at IS NULL THEN 'queued'"
                "  WHEN attempt < max_attempts THEN 'retrying' ELSE 'lost' END,"
                " finished_at = CASE WHEN cancel_requested = 1"
                "  OR (started_at IS NOT NULL AND attempt >= max_attempts)"
                "  THEN :now ELSE NULL END,"
                " not_before = CASE WHEN started_at IS NULL THEN not_before"
                "  ELSE :now + retry_backoff END,"
                " error = CASE WHEN started_at IS NULL"
                "  THEN CASE WHEN cancel_requested = 1 THEN 'cancelled before it started'"
                "   ELSE error END"
                "  ELSE 'lease expired: worker ' || COALESCE(lease_owner, '?')"
                "  || ' stopped renewing it' END,"
                " attempt = CASE WHEN started_at IS NULL THEN attempt - 1 ELSE attempt END,"
                " lease_owner = NULL, lease_expires_at = NULL"
                f" WHERE {self.db.in_list('id', 'ids')} AND state = 'running' AND {cond}"
                f" RETURNING {_RUN_COLS}",
                params,
            )
            runs = [R.run_from_row(r) for r in rows]
            workflow_runs.children_ended(self, tx, [
                (r.parent_id, r.step, r.state.value) for r in runs
                if r.state in TERMINAL_STATES], now)
            fanout.settle(self, tx, [r.parent_id for r in runs], now)
            self._count_outcomes(
                tx,
                [(r.schedule_id, r.state.value, r.origin) for r in runs
                 if r.schedule_id is not None and r.state in TERMINAL_STATES],
                now,
            )
            if any(r.state in (RunState.RETRYING, RunState.QUEUED) for r in runs):
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
                f" WHERE {self._ordered(self.db.in_list('id', 'ids'))}"
                " AND lease_owner = :me AND state = 'running'",
                {"me": worker_id, "ids": self.db.list_param(list(run_ids))},
            )
            self._notify(tx, "horae_runs")
        return n
