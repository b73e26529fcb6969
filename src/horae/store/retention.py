"""Retention: deleting finished runs (with their log lines) and old events, in batches.

Contract (proven by ``tests/store/test_retention.py`` on every backend):

- Only finished runs are deleted (a terminal state and ``finished_at`` set), and only when
  they finished more than ``older_than`` seconds ago by the database's clock.
- ``keep_per_schedule = N`` keeps every run of a schedule that still exists from its N-th
  newest finished fire on (by fire time): its last N fires whatever their age, and the
  manual runs and retries made since then. A schedule with fewer than N finished fires
  keeps all its runs. Runs of deleted schedules and ad-hoc runs follow the age rule only.
- A fan-out family is never split: a child goes only with its parent (a child whose parent
  is already gone follows the age rule), and a parent goes only when none of its children
  is active.
- A run's log lines go with it. Events go by age, oldest first; an event never outlives
  the runs deleted by age (the caller passes an events age no longer than the runs').
- Each batch examines at most ``batch`` runs, in ``(finished_at, id)`` order from a
  cursor, in one short transaction: the SQLite write lock is held only for the deletes
  (the rows are chosen before, in a read), and on PostgreSQL the rows are locked with
  ``SKIP LOCKED``, so concurrent prunes never wait for each other or for a fire pass (which
  locks schedules and active runs, never finished ones).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from horae.store.base import ACTIVE_SQL, TERMINAL_SQL, StoreBase
from horae.store.connection import SQLiteDatabase, Tx

#: Where a scan of finished runs stopped: ``(finished_at, id)`` of the last run examined.
Cursor = tuple[float, int]


@dataclass
class Pruned:
    """What one batch deleted (or, in a dry run, would delete)."""

    runs: int = 0
    logs: int = 0
    events: int = 0
    #: The cursor to continue from; None when the scan reached the age limit (done).
    cursor: Cursor | None = None

    def add(self, other: Pruned) -> None:
        self.runs += other.runs
        self.logs += other.logs
        self.events += other.events


class RetentionQueries(StoreBase):
    def runs_prune_batch(self, older_than: float, *, keep_per_schedule: int = 0,
                         batch: int = 1000, after: Cursor | None = None,
                         dry_run: bool = False) -> Pruned:
        """Examine up to ``batch`` finished runs older than ``older_than`` seconds, after
        ``after``, and delete those the rules let go (see the module docstring)."""
        if self.db.dialect == "postgres" and not dry_run:
            with self.db.write() as tx:  # the chosen rows stay locked until they are gone
                chosen, cursor = self._choose(tx, older_than, keep_per_schedule, batch,
                                              after, lock=True)
                out = self._delete_runs(tx, chosen)
        else:
            with self.db.read() as tx:  # SQLite: choose outside the write lock
                chosen, cursor = self._choose(tx, older_than, keep_per_schedule, batch,
                                              after, lock=False)
                if dry_run:
                    out = self._count_runs(tx, chosen)
            if not dry_run:
                with self.db.write() as tx:
                    out = self._delete_runs(tx, chosen)
        out.cursor = cursor
        return out

    def runs_prune(self, older_than: float, *, keep_per_schedule: int = 0,
                   batch: int = 1000) -> int:
        """One batch from the oldest: how many runs were deleted (see runs_prune_batch)."""
        return self.runs_prune_batch(older_than, keep_per_schedule=keep_per_schedule,
                                     batch=batch).runs

    def events_prune_batch(self, older_than: float | None, *, keep_max: int = 0,
                           batch: int = 5000, after: int = 0,
                           dry_run: bool = False) -> tuple[int, int | None]:
        """Delete up to ``batch`` of the oldest events with an id above ``after``: those
        older than ``older_than`` seconds, and those beyond the newest ``keep_max`` (0: no
        limit). Returns how many, and the id to continue after (None: nothing older is
        left; a dry run passes it back as ``after``, as it deletes nothing).

        Events are read in id order (their primary key; ids and times grow together), so a
        batch reads ``batch`` rows however large the table is.
        """
        rules = []
        params: dict[str, Any] = {"batch": batch, "after": after}
        if older_than is not None:
            rules.append(f"ts < {self.db.now_sql} - :age")
            params["age"] = older_than
        if keep_max > 0:
            rules.append("id <= (SELECT max(id) FROM horae_events) - :keep")
            params["keep"] = keep_max
        if not rules:
            return 0, None
        oldest = ("SELECT id FROM horae_events WHERE id > :after ORDER BY id LIMIT :batch"
                  + ("" if dry_run else self.db.skip_locked))
        where = f"id IN ({oldest}) AND ({' OR '.join(rules)})"
        with self.db.read() if dry_run else self.db.write() as tx:
            row = tx.one(f"SELECT count(*) AS n, max(id) AS last FROM horae_events"
                         f" WHERE {where}", params) if dry_run else None
            if row is not None:
                n, last = int(row["n"]), row["last"]
            else:
                rows = tx.all(f"DELETE FROM horae_events WHERE {where} RETURNING id", params)
                n, last = len(rows), max((r["id"] for r in rows), default=None)
        return n, (int(last) if n >= batch and last is not None else None)

    def sqlite_release_free_pages(self, max_pages: int) -> int:
        """SQLite with ``auto_vacuum = INCREMENTAL``: give up to ``max_pages`` free pages
        beyond a tenth of the file back to the file system; returns how many. Deleted rows
        leave free pages that later rows reuse; a tenth is kept for that reuse. A database
        made without incremental auto-vacuum (before Horae set it on new files) keeps its
        size (its free pages are reused) until a ``VACUUM``. PostgreSQL: 0 (its own
        autovacuum makes the space reusable)."""
        if not isinstance(self.db, SQLiteDatabase) or self.db.memory or max_pages <= 0:
            return 0
        with self.db.read() as tx:
            mode = tx.one("PRAGMA auto_vacuum")
            free = tx.one("PRAGMA freelist_count")
            total = tx.one("PRAGMA page_count")
        if mode is None or free is None or total is None or mode["auto_vacuum"] != 2:
            return 0
        pages = min(max_pages, int(free["freelist_count"]) - int(total["page_count"]) // 10)
        if pages <= 0:
            return 0
        self.db.incremental_vacuum(pages)
        return pages

    # -- choosing ----------------------------------------------------------------------

    def _choose(self, tx: Tx, older_than: float, keep: int, batch: int,
                after: Cursor | None, *, lock: bool) -> tuple[list[int], Cursor | None]:
        """The ids to delete among the next ``batch`` finished runs after ``after`` in
        ``(finished_at, id)`` order (fan-out children are not examined: they go with
        their parent), and the cursor to continue from (None: the age limit was reached)."""
        af, aid = after if after is not None else (-1e300, 0)
        params: dict[str, Any] = {"age": older_than, "nth": batch - 1, "af": af, "aid": aid,
                                  "skip": max(keep - 1, 0)}
        after_sql = ("r.finished_at IS NOT NULL AND r.finished_at >= :af"
                     " AND (r.finished_at > :af OR r.id > :aid)")
        # First the window: its end is the batch-th run, read by walking the partial index
        # horae_runs_finished (0005; its predicate repeated literally) from the cursor.
        # The runs are then read by that range, so whatever plan the database picks for
        # them (on a table never analysed, too) reads about `batch` rows.
        end = tx.one(
            f"SELECT r.finished_at AS hf, r.id AS hid, r.finished_at >= {self.db.now_sql}"
            f" - :age AS late FROM horae_runs AS r WHERE {after_sql}"
            " ORDER BY r.finished_at, r.id LIMIT 1 OFFSET :nth", params)
        done = end is None or bool(end["late"])
        params["hf"] = 1e300 if end is None else float(end["hf"])
        params["hid"] = 0 if end is None else int(end["hid"])
        # Children of a parent that still exists are skipped (and so never locked by a
        # scan). Every other look-up is a scalar sub-query or a join on a key, one index
        # probe per row: an EXISTS under OR may be planned as a hashed sub-plan over a
        # whole table, and a state test in a WHERE as a scan of the partial index of every
        # active run (on a table never analysed, both are what PostgreSQL picks).
        scan = (
            "SELECT id, schedule_id, fire_time, created_at, finished_at, state, parent_id,"
            f" fanout FROM horae_runs AS r WHERE {after_sql} AND r.finished_at <= :hf"
            " AND (r.finished_at < :hf OR r.id <= :hid OR :hid = 0)"
            f" AND r.finished_at < {self.db.now_sql} - :age"
            " AND (r.parent_id IS NULL"
            "  OR (SELECT p.id FROM horae_runs AS p WHERE p.id = r.parent_id) IS NULL)"
            + (self.db.skip_locked if lock else "")
        )
        if keep > 0:
            # Per schedule of the batch (not per run), the fire time of its keep-th newest
            # finished fire: one walk of at most `keep` entries of the unique
            # (schedule_id, fire_time) index, newest first. NULL: fewer fires than that.
            kept = (
                ", kept AS MATERIALIZED (SELECT s.id AS schedule_id, 1 AS present,"
                " (SELECT k.fire_time FROM horae_runs"
                " AS k WHERE k.schedule_id = s.id AND k.fire_time IS NOT NULL"
                " AND k.finished_at IS NOT NULL ORDER BY k.fire_time DESC"
                " LIMIT 1 OFFSET :skip) AS since FROM horae_schedules AS s"
                " WHERE s.id IN (SELECT schedule_id FROM batch))"
            )
            join = " LEFT JOIN kept AS k ON k.schedule_id = b.schedule_id"
            # A run of a schedule that exists is kept from its keep-th newest fire on (and
            # all of them while it has fewer); runs of deleted schedules are not kept.
            schedule_rule = (
                " WHEN b.schedule_id IS NULL THEN 1"
                " WHEN k.present IS NULL THEN 1"
                " WHEN k.since IS NULL THEN 0"
                " WHEN COALESCE(b.fire_time, b.created_at) < k.since THEN 1"
            )
        else:
            kept, join, schedule_rule = "", "", ""
        rows = tx.all(
            f"WITH batch AS ({scan}){kept}"
            " SELECT b.id, CASE"
            f" WHEN b.state NOT IN {TERMINAL_SQL} THEN 0"
            " WHEN b.fanout IS NOT NULL AND (SELECT max(CASE WHEN c.state IN"
            f" {ACTIVE_SQL} THEN 1 ELSE 0 END) FROM horae_runs AS c"
            "  WHERE c.parent_id = b.id AND c.parent_id IS NOT NULL) = 1 THEN 0"
            f"{schedule_rule} ELSE {0 if keep > 0 else 1} END AS gone"
            f" FROM batch AS b{join}",
            params, planned=True,
        )
        cursor = None if done else (params["hf"], params["hid"])
        return [int(r["id"]) for r in rows if r["gone"]], cursor

    # -- deleting ----------------------------------------------------------------------

    def _family(self, tx: Tx, ids: list[int]) -> list[int]:
        """The chosen runs and their fan-out children (through horae_runs_parent)."""
        if not ids:
            return []
        children = tx.all(
            f"SELECT id FROM horae_runs WHERE parent_id IS NOT NULL"
            f" AND {self.db.in_list('parent_id', 'ids')}",
            {"ids": self.db.list_param(ids)},
        )
        return ids + [int(r["id"]) for r in children]

    def _count_runs(self, tx: Tx, ids: list[int]) -> Pruned:
        family = self._family(tx, ids)
        if not family:
            return Pruned()
        row = tx.one(f"SELECT count(*) AS n FROM horae_run_logs WHERE"
                     f" {self.db.in_list('run_id', 'ids')}", {"ids": self.db.list_param(family)})
        return Pruned(runs=len(family), logs=int(row["n"]) if row else 0)

    def _delete_runs(self, tx: Tx, ids: list[int]) -> Pruned:
        family = self._family(tx, ids)
        if not family:
            return Pruned()
        params = {"ids": self.db.list_param(family)}
        # Terminal only, again: a run is never deleted while active, whatever was read.
        deleted = [int(r["id"]) for r in tx.all(
            f"DELETE FROM horae_runs WHERE {self.db.in_list('id', 'ids')}"
            f" AND state IN {TERMINAL_SQL} RETURNING id", params)]
        if not deleted:
            return Pruned()
        logs = tx.run(f"DELETE FROM horae_run_logs WHERE {self.db.in_list('run_id', 'ids')}",
                      {"ids": self.db.list_param(deleted)})
        tx.run(f"DELETE FROM horae_run_attempts WHERE {self.db.in_list('run_id', 'ids')}",
               {"ids": self.db.list_param(deleted)})
        tx.run(f"DELETE FROM horae_workflow_steps WHERE {self.db.in_list('run_id', 'ids')}",
               {"ids": self.db.list_param(deleted)})
        return Pruned(runs=len(deleted), logs=max(logs, 0))
