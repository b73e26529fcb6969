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
- A run with ``expires_at`` is eligible only before it; afterwards it is recorded as
  missed (store/expiry.py).
- A terminal state (succeeded, failed, timed_out, cancelled, skipped, missed, lost) never
  changes.
"""

from __future__ import annotations

from horae.models import QueueStats
from horae.store.backfill_queries import BackfillQueries
from horae.store.base import ClaimedRun, DueRow, Finish, FireOutcome, NewRun, Planner, RunFilter
from horae.store.bulk_queries import BulkQueries
from horae.store.channel_queries import ChannelQueries
from horae.store.expiry import ExpiryQueries
from horae.store.explain_queries import ExplainQueries
from horae.store.external_runs import ExternalRunQueries
from horae.store.hook_queries import HookQueries
from horae.store.lease_queries import LeaseQueries
from horae.store.list_queries import ListQueries
from horae.store.queue_queries import QueueQueries
from horae.store.retention import RetentionQueries
from horae.store.run_queries import RunQueries
from horae.store.schedule_batch import ScheduleBatchQueries
from horae.store.schedule_queries import ScheduleQueries
from horae.store.worker_queries import WorkerQueries
from horae.store.workflow_queries import WorkflowQueries
from horae.store.workflow_runs import WorkflowRunQueries

__all__ = ["ClaimedRun", "DueRow", "Finish", "FireOutcome", "NewRun", "Planner", "QueueStats",
           "RunFilter", "Store"]


class Store(ScheduleQueries, ScheduleBatchQueries, RunQueries, LeaseQueries, WorkerQueries,
            ListQueries, QueueQueries, RetentionQueries, ExpiryQueries, WorkflowQueries,
            BulkQueries, HookQueries, WorkflowRunQueries, ExplainQueries, BackfillQueries,
            ChannelQueries, ExternalRunQueries):
    """All persistence. One object per process; safe to share between threads.

    Each part lives in its own module, by responsibility; this class only joins them.
    """
