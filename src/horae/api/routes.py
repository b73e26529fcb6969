"""The operations of /api/v1: schedules, runs, tasks, workers, audit, tokens (health is
in :mod:`horae.api.health`).

Each handler calls the same Python API everyone uses (``app.schedules``, ``app.runs``), so
validation happens once, before any write, in :mod:`horae.schedules` and :mod:`horae.runs`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from horae.api import schemas as S
from horae.api.auth import Role, mint_token
from horae.api.framework import Call, Operation, Reply
from horae.api.problems import ApiError, invalid
from horae.errors import Conflict
from horae.instants import iso, to_epoch
from horae.locales import ACCEPTED, parse_locale
from horae.models import Policies, Run, RunState, Schedule
from horae.store.list_queries import PageKey, page_key
from horae.triggers import zone_of

Limit = Annotated[int, Field(ge=1, le=1000)]


class ScheduleQuery(BaseModel):
    task: Annotated[str, Field(max_length=200)] | None = None
    paused: bool | None = None
    search: Annotated[str, Field(max_length=200)] | None = None
    queue: Annotated[str, Field(max_length=100)] | None = Field(
        default=None, description="only schedules whose policies.queue is this")
    tag: Annotated[str, Field(max_length=100)] | None = Field(
        default=None, description="only schedules with this tag")
    failing: bool | None = Field(
        default=None, description="true: only schedules whose last recorded outcome is "
                                   "failed, timed_out or lost; false: only the others")
    order: Literal["id", "next_fire"] = Field(
        default="id", description="id, or next_fire: soonest next fire first, then "
                                  "unpaused schedules without one, then paused ones")
    cursor: Annotated[str, Field(max_length=400)] | None = Field(
        default=None, description="next_cursor of the previous page (of the same order)")
    limit: Limit = 100


class StatsQuery(BaseModel):
    hours: Annotated[int, Field(ge=1, le=24)] = Field(
        default=3, description="the window of finished runs and of the per-minute rates")
    top: Annotated[int, Field(ge=1, le=100)] = Field(
        default=10, description="how many next fires and failing schedules")


class RunQuery(BaseModel):
    schedule: Annotated[str, Field(max_length=200)] | None = None
    task: Annotated[str, Field(max_length=200)] | None = None
    state: list[RunState] | None = None
    queue: Annotated[str, Field(max_length=100)] | None = None
    parent: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = Field(
        default=None, description="only the children of this run (a broadcast or shard "
                                  "parent)")
    since: S.Instant | None = Field(default=None, description="created at or after")
    until: S.Instant | None = Field(default=None, description="created before")
    finished_since: S.Instant | None = Field(default=None, description="finished at or after")
    finished_until: S.Instant | None = Field(default=None, description="finished before")
    cursor: Annotated[str, Field(pattern=r"^[0-9]{1,18}$")] | None = None
    limit: Limit = 100


class AuditQuery(BaseModel):
    actor: Annotated[str, Field(max_length=200)] | None = None
    target_kind: Annotated[str, Field(max_length=100)] | None = None
    target_id: Annotated[str, Field(max_length=200)] | None = None
    action: Annotated[str, Field(max_length=100)] | None = None
    cursor: Annotated[str, Field(pattern=r"^[0-9]{1,18}$")] | None = None
    limit: Limit = 100


class PreviewQuery(BaseModel):
    n: Annotated[int, Field(ge=1, le=100)] = 10
    locale: Annotated[str, Field(max_length=20, description=f"the description's language: "
                                 f"{ACCEPTED}")] = "en"


class ExplainQuery(BaseModel):
    at: Annotated[str, Field(max_length=100, description="the instant: ISO-8601 with a zone, "
                             "epoch seconds, or relative to now (-1h, +30m); without it, "
                             "the last fire and the next one")] | None = None
    locale: Annotated[str, Field(max_length=20, description=f"the reasons' language: "
                                 f"{ACCEPTED} (default: from Accept-Language)")] | None = None


def etag(s: Schedule) -> str:
    return f'"{s.version}"'


def _schedule_reply(s: Schedule, status: int = 200, location: bool = False,
                    locale: str = "en") -> Reply:
    headers = {"ETag": etag(s)}
    if location:
        headers["Location"] = f"/api/v1/schedules/{quote(s.id, safe='')}"
    return Reply(S.schedule_wire(s, locale), status, headers)


def _run_reply(run: Any, status: int = 200) -> Reply:
    headers = {"Location": f"/api/v1/runs/{run.id}"} if status == 201 else {}
    return Reply(S.run_wire(run), status, headers)


def _first_run(runs: list[Run]) -> dict[str, Any]:
    return S.run_wire(runs[0])


def _first_run_created(runs: list[Run]) -> Reply:
    return _run_reply(runs[0], 201)


def _run_queues(result: Run | list[Run]) -> list[str]:
    """The queue of the run(s) a change made (a fan-out parent names its children's)."""
    return [r.queue for r in (result if isinstance(result, list) else [result])]


def _page(items: list[Any], limit: int, cursor_of: Any) -> tuple[list[Any], str | None]:
    if len(items) > limit:
        items = items[:limit]
        return items, str(cursor_of(items[-1]))
    return items, None


# -- schedules ---------------------------------------------------------------------------


def list_schedules(c: Call) -> Reply:
    q: ScheduleQuery = c.query
    after_id, after = (q.cursor, None) if q.order == "id" else (None, _key_cursor(q.cursor))
    found = c.api.horae.schedules.list(
        task=q.task, paused=q.paused, search=q.search, queue=q.queue, tag=q.tag,
        failing=q.failing, order=q.order, after_id=after_id, after=after, limit=q.limit + 1)
    cursor_of = (lambda s: s.id) if q.order == "id" else (lambda s: S.key_cursor(page_key(s)))
    items, cursor = _page(found, q.limit, cursor_of)
    last = c.api.horae.store.schedule_last_runs(items)
    return Reply({"items": [S.schedule_list_wire(s, last.get(s.id), c.language) for s in items],
                  "next_cursor": cursor})


def _key_cursor(cursor: str | None) -> PageKey | None:
    if cursor is None:
        return None
    key = S.parse_key_cursor(cursor)
    if key is None:
        raise invalid("cursor", "not a cursor of order=next_fire: pass the next_cursor of "
                                "the previous page, with the same order")
    return key


def stats(c: Call) -> Reply:
    q: StatsQuery = c.query
    return Reply(S.stats_wire(c.api.horae.store.run_stats(q.hours, q.top), c.language))


def create_schedule(c: Call) -> Reply:
    b: S.ScheduleCreate = c.body
    with c.audited("schedule.create", "schedule", target=b.id, after=S.schedule_wire,
                   reply=lambda s: _schedule_reply(s, 201, location=True),
                   queues=lambda s: [s.policies.queue]):
        c.api.horae.schedules.add(
            b.id, b.task, S.trigger_dict(b.trigger), args=b.args, kwargs=b.kwargs,
            paused=b.paused, description=b.description, tags=b.tags,
            **S.policies_given(b.policies))
    return c.reply


def get_schedule(c: Call) -> Reply:
    return _schedule_reply(c.api.horae.schedules.get(c.path["schedule_id"]), locale=c.language)


def _current(c: Call) -> Schedule:
    """The schedule now, after checking If-Match against it (412 on a lost update)."""
    current: Schedule = c.api.horae.schedules.get(c.path["schedule_id"])
    expected = c.expected_version()
    if expected is not None and expected != current.version:
        raise _lost_update(current, expected)
    return current


def _lost_update(current: Schedule, expected: int) -> ApiError:
    return ApiError(412, f"schedule {current.id!r} is at version {current.version}, not "
                         f"{expected}: someone changed it since you read it; read it again "
                         "and retry", slug="precondition-failed")


def _update(c: Call, current: Schedule, changes: dict[str, Any], action: str) -> Reply:
    try:
        with c.audited(action, "schedule", target=current.id, before=S.schedule_wire(current),
                       after=S.schedule_wire):
            s = c.api.horae.schedules.update(current.id, expected_version=current.version,
                                             **changes)
    except Conflict:
        if c.request.headers.get("if-match") is not None:
            raise _lost_update(c.api.horae.schedules.get(current.id), current.version) \
                from None
        raise
    return _schedule_reply(s)


def patch_schedule(c: Call) -> Reply:
    b: S.SchedulePatch = c.body
    current = _current(c)
    changes = {k: v for k, v in S.given(b).items() if k != "policies" and v is not None}
    if "trigger" in changes:
        changes["trigger"] = S.trigger_dict(b.trigger)  # type: ignore[arg-type]
    changes |= S.policies_given(b.policies)
    if not changes:
        return _schedule_reply(current)
    return _update(c, current, changes, "schedule.update")


def replace_schedule(c: Call) -> Reply:
    b: S.ScheduleReplace = c.body
    current = _current(c)
    info = c.api.horae.task_info(b.task)
    policies = dataclasses.asdict(Policies()) | {
        "queue": info.queue, "retries": info.retries, "timeout": info.timeout,
    } | S.policies_given(b.policies)
    changes = {"task": b.task, "trigger": S.trigger_dict(b.trigger), "args": b.args,
               "kwargs": b.kwargs, "paused": b.paused, "description": b.description,
               "tags": b.tags} | policies
    return _update(c, current, changes, "schedule.replace")


def delete_schedule(c: Call) -> Reply:
    current = _current(c)
    try:
        with c.audited("schedule.delete", "schedule", target=current.id,
                       before=S.schedule_wire(current)):
            c.api.store.schedule_delete_if(current.id, current.version)
    except Conflict:
        if c.request.headers.get("if-match") is not None:
            raise _lost_update(c.api.horae.schedules.get(current.id), current.version) \
                from None
        raise
    return Reply(None, 204)


def _pause_or_resume(c: Call, paused: bool) -> Reply:
    action = "schedule.pause" if paused else "schedule.resume"
    for attempt in range(10):
        before = c.api.horae.schedules.get(c.path["schedule_id"])
        # Conditional on the version read as `before`, so the audit's before is exact;
        # changed meanwhile: read it again.
        try:
            with c.audited(action, "schedule", target=before.id,
                           before=S.schedule_wire(before), after=S.schedule_wire):
                s = c.api.horae.schedules.update(before.id, expected_version=before.version,
                                                 paused=paused)
        except Conflict:
            if attempt == 9:
                raise
            continue
        return _schedule_reply(s, locale=c.language)
    raise AssertionError("unreachable")


def pause_schedule(c: Call) -> Reply:
    return _pause_or_resume(c, True)


def resume_schedule(c: Call) -> Reply:
    return _pause_or_resume(c, False)


def trigger_schedule(c: Call) -> Reply:
    schedule_id = c.path["schedule_id"]
    b: S.TriggerArguments | None = c.body
    with c.audited("schedule.trigger", "schedule", target=schedule_id, after=_first_run,
                   reply=_first_run_created, queues=_run_queues):
        c.api.horae.schedules.trigger_now(schedule_id, args=None if b is None else b.args,
                                          kwargs=None if b is None else b.kwargs)
    return c.reply


def preview_schedule(c: Call) -> Reply:
    q: PreviewQuery = c.query
    locale = parse_locale(q.locale)
    s = c.api.horae.schedules.get(c.path["schedule_id"])
    zone = zone_of(s.trigger) or "UTC"
    fires: list[datetime] = c.api.horae.schedules.preview(s.id, q.n)
    tz = ZoneInfo(zone)
    return Reply({
        "id": s.id, "description": S.describe(s.trigger, locale), "zone": zone,
        "fires": [{"utc": iso(f.timestamp()), "local": f.astimezone(tz).isoformat()}
                  for f in fires],
    })


def explain_schedule(c: Call) -> Reply:
    q: ExplainQuery = c.query
    language = c.language if q.locale is None else parse_locale(q.locale)
    return Reply(c.api.horae.schedules.explain(c.path["schedule_id"], q.at, locale=language))


# -- runs --------------------------------------------------------------------------------


def list_runs(c: Call) -> Reply:
    q: RunQuery = c.query
    since, until = _instant(q.since, "since"), _instant(q.until, "until")
    found = c.api.horae.runs.list(
        schedule_id=q.schedule, task=q.task, states=[s.value for s in q.state or ()],
        queue=q.queue, parent_id=q.parent, since=since, until=until,
        finished_since=_instant(q.finished_since, "finished_since"),
        finished_until=_instant(q.finished_until, "finished_until"),
        before_id=None if q.cursor is None else int(q.cursor), limit=q.limit + 1)
    items, cursor = _page(found, q.limit, lambda r: r.id)
    return Reply({"items": [S.run_wire(r) for r in items], "next_cursor": cursor})


def _instant(value: float | str | None, field: str) -> float | None:
    """Epoch seconds or ISO-8601 from a query string ("0" is a number, not a date)."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value)
    return None if value is None else to_epoch(value, field)


def create_run(c: Call) -> Reply:
    b: S.RunCreate = c.body
    with c.audited("run.create", "run", target=lambda runs: str(runs[0].id),
                   after=_first_run, reply=_first_run_created, queues=_run_queues):
        c.api.horae.runs.create(b.task, args=b.args, kwargs=b.kwargs, at=b.at,
                                delay=b.delay, **S.policies_given(b.policies))
    return c.reply


def get_run(c: Call) -> Reply:
    return _run_reply(c.api.horae.runs.get(c.path["run_id"]))


def cancel_run(c: Call) -> Reply:
    before = c.api.horae.runs.get(c.path["run_id"])
    with c.audited("run.cancel", "run", target=str(before.id), before=S.run_wire(before),
                   after=S.run_wire):
        run = c.api.horae.runs.cancel(before.id)
    return _run_reply(run)


def retry_run(c: Call) -> Reply:
    with c.audited("run.retry", "run", target=str(c.path["run_id"]), after=S.run_wire,
                   reply=lambda run: _run_reply(run, 201), queues=_run_queues):
        c.api.horae.runs.retry(c.path["run_id"])
    return c.reply


# -- catalogue, workers, audit, tokens -----------------------------------------------------


def _catalogue(c: Call) -> dict[str, Any]:
    tasks = {t.name: t for t in c.api.horae.store.tasks_list()}
    tasks |= {t.name: t.info() for t in c.api.horae.registry}
    return tasks


def list_tasks(c: Call) -> Reply:
    tasks = _catalogue(c)
    return Reply({"items": [S.task_wire(tasks[n]) for n in sorted(tasks)]})


def get_task(c: Call) -> Reply:
    name = c.path["name"]
    task = _catalogue(c).get(name)
    if task is None:
        raise ApiError(404, f"task {name!r} not found", slug="not-found")
    return Reply(S.task_wire(task))


def list_workers(c: Call) -> Reply:
    return Reply({"items": [S.worker_wire(w) for w in c.api.horae.store.workers_list()]})


def list_audit(c: Call) -> Reply:
    q: AuditQuery = c.query
    found = c.api.store.audit_list(actor=q.actor, target_kind=q.target_kind,
                                   target_id=q.target_id, action=q.action,
                                   before_id=None if q.cursor is None else int(q.cursor),
                                   limit=q.limit + 1)
    items, cursor = _page(found, q.limit, lambda a: a.id)
    return Reply({"items": [S.audit_wire(a) for a in items], "next_cursor": cursor})


def list_tokens(c: Call) -> Reply:
    return Reply({"items": [S.token_wire(t) for t in c.api.store.tokens_list()]})


def create_token(c: Call) -> Reply:
    b: S.TokenCreate = c.body
    assert c.principal is not None
    with c.audited("token.create", "token", target=lambda t: t.id, after=S.token_wire):
        made = mint_token(c.api.store, b.name, Role.parse(b.role), c.principal.actor)
    assert made is not None
    token, record = made
    return Reply(S.token_wire(record) | {"token": token}, 201,
                 {"Location": f"/api/v1/tokens/{record.id}", "Cache-Control": "no-store"})


def revoke_token(c: Call) -> Reply:
    token_id = c.path["token_id"]
    before = c.api.store.token_get(token_id)
    if before is None:
        raise ApiError(404, f"token {token_id!r} not found", slug="not-found")
    if c.principal is not None and c.principal.token_id == token_id:
        raise ApiError(409, "a token cannot revoke itself (that would lock you out); use "
                            "another admin token or `horae tokens revoke`", slug="conflict")
    with c.audited("token.revoke", "token", target=token_id, before=S.token_wire(before),
                   after=S.token_wire):
        after = c.api.store.token_revoke(token_id)
    return Reply(S.token_wire(after))


E_READ = (404,)
E_WRITE = (400, 404, 409, 413, 415, 422)

OPERATIONS: list[Operation] = [
    Operation("GET", "/schedules", "listSchedules",
              "List schedules by id or next fire, with filters and a cursor", "schedules",
              Role.VIEWER, list_schedules, query=ScheduleQuery, response=S.SchedulePage,
              errors=(422,),
              description="Each item also carries last_run_id and last_duration: the run "
                          "behind last_state/last_run_at and how long it ran."),
    Operation("GET", "/stats", "getStats",
              "Counts of runs by state, runs per minute, next fires, failing schedules",
              "runs", Role.VIEWER, stats, query=StatsQuery, response=S.StatsOut,
              errors=(422,),
              description="Waiting and running counts are exact; finished counts and the "
                          "per-minute rates cover runs that finished in the last `hours`."),
    Operation("POST", "/schedules", "createSchedule", "Create a schedule", "schedules",
              Role.EDITOR, create_schedule, body=S.ScheduleCreate, response=S.ScheduleCreated,
              status=201, errors=E_WRITE, idempotent=True, etag=True, location=True),
    Operation("GET", "/schedules/{schedule_id}", "getSchedule", "One schedule", "schedules",
              Role.VIEWER, get_schedule, response=S.ScheduleOut, errors=E_READ, etag=True),
    Operation("PATCH", "/schedules/{schedule_id}", "patchSchedule",
              "Change some fields of a schedule", "schedules", Role.EDITOR, patch_schedule,
              body=S.SchedulePatch, response=S.ScheduleOut, errors=(*E_WRITE, 412),
              if_match=True, etag=True),
    Operation("PUT", "/schedules/{schedule_id}", "replaceSchedule",
              "Replace a schedule's definition", "schedules", Role.EDITOR, replace_schedule,
              body=S.ScheduleReplace, response=S.ScheduleOut, errors=(*E_WRITE, 412),
              if_match=True, etag=True),
    Operation("DELETE", "/schedules/{schedule_id}", "deleteSchedule",
              "Delete a schedule (its runs stay)", "schedules", Role.EDITOR, delete_schedule,
              status=204, errors=(404, 409, 412), if_match=True),
    Operation("POST", "/schedules/{schedule_id}/pause", "pauseSchedule", "Pause a schedule",
              "schedules", Role.OPERATOR, pause_schedule, response=S.ScheduleOut,
              errors=(404, 409), etag=True),
    Operation("POST", "/schedules/{schedule_id}/resume", "resumeSchedule",
              "Resume a schedule from now", "schedules", Role.OPERATOR, resume_schedule,
              response=S.ScheduleOut, errors=(404, 409, 422), etag=True),
    Operation("POST", "/schedules/{schedule_id}/trigger", "triggerSchedule",
              "Queue one run of the schedule now", "schedules", Role.OPERATOR,
              trigger_schedule, body=S.TriggerArguments, body_optional=True,
              response=S.RunCreated, status=201, errors=(404, 409, 422),
              idempotent=True, location=True,
              description="Optionally with `args` and/or `kwargs` for this run only, "
                          "instead of the schedule's (checked against the task's schema)."),
    Operation("GET", "/schedules/{schedule_id}/preview", "previewSchedule",
              "The next fires and the trigger in words", "schedules", Role.VIEWER,
              preview_schedule, query=PreviewQuery, response=S.Preview, errors=(404, 422)),
    Operation("GET", "/schedules/{schedule_id}/explain", "explainSchedule",
              "Why it fired or not at an instant, or whether it will", "schedules",
              Role.VIEWER, explain_schedule, query=ExplainQuery, response=S.ExplainOut,
              errors=(404, 422),
              description="A verdict (fired, skipped, missed, paused, superseded, "
                          "scheduler_down, will_fire...) with the reason and details; "
                          "docs/semantics.md, \"Why didn't it fire?\"."),
    Operation("GET", "/runs", "listRuns", "List runs, newest first, with filters",
              "runs", Role.VIEWER, list_runs, query=RunQuery, response=S.RunPage,
              errors=(422,)),
    Operation("POST", "/runs", "createRun", "Queue an ad-hoc run, now or later", "runs",
              Role.OPERATOR, create_run, body=S.RunCreate, response=S.RunCreated, status=201,
              errors=E_WRITE, idempotent=True, location=True),
    Operation("GET", "/runs/{run_id:int}", "getRun", "One run", "runs", Role.VIEWER, get_run,
              response=S.RunOut, errors=E_READ),
    Operation("POST", "/runs/{run_id:int}/cancel", "cancelRun",
              "Cancel a waiting run, or ask a running one to stop", "runs", Role.OPERATOR,
              cancel_run, response=S.RunOut, errors=(404, 409)),
    Operation("POST", "/runs/{run_id:int}/retry", "retryRun",
              "Queue a new run like a finished one", "runs", Role.OPERATOR, retry_run,
              response=S.RunCreated, status=201, errors=(404, 409, 422), idempotent=True,
              location=True),
    Operation("GET", "/tasks", "listTasks", "The task catalogue with argument schemas",
              "tasks", Role.VIEWER, list_tasks, response=S.TaskList),
    Operation("GET", "/tasks/{name}", "getTask", "One task of the catalogue", "tasks",
              Role.VIEWER, get_task, response=S.TaskOut, errors=E_READ),
    Operation("GET", "/workers", "listWorkers", "Workers and their heartbeats", "workers",
              Role.VIEWER, list_workers, response=S.WorkerList),
    Operation("GET", "/audit", "listAudit", "Who changed what, newest first", "audit",
              Role.VIEWER, list_audit, query=AuditQuery, response=S.AuditPage, errors=(422,)),
    Operation("GET", "/tokens", "listTokens", "API tokens (never their secrets)", "tokens",
              Role.ADMIN, list_tokens, response=S.TokenList),
    Operation("POST", "/tokens", "createToken", "Create an API token (shown once)",
              "tokens", Role.ADMIN, create_token, body=S.TokenCreate,
              response=S.TokenCreated, status=201, errors=(400, 413, 415, 422),
              location=True),
    Operation("DELETE", "/tokens/{token_id}", "revokeToken", "Revoke an API token", "tokens",
              Role.ADMIN, revoke_token, response=S.TokenOut, errors=(404, 409)),
]
