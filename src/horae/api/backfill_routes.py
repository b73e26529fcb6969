"""``/api/v1/schedules/{id}/backfills``: run a schedule over a past range, preview first.

``POST`` with ``dry_run: true`` answers the plan (every fire time with its markers, and
which already have a run) and writes nothing; without it, it starts the backfill (201,
audited ``schedule.backfill``). ``GET`` lists a schedule's backfills; ``POST
…/backfills/{backfill_id}/cancel`` stops one (audited ``schedule.backfill_cancel``).
Everything is decided by ``app.schedules.backfill`` (docs/semantics.md, "Backfill").
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from horae.api import schemas as S
from horae.api.auth import Role
from horae.api.framework import Call, Operation, Reply
from horae.backfill import MARKERS, MAX_CONCURRENCY, MAX_FIRES, Backfill, BackfillPlan


class BackfillCreate(BaseModel):
    """A past range ``[from, to)`` of the schedule's fire times to run."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    start: S.Instant = Field(alias="from", description="first instant, inclusive (ISO-8601 "
                             "with an offset, or epoch seconds)")
    end: S.Instant = Field(alias="to", description="last instant, exclusive; not in the "
                           "future")
    concurrency: Annotated[int, Field(ge=1, le=MAX_CONCURRENCY)] = Field(
        default=1, description="at most this many of its runs waiting or running at once")
    dry_run: bool = Field(default=False, description="answer the plan; write nothing")


class PlannedFireOut(BaseModel):
    fire_time: S.IsoTime
    markers: list[str] = Field(description=f"any of {', '.join(MARKERS)}")
    has_run: bool


class BackfillPlanOut(BaseModel):
    """Every fire the backfill would run, in order."""

    model_config = ConfigDict(populate_by_name=True)
    schedule_id: str
    start: S.IsoTime = Field(alias="from")
    end: S.IsoTime = Field(alias="to")
    zone: str
    total: int
    already_run: int
    to_create: int
    fires: list[PlannedFireOut]


class BackfillOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    id: int
    schedule_id: str
    start: S.IsoTime = Field(alias="from")
    end: S.IsoTime = Field(alias="to")
    concurrency: int
    state: str = Field(description="running, done or cancelled")
    total: int
    created: int
    skipped_existing: int
    created_by: str | None
    created_at: S.IsoTime
    finished_at: S.OptionalIsoTime
    next_fire_time: S.OptionalIsoTime


BackfillList = create_model("BackfillList", items=(list[BackfillOut], ...))


def _created(b: Backfill) -> Reply:
    return Reply(b.to_dict(), 201, {"Location": f"/api/v1/schedules/{b.schedule_id}/backfills"})


def create_backfill(c: Call) -> Reply:
    b: BackfillCreate = c.body
    schedule_id = c.path["schedule_id"]
    principal = c.principal
    assert principal is not None
    if b.dry_run:
        p = c.api.horae.schedules.backfill(schedule_id, b.start, b.end,
                                           concurrency=b.concurrency, dry_run=True)
        assert isinstance(p, BackfillPlan)
        return Reply(p.to_dict())
    with c.audited("schedule.backfill", "schedule", target=schedule_id, after=_audit_wire,
                   reply=_created):
        c.api.horae.schedules.backfill(schedule_id, b.start, b.end, concurrency=b.concurrency,
                                       created_by=principal.actor)
    return c.reply


def _audit_wire(b: Backfill) -> dict[str, Any]:
    return b.to_dict()


def list_backfills(c: Call) -> Reply:
    found = c.api.horae.schedules.backfills(c.path["schedule_id"])
    return Reply({"items": [b.to_dict() for b in found]})


def cancel_backfill(c: Call) -> Reply:
    schedule_id, backfill_id = c.path["schedule_id"], c.path["backfill_id"]
    with c.audited("schedule.backfill_cancel", "schedule", target=schedule_id,
                   after=_audit_wire):
        b = c.api.horae.schedules.backfill_cancel(schedule_id, backfill_id)
    return Reply(b.to_dict())


BACKFILL_OPERATIONS: list[Operation] = [
    Operation("POST", "/schedules/{schedule_id}/backfills", "createBackfill",
              "Run a schedule over a past range (dry_run: the plan only)", "schedules",
              Role.EDITOR, create_backfill, body=BackfillCreate, response=BackfillOut,
              status=201, errors=(400, 404, 413, 415, 422),
              also=((200, BackfillPlanOut, "dry_run: the plan; nothing written"),),
              description="`from` inclusive, `to` exclusive and not in the future; at most "
                          f"{MAX_FIRES:,} fires. `dry_run: true` answers 200 with the plan "
                          "(each fire time with its DST markers and whether a run already "
                          "has it) and writes nothing. Otherwise 201: the backfill runs its "
                          "fires in order, at most `concurrency` at once, as runs with "
                          "origin `backfill`, skipping fires that already have a run. 422 "
                          "names the field (`from`, `to`, `concurrency`)."),
    Operation("GET", "/schedules/{schedule_id}/backfills", "listBackfills",
              "A schedule's backfills, newest first", "schedules", Role.VIEWER,
              list_backfills, response=BackfillList, errors=(404,)),
    Operation("POST", "/schedules/{schedule_id}/backfills/{backfill_id:int}/cancel",
              "cancelBackfill", "Stop a running backfill", "schedules", Role.OPERATOR,
              cancel_backfill, response=BackfillOut, errors=(404, 409),
              description="Nothing more is queued; its waiting runs are cancelled, running "
                          "ones finish. 409 when it already ended."),
]
