"""Queues as an operator sees them: what waits, what runs, how far behind, who serves.

A queue exists while runs wait or run on it or a live worker serves it. Its *lag* is the
age of its oldest ready run: under overload it grows past the schedules' periods, and
that (with the skip reasons the planner writes) is how overload shows itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from horae.models import QueueStats
from horae.store.base import ACTIVE_SQL, StoreBase
from horae.store.connection import Tx


class QueueQueries(StoreBase):
    def queues_stats(self) -> tuple[float, list[QueueStats]]:
        """The database's now, and every queue with waiting or running runs or a live
        worker, by name. Counts are exact: one grouped read of the active runs."""
        with self.db.read() as tx:
            now = self._now(tx)
            rows = tx.all(
                "SELECT queue, state, count(*) AS n, min(not_before) AS oldest FROM horae_runs"
                f" WHERE state IN {ACTIVE_SQL} AND fanout IS NULL GROUP BY queue, state")
            workers = tx.all("SELECT queues, concurrency FROM horae_workers"
                             " WHERE state = 'active'")
        counts: dict[str, dict[str, int]] = {}
        oldest: dict[str, float] = {}
        for r in rows:
            counts.setdefault(r["queue"], {})[r["state"]] = int(r["n"])
            if r["state"] == "queued" and r["oldest"] is not None:
                oldest[r["queue"]] = float(r["oldest"])
        served: dict[str, tuple[int, int]] = {}
        for w in workers:
            for q in _queues(w["queues"]):
                n, slots = served.get(q, (0, 0))
                served[q] = (n + 1, slots + int(w["concurrency"]))
        return now, [
            QueueStats(q, c.get("queued", 0), c.get("scheduled", 0), c.get("retrying", 0),
                       c.get("running", 0), oldest.get(q), *served.get(q, (0, 0)))
            for q in sorted(set(counts) | set(served))
            for c in [counts.get(q, {})]
        ]

    def queues_unserved(self, queues: Sequence[str]) -> list[str]:
        """Those of ``queues`` that no live worker serves, in order."""
        with self.db.read() as tx:
            return self.queues_unserved_in(tx, queues)

    def queues_unserved_in(self, tx: Tx, queues: Sequence[str]) -> list[str]:
        """:meth:`queues_unserved` inside ``tx``: one read of ``horae_workers``, so that a
        change can warn, in its own answer, that its runs will wait for a worker."""
        if not queues:
            return []
        served = {q for w in tx.all("SELECT queues FROM horae_workers WHERE state = 'active'")
                  for q in _queues(w["queues"])}
        return [q for q in dict.fromkeys(queues) if q not in served]


def _queues(text: str) -> list[str]:
    value = json.loads(text)
    return [str(q) for q in value] if isinstance(value, list) else []
