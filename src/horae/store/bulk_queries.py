"""Many runs or schedules at once, chosen by a filter: count them, then cancel, retry,
pause or resume them all in one transaction.

The count and the change read the same filter, so what an operator confirmed ("cancel
1,204 queued runs of queue 'scans'?") is what changes, give or take the runs that ended
or started in between: the change reports its own count. One transaction per operation,
capped at ``limit`` rows: a bulk change is audited once and commits whole or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from horae.store.base import _NEW_RUN_COLS, TERMINAL_SQL, WAITING_SQL, StoreBase
from horae.store.connection import Tx
from horae.store.run_queries import after_cancel


@dataclass(frozen=True)
class Selection:
    """Which runs (or schedules): every given field must match. ``tag`` matches runs of
    schedules with that tag; ``states`` is required for runs."""

    schedule_id: str | None = None
    task: str | None = None
    queue: str | None = None
    tag: str | None = None
    states: tuple[str, ...] = ()

    def label(self, *, states: bool = True) -> str:
        """``queue=scans states=queued,retrying``: an audit record's target, a prompt's words."""
        return " ".join(f"{k}={','.join(v) if isinstance(v, list) else v}"
                        for k, v in self.as_dict().items() if states or k != "states")

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: v for k, v in (
            ("schedule", self.schedule_id), ("task", self.task), ("queue", self.queue),
            ("tag", self.tag)) if v is not None}
        if self.states:
            out["states"] = list(self.states)
        return out


@dataclass
class BulkOutcome:
    """What a bulk operation matched (by state) and, unless it was a dry run, changed."""

    action: str
    selection: Selection
    matched: dict[str, int] = field(default_factory=dict)
    changed: int = 0
    dry_run: bool = False
    ids: list[int | str] = field(default_factory=list)  # what changed (run or schedule ids)

    @property
    def total(self) -> int:
        return sum(self.matched.values())

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "filter": self.selection.as_dict(),
                "matched": self.total, "by_state": dict(sorted(self.matched.items())),
                "changed": self.changed, "dry_run": self.dry_run}


#: A finished run a bulk retry takes: not a fan-out parent, not retried already.
_NOT_RETRIED = (" AND NOT EXISTS (SELECT 1 FROM horae_runs AS again"
                " WHERE again.retry_of = horae_runs.id)"
                f" AND state IN {TERMINAL_SQL} AND fanout IS NULL")


class TooMany(Exception):
    """More rows match than one bulk operation may change."""

    def __init__(self, count: int, limit: int) -> None:
        super().__init__(f"{count} match, more than {limit}")
        self.count, self.limit = count, limit


class BulkQueries(StoreBase):
    def _tag_sql(self, column: str) -> str:
        if self.db.dialect == "postgres":
            return f"{column}::jsonb @> jsonb_build_array(CAST(:tag AS text))"
        return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE value = :tag)"

    def _run_where(self, sel: Selection) -> tuple[str, dict[str, Any]]:
        where = [self.db.in_list("state", "states")]
        params: dict[str, Any] = {"states": self.db.list_param(list(sel.states))}
        for column, value in (("schedule_id", sel.schedule_id), ("task", sel.task),
                              ("queue", sel.queue)):
            if value is not None:
                where.append(f"{column} = :{column}")
                params[column] = value
        if sel.tag is not None:
            where.append("schedule_id IN (SELECT id FROM horae_schedules WHERE"
                         f" {self._tag_sql('tags')})")
            params["tag"] = sel.tag
        return " AND ".join(where), params

    def runs_count_matching(self, sel: Selection, *, retryable: bool = False
                            ) -> dict[str, int]:
        """How many runs match, by state (``retryable``: only those a bulk retry takes)."""
        where, params = self._run_where(sel)
        if retryable:
            where += _NOT_RETRIED
        else:
            where += " AND cancel_requested = 0"
        with self.db.read() as tx:
            rows = tx.all(f"SELECT state, count(*) AS n FROM horae_runs WHERE {where}"
                          " GROUP BY state", params)
        return {r["state"]: int(r["n"]) for r in rows}

    def _matching_ids(self, tx: Tx, sel: Selection, limit: int,
                      extra: str = "") -> list[int]:
        where, params = self._run_where(sel)
        ids = [int(r["id"]) for r in tx.all(
            f"SELECT id FROM horae_runs WHERE {where}{extra} ORDER BY id LIMIT :cap",
            params | {"cap": limit + 1})]
        if len(ids) > limit:
            count = tx.one(f"SELECT count(*) AS n FROM horae_runs WHERE {where}{extra}",
                           params)
            raise TooMany(int(count["n"]) if count else len(ids), limit)
        return ids

    def runs_cancel_matching(self, sel: Selection, limit: int) -> BulkOutcome:
        """Cancel every matching run: waiting ones at once (``cancelled``), running ones
        asked to stop (as :meth:`run_cancel` does, parents with their children)."""
        out = BulkOutcome("runs.cancel", sel)
        with self.db.write() as tx:
            ids = self._matching_ids(tx, sel, limit, " AND cancel_requested = 0")
            now = self._lock_runs(tx, ids)
            if not ids:
                return out
            params = {"ids": self.db.list_param(ids), "now": now}
            done = tx.all(
                "UPDATE horae_runs SET state = 'cancelled', finished_at = :now,"
                " error = 'cancelled before it started (bulk cancel)'"
                f" WHERE {self.db.in_list('id', 'ids')} AND state IN {WAITING_SQL}"
                " RETURNING id, schedule_id, parent_id, origin, step", params)
            running = tx.all(
                "UPDATE horae_runs SET cancel_requested = 1"
                f" WHERE {self.db.in_list('id', 'ids')} AND state = 'running'"
                " RETURNING id, fanout", params)
            # The same consequences as a single cancel: counted on schedules, workflows
            # and fan-outs moved on, a parent's children cancelled.
            after_cancel(self, tx, done, running, now)
            out.changed = len(done) + len(running)
            out.ids = sorted([int(r["id"]) for r in [*done, *running]])
            out.matched = {"cancelled": len(done), "running": len(running)}
            self._changed(tx, out)
        return out

    def runs_retry_matching(self, sel: Selection, limit: int) -> BulkOutcome:
        """Queue a new run (origin ``retry``) for every matching finished run that has not
        been retried yet, so the same operation twice retries each run once."""
        out = BulkOutcome("runs.retry", sel)
        with self.db.write() as tx:
            ids = self._matching_ids(tx, sel, limit, _NOT_RETRIED)
            now = self._now(tx)
            if not ids:
                return out
            cols = list(_NEW_RUN_COLS)
            values = {
                "state": "'queued'", "fire_time": "NULL", "origin": "'retry'",
                "not_before": ":now", "created_at": ":now", "finished_at": "NULL",
                "retry_of": "id", "parent_id": "NULL", "shard_index": "NULL",
                "shard_total": "NULL", "expires_at": "NULL",
            }
            made = tx.all(
                f"INSERT INTO horae_runs ({', '.join(cols)})"
                f" SELECT {', '.join(values.get(c, c) for c in cols)} FROM horae_runs"
                f" WHERE {self.db.in_list('id', 'ids')} ORDER BY id RETURNING id",
                {"ids": self.db.list_param(ids), "now": now})
            self._notify(tx, "horae_runs")
            out.changed = len(made)
            out.ids = sorted(int(r["id"]) for r in made)
            out.matched = {"retried": len(made)}
            self._changed(tx, out)
        return out

    def schedules_tagged(self, tag: str, *, paused: bool, limit: int) -> list[str]:
        """Ids of the schedules with ``tag`` whose ``paused`` is as given, in id order
        (:class:`TooMany` past ``limit``)."""
        with self.db.read() as tx:
            rows = tx.all(f"SELECT id FROM horae_schedules WHERE {self._tag_sql('tags')}"
                          " AND paused = :paused ORDER BY id LIMIT :cap",
                          {"tag": tag, "paused": int(paused), "cap": limit + 1})
        if len(rows) > limit:
            raise TooMany(len(rows), limit)
        return [str(r["id"]) for r in rows]
