"""GET /api/v1/queues: each queue's backlog, lag and the workers that serve it.

The lag (seconds the oldest ready run has waited) is the overload signal: when it passes
the period of the schedules on a queue, their fires are skipped (overlap) or pile up, and
more worker slots on that queue are the remedy.
"""

from __future__ import annotations

from pydantic import BaseModel

from horae.api.auth import Role
from horae.api.framework import Call, Operation, Reply
from horae.api.schemas import IsoTime, OptionalIsoTime
from horae.instants import iso


class QueueOut(BaseModel):
    queue: str
    queued: int
    scheduled: int
    retrying: int
    running: int
    lag_seconds: float
    oldest_queued_at: OptionalIsoTime
    workers: int
    slots: int


class QueueList(BaseModel):
    now: IsoTime
    items: list[QueueOut]


def list_queues(c: Call) -> Reply:
    now, queues = c.api.horae.store.queues_stats()
    return Reply({"now": iso(now), "items": [q.as_dict(now) for q in queues]})


QUEUE_OPERATIONS: list[Operation] = [
    Operation("GET", "/queues", "listQueues",
              "Each queue's backlog, lag (oldest ready run's wait) and workers", "workers",
              Role.VIEWER, list_queues, response=QueueList,
              description="A queue is listed while runs wait or run on it or a live worker "
                          "serves it. `lag_seconds` is how long its oldest ready run has "
                          "waited for a slot; counts are exact."),
]
