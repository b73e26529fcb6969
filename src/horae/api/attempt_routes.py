"""GET /api/v1/runs/{id}/attempts: every attempt of a run with its outcome and error.

A retried run is one row whose attempt counter goes up; the store keeps the outcome of each
earlier attempt (migration 0012), and the log lines of an attempt carry its number, so a
client shows each attempt with its own error and logs (``/runs/{id}/logs``, ``attempt``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import create_model

from horae.api.auth import Role
from horae.api.framework import Call, Operation, Reply
from horae.api.schemas import wire_model
from horae.instants import iso
from horae.models import RunAttempt

AttemptOut = wire_model(RunAttempt, "RunAttempt", times=("started_at", "finished_at"),
                        extra={"duration": float | None})
AttemptList = create_model("AttemptList", items=(list[AttemptOut], ...))  # type: ignore[valid-type]


def attempt_wire(a: RunAttempt) -> dict[str, Any]:
    data = dataclasses.asdict(a)
    data["duration"] = a.duration
    for key in ("started_at", "finished_at"):
        data[key] = iso(data[key])
    return data


def list_attempts(c: Call) -> Reply:
    attempts = c.api.horae.store.run_attempts(c.path["run_id"])
    return Reply({"items": [attempt_wire(a) for a in attempts]})


ATTEMPT_OPERATIONS: list[Operation] = [
    Operation("GET", "/runs/{run_id:int}/attempts", "listRunAttempts",
              "Every attempt of a run, oldest first", "runs", Role.VIEWER, list_attempts,
              response=AttemptList, errors=(404,),
              description="One item per attempt that started: its state (`failed`, "
                          "`timed_out` or `lost` for an attempt that was retried; the run's "
                          "state for the current one), worker, start, end, duration and "
                          "error. Log lines carry `attempt`."),
]
