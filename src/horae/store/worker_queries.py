"""Workers and the task catalogue they advertise."""

from __future__ import annotations

from collections.abc import Sequence

from horae.models import (
    TaskInfo,
    WorkerInfo,
)
from horae.store import fanout
from horae.store import rows as R
from horae.store.base import (
    StoreBase,
)
from horae.store.connection import Tx


class WorkerQueries(StoreBase):
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
            self._upsert_tasks(tx, tasks, now)

    def tasks_advertise(self, tasks: Sequence[TaskInfo]) -> None:
        """Write tasks into the catalogue without a worker (as a worker's start would):
        e.g. Celery tasks registered through the bridge, before any bridge worker ran."""
        with self.db.write() as tx:
            self._upsert_tasks(tx, tasks, self._now(tx))

    @staticmethod
    def _upsert_tasks(tx: Tx, tasks: Sequence[TaskInfo], now: float) -> None:
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
        """Workers that have not heartbeated for ``silent_for`` seconds become gone; each
        one writes a ``worker.gone`` event in the same transaction."""
        silent = ("SELECT id FROM horae_workers WHERE state <> 'gone'"
                  f" AND heartbeat_at < {self.db.now_sql} - :silent LIMIT 1")
        with self.db.read() as tx:  # stay read-only at the sweeps where nobody went silent
            if tx.one(silent, {"silent": silent_for}) is None:
                return []
        with self.db.write() as tx:
            rows = tx.all(
                "UPDATE horae_workers SET state = 'gone' WHERE state <> 'gone'"
                f" AND heartbeat_at < {self.db.now_sql} - :silent"
                " RETURNING id, host, heartbeat_at",
                {"silent": silent_for},
            )
            gone = sorted(r["id"] for r in rows)
            now = self._now(tx)
            # The event, in this transaction: consumers (hooks) learn of it exactly when
            # the worker is recorded gone, whichever scheduler decided it.
            tx.many(
                "INSERT INTO horae_events (ts, kind, run_id, schedule_id, data)"
                " VALUES (:now, 'worker.gone', NULL, NULL, :data)",
                [{"now": now, "data": R.dumps({"worker_id": r["id"], "host": r["host"],
                                               "heartbeat_at": r["heartbeat_at"],
                                               "silent_for": silent_for})}
                 for r in sorted(rows, key=lambda r: str(r["id"]))],
            )
            fanout.lose_targeted(self, tx, gone, now)
        return gone

    def tasks_list(self) -> list[TaskInfo]:
        with self.db.read() as tx:
            rows = tx.all(f"SELECT {R.columns(R.TASK_COLUMNS)} FROM horae_tasks ORDER BY name")
        return [R.task_from_row(r) for r in rows]
