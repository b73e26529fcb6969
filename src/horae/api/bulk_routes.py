"""Bulk operations over REST: ``POST /runs:cancel``, ``/runs:retry``, ``/schedules:pause``
and ``/schedules:resume``, each with ``dry_run`` to count first (what a confirmation
shows). One transaction and one audit record per operation (see :mod:`horae.bulk`)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from horae.api.auth import Role
from horae.api.batch_routes import schedule_auditor
from horae.api.framework import Call, Operation, Reply
from horae.store import on_change
from horae.store.bulk_queries import BulkOutcome

_STRICT = ConfigDict(extra="forbid", strict=True)
_Name = Annotated[str, Field(min_length=1, max_length=200)]


class RunSelection(BaseModel):
    """Which runs: at least one of schedule, task, queue, tag (a schedule's tag); and
    their states (cancel: default the waiting ones, `running` asks running ones to stop;
    retry: default failed, timed_out, lost). `dry_run`: only count them."""

    model_config = _STRICT
    schedule: _Name | None = None
    task: _Name | None = None
    queue: _Name | None = None
    tag: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    states: list[Annotated[str, Field(max_length=20)]] | None = Field(default=None,
                                                                      max_length=10)
    dry_run: bool = False


class TagSelection(BaseModel):
    """Every schedule with this tag. `dry_run`: only count them."""

    model_config = _STRICT
    tag: Annotated[str, Field(min_length=1, max_length=100)]
    dry_run: bool = False


class BulkOut(BaseModel):
    action: str
    filter: dict[str, Any]
    matched: int
    by_state: dict[str, int]
    changed: int
    dry_run: bool


def _audited(c: Call, action: str, work: Any) -> Reply:
    """Run ``work`` (a bulk change) with one audit record in its transaction; a dry run
    writes nothing, so it is not audited."""
    if c.body.dry_run:
        return Reply(work().as_dict())
    holder: list[BulkOutcome] = []
    with c.audited(action, "bulk", target=lambda out: out.selection.label(),
                   after=lambda out: out.as_dict() | {"ids": out.ids[:1000]}):
        holder.append(work())
    return Reply(holder[0].as_dict())


def _run_filters(b: RunSelection) -> dict[str, Any]:
    return {"schedule": b.schedule, "task": b.task, "queue": b.queue, "tag": b.tag,
            "states": b.states, "dry_run": b.dry_run}


def cancel_runs(c: Call) -> Reply:
    return _audited(c, "runs.cancel", lambda: c.api.horae.runs.cancel_many(
        **_run_filters(c.body)))


def retry_runs(c: Call) -> Reply:
    return _audited(c, "runs.retry", lambda: c.api.horae.runs.retry_many(
        **_run_filters(c.body)))


def pause_tagged(c: Call) -> Reply:
    return _audited_schedules(c, paused=True)


def resume_tagged(c: Call) -> Reply:
    return _audited_schedules(c, paused=False)


def _audited_schedules(c: Call, *, paused: bool) -> Reply:
    # Each schedule written is audited by the batch's own path (one record per schedule).
    schedules = c.api.horae.schedules
    change = schedules.pause_many if paused else schedules.resume_many
    if c.body.dry_run:
        return Reply(change(tag=c.body.tag, dry_run=True).as_dict())
    with on_change(schedule_auditor(c, {})):
        out = change(tag=c.body.tag)
    return Reply(out.as_dict())


_WHAT = ("The count and the change read the same filter; the change reports its own "
         "count (runs that ended or started in between are left out). At most 100,000 "
         "rows per operation: past it 422 naming `filter`.")
BULK_OPERATIONS = [
    Operation("POST", "/runs:cancel", "cancelRuns",
              "Cancel every run a filter matches (dry_run: count them)", "runs",
              Role.OPERATOR, cancel_runs, body=RunSelection, response=BulkOut,
              errors=(422,), description=_WHAT),
    Operation("POST", "/runs:retry", "retryRuns",
              "Retry every finished run a filter matches, once (dry_run: count them)",
              "runs", Role.OPERATOR, retry_runs, body=RunSelection, response=BulkOut,
              errors=(422,), description=_WHAT),
    Operation("POST", "/schedules:pause", "pauseSchedules",
              "Pause every schedule with a tag (dry_run: count them)", "schedules",
              Role.OPERATOR, pause_tagged, body=TagSelection, response=BulkOut,
              errors=(422,), description=_WHAT),
    Operation("POST", "/schedules:resume", "resumeSchedules",
              "Resume every paused schedule with a tag (dry_run: count them)", "schedules",
              Role.OPERATOR, resume_tagged, body=TagSelection, response=BulkOut,
              errors=(422,), description=_WHAT),
]
