"""Expiry: fired runs that were not started in time become missed instead of running late.

Contract (proven by ``tests/store/test_expiry.py`` on every backend):

- A run with ``expires_at`` (a schedule's ``expire_after`` policy, counted from when the run
  was due to start) is eligible for a claim only before that instant: no worker starts it
  later, whatever the sweep has done.
- :meth:`ExpiryQueries.runs_expire` turns waiting runs (``scheduled`` or ``queued``: never
  started; a run that started once and waits for a retry does not expire) whose instant
  has passed into ``missed``, with ``finished_at`` and a reason naming the wait, the queue
  and the policy, and counts them on their schedule (``missed``, last state). Up to
  ``limit`` runs per call, found through the partial index ``horae_runs_expiring``.
- It takes row locks in the one order (schedules, then runs by id; see base.py), so it
  never deadlocks with fire passes or outcome batches.
"""

from __future__ import annotations

from typing import Any

from horae.store.base import StoreBase

_EXPIRED = ("expires_at IS NOT NULL AND state IN ('scheduled', 'queued')"
            " AND expires_at <= {now}")


class ExpiryQueries(StoreBase):
    def runs_expire(self, *, limit: int = 1000) -> int:
        """Record up to ``limit`` expired waiting runs as missed; returns how many."""
        expired = _EXPIRED.format(now=self.db.now_sql)
        with self.db.read() as tx:  # one indexed read at almost every sweep: none expired
            if tx.one(f"SELECT id FROM horae_runs WHERE {expired} LIMIT 1") is None:
                return 0
        with self.db.write() as tx:
            found = tx.all(f"SELECT id FROM horae_runs WHERE {expired} ORDER BY id"
                           f" LIMIT :limit", {"limit": limit})
            if not found:
                return 0
            now = self._lock_runs(tx, [int(r["id"]) for r in found])
            rows = tx.all(
                "SELECT id, schedule_id, queue, not_before, expires_at FROM horae_runs"
                f" WHERE {self.db.in_list('id', 'ids')} AND {_EXPIRED.format(now=':now')}"
                " ORDER BY id",
                {"ids": self.db.list_param([int(r["id"]) for r in found]), "now": now},
            )
            if not rows:
                return 0
            tx.many(
                "UPDATE horae_runs SET state = 'missed', finished_at = :now, error = :why"
                " WHERE id = :id AND state IN ('scheduled', 'queued')",
                [{"id": r["id"], "now": now, "why": _reason(r, now)} for r in rows],
            )
            per: dict[str, int] = {}
            for r in rows:
                if r["schedule_id"] is not None:
                    per[r["schedule_id"]] = per.get(r["schedule_id"], 0) + 1
            if per:
                tx.many("UPDATE horae_schedules SET missed = missed + :n WHERE id = :id",
                        [{"id": sid, "n": n} for sid, n in sorted(per.items())])
                self._count_outcomes(tx, [(r["schedule_id"], "missed", "schedule")
                                          for r in rows if r["schedule_id"] is not None],
                                     now)
        return len(rows)


def _reason(row: dict[str, Any], now: float) -> str:
    allowed = float(row["expires_at"]) - float(row["not_before"])
    waited = now - float(row["not_before"])
    return (f"expire_after={allowed:g} s: not started within {allowed:g} s of when it was"
            f" due (waited {waited:.1f} s; queue {row['queue']!r} was behind)")
