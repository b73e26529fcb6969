"""Runs executed by an outside system (the Celery bridge): publish intent and confirmation.

Contract (proven by ``tests/store/test_external_runs.py`` on every backend):

- :meth:`ExternalRunQueries.run_external_intent` records, for a running run whose lease
  this worker holds at this attempt, the id its message will be published under and the
  attempt that publishes it; it is its own committed transaction, written BEFORE the
  message is sent. Refused (``False``) once the lease was lost.
- :meth:`ExternalRunQueries.run_external_published` records that the send returned, right
  AFTER it, fenced the same way.
- :meth:`ExternalRunQueries.run_external_plan` tells a new attempt what to do with a run's
  external id: ``publish`` a new one (none yet, or the attempt that published it, or one
  after it, ended with an outcome: a failure or a timeout starts a new message), or
  ``attach`` to the published one when every attempt since the one that published it
  was ``lost`` (its worker died: the outside system may still be running it). ``attach``
  says whether the send was confirmed; an unconfirmed one must be sent again under the
  same id (the send may or may not have happened: see horae/integrations/celery/bridge.py).
- The writes change one run row by primary key and lock nothing else, so they cannot
  deadlock with the passes that lock many runs in the one order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from horae.store.base import StoreBase

#: The columns migration 0019 adds to ``horae_runs`` (not part of :class:`Run`: only the
#: bridge reads them).
EXTERNAL_RUN_COLUMNS = ("external_id", "external_attempt", "external_published_at")

_FENCE = ("id = :id AND attempt = :attempt AND lease_owner = :me AND state = 'running'")


@dataclass(frozen=True)
class ExternalPlan:
    """What an attempt does with its run's outside message (see the module contract)."""

    action: Literal["publish", "attach"]
    external_id: str | None = None
    published: bool = False  # the send was confirmed (external_published_at is set)


class ExternalRunQueries(StoreBase):
    def run_external_plan(self, run_id: int, attempt: int) -> ExternalPlan:
        """Whether ``attempt`` of the run publishes a new message or re-attaches."""
        with self.db.read() as tx:
            row = tx.one("SELECT external_id, external_attempt, external_published_at"
                         " FROM horae_runs WHERE id = :id", {"id": run_id})
            if row is None or row["external_id"] is None:
                return ExternalPlan("publish")
            since = int(row["external_attempt"])
            if since == attempt:  # this very attempt wrote it (a second call): attach
                return ExternalPlan("attach", row["external_id"],
                                    row["external_published_at"] is not None)
            ended = tx.one(
                "SELECT count(*) AS n, sum(CASE WHEN state = 'lost' THEN 1 ELSE 0 END)"
                " AS lost FROM horae_run_attempts WHERE run_id = :id"
                " AND attempt >= :since AND attempt < :attempt",
                {"id": run_id, "since": since, "attempt": attempt})
        assert ended is not None
        if int(ended["n"]) == int(ended["lost"] or 0) == attempt - since:
            return ExternalPlan("attach", row["external_id"],
                                row["external_published_at"] is not None)
        return ExternalPlan("publish")

    def run_external_intent(self, run_id: int, attempt: int, worker_id: str,
                            external_id: str) -> bool:
        """Commit the id ``attempt`` will publish under (in its own transaction, before
        the send); False once the lease is lost."""
        with self.db.write() as tx:
            return tx.run(
                "UPDATE horae_runs SET external_id = :ext, external_attempt = :attempt,"
                f" external_published_at = NULL WHERE {_FENCE}",
                {"id": run_id, "attempt": attempt, "me": worker_id, "ext": external_id},
            ) == 1

    def run_external_published(self, run_id: int, attempt: int, worker_id: str,
                               external_id: str) -> bool:
        """Record that the message of ``external_id`` was handed to the broker."""
        with self.db.write() as tx:
            return tx.run(
                f"UPDATE horae_runs SET external_published_at = {self.db.now_sql}"
                f" WHERE {_FENCE} AND external_id = :ext",
                {"id": run_id, "attempt": attempt, "me": worker_id, "ext": external_id},
            ) == 1

    def run_external_id(self, run_id: int) -> str | None:
        """The id the run's latest message was published under, if any."""
        with self.db.read() as tx:
            row = tx.one("SELECT external_id FROM horae_runs WHERE id = :id", {"id": run_id})
        return None if row is None else row["external_id"]
