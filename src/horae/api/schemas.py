"""The shapes on the wire, derived from the models the Python API uses.

Response models are built from the dataclasses in :mod:`horae.models` (and the API store's
records) field by field, with instants as ISO-8601 strings; the policies of requests are
built from :class:`horae.models.Policies`, so their constraints are the very annotations the
Python API validates with. Nothing here re-implements a rule: a request model checks the
JSON types the OpenAPI document promises, and :mod:`horae.schedules` / :mod:`horae.runs`
decide everything else (cron, zones, tasks, argument schemas, windows).
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import math
import warnings
from typing import Annotated, Any, Literal, Union, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, create_model

from horae.api.passwords import MAX_LENGTH, MIN_LENGTH, USER_NAME
from horae.instants import iso
from horae.models import LogLine, Policies, Run, RunState, Schedule, TaskInfo, WorkerInfo
from horae.schedules import _ID
from horae.store.api_store import AuditRecord, Event, TokenRecord
from horae.store.list_queries import LastRun, PageKey, RunStats, ScheduleBrief
from horae.store.user_store import UserRecord
from horae.triggers import trigger_from_dict
from horae.triggers.combine import MAX_MEMBERS

_STRICT = ConfigDict(extra="forbid", strict=True)
# Epoch seconds within the years 1970..9999, or an ISO-8601 date-time with an offset.
EpochSeconds = Annotated[float, Field(ge=0, le=253_402_300_799, allow_inf_nan=False)]
Instant = Union[EpochSeconds, Annotated[str, Field(max_length=64)]]  # noqa: UP007
_ISO = {"type": "string", "format": "date-time"}
IsoTime = Annotated[str, WithJsonSchema(_ISO)]
OptionalIsoTime = Annotated[str | None, WithJsonSchema({"anyOf": [_ISO, {"type": "null"}]})]

RUN_TIMES = ("fire_time", "not_before", "created_at", "started_at", "finished_at",
             "lease_expires_at")
SCHEDULE_TIMES = ("next_fire_at", "last_run_at", "created_at", "updated_at")
POLICY_TIMES = ("start_at", "end_at")


# -- building models from dataclasses ----------------------------------------------------


def wire_model(cls: type, name: str, *, times: tuple[str, ...] = (), drop: tuple[str, ...] = (),
               replace: dict[str, Any] | None = None,
               extra: dict[str, Any] | None = None) -> type[BaseModel]:
    """A response model with every field of dataclass ``cls`` (all present in a response),
    instants as ISO-8601 strings."""
    hints = get_type_hints(cls, include_extras=True)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in drop:
            continue
        kind = (replace or {}).get(f.name, hints[f.name])
        if f.name in times:
            nullable = type(None) in getattr(hints[f.name], "__args__", ())
            kind = OptionalIsoTime if nullable or f.name != "created_at" else IsoTime
        fields[f.name] = (kind, ...)
    for key, kind in (extra or {}).items():
        fields[key] = (kind, ...)
    return create_model(name, __doc__=cls.__doc__, **fields)


def _policies_input() -> type[BaseModel]:
    """Every policy optional (absent: the task's or the default value), same constraints."""
    hints = get_type_hints(Policies, include_extras=True)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(Policies):
        kind = Instant | None if f.name in POLICY_TIMES else hints[f.name]
        fields[f.name] = (kind, Field(default=None, json_schema_extra=_no_default))
    return create_model("PoliciesInput", __config__=_STRICT,
                        __doc__="Policies to set; the ones left out keep their value (or the "
                                "task's, on create). See docs/semantics.md.", **fields)


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


PoliciesOut = wire_model(Policies, "Policies", times=POLICY_TIMES)
PoliciesInput = _policies_input()


# -- triggers: the dict forms of horae.triggers -------------------------------------------


class CronTriggerSpec(BaseModel):
    """5 fields (6 with seconds first), names, L, W, #, @daily; read in ``tz``."""

    model_config = _STRICT
    kind: Literal["cron"]
    expr: Annotated[str, Field(min_length=1, max_length=500)]
    tz: Annotated[str, Field(min_length=1, max_length=100)] = "UTC"


class IntervalTriggerSpec(BaseModel):
    """Every ``seconds`` (elapsed time), from ``anchor`` (default: one period from now)."""

    model_config = _STRICT
    kind: Literal["interval"]
    seconds: Annotated[float, Field(gt=0, le=100 * 366 * 86_400, allow_inf_nan=False)]
    anchor: EpochSeconds | None = None


class DateTriggerSpec(BaseModel):
    """Once, at ``at`` (epoch seconds, or ISO-8601; without an offset it is a wall time in
    ``tz``). ``tz`` is kept and the time is shown in it."""

    model_config = _STRICT
    kind: Literal["date"]
    at: Instant
    tz: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class AnyTriggerSpec(BaseModel):
    """Fires whenever any of ``triggers`` fires."""

    model_config = _STRICT
    kind: Literal["any"]
    triggers: Annotated[list[TriggerSpec], Field(min_length=1, max_length=MAX_MEMBERS)]


TriggerSpec = Annotated[
    CronTriggerSpec | IntervalTriggerSpec | DateTriggerSpec | AnyTriggerSpec,
    Field(discriminator="kind"),
]
AnyTriggerSpec.model_rebuild()

# -- requests ----------------------------------------------------------------------------

ScheduleId = Annotated[str, Field(pattern=_ID.pattern, min_length=1, max_length=200)]
TaskName = Annotated[str, Field(min_length=1, max_length=200)]
Tags = Annotated[list[Annotated[str, Field(max_length=100)]], Field(max_length=50)]
Description = Annotated[str, Field(max_length=10_000)]


class ScheduleCreate(BaseModel):
    """A new schedule."""

    model_config = _STRICT
    id: ScheduleId
    task: TaskName
    trigger: TriggerSpec
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    paused: bool = False
    description: Description = ""
    tags: Tags = []
    policies: PoliciesInput = Field(default_factory=PoliciesInput)  # type: ignore[valid-type]


class ScheduleReplace(BaseModel):
    """A schedule's whole definition (PUT): what is left out gets its default again."""

    model_config = _STRICT
    task: TaskName
    trigger: TriggerSpec
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    paused: bool = False
    description: Description = ""
    tags: Tags = []
    policies: PoliciesInput = Field(default_factory=PoliciesInput)  # type: ignore[valid-type]


class SchedulePatch(BaseModel):
    """The fields to change (PATCH); the others keep their value."""

    model_config = _STRICT
    task: TaskName | None = Field(default=None, json_schema_extra=_no_default)
    trigger: TriggerSpec | None = Field(default=None, json_schema_extra=_no_default)
    args: list[Any] | None = Field(default=None, json_schema_extra=_no_default)
    kwargs: dict[str, Any] | None = Field(default=None, json_schema_extra=_no_default)
    paused: bool | None = Field(default=None, json_schema_extra=_no_default)
    description: Description | None = Field(default=None, json_schema_extra=_no_default)
    tags: Tags | None = Field(default=None, json_schema_extra=_no_default)
    policies: PoliciesInput | None = Field(  # type: ignore[valid-type]
        default=None, json_schema_extra=_no_default)


class RunCreate(BaseModel):
    """An ad-hoc run: now, at ``at``, or after ``delay`` seconds."""

    model_config = _STRICT
    task: TaskName
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    at: Instant | None = Field(default=None, json_schema_extra=_no_default)
    delay: Annotated[float, Field(ge=0, le=100 * 366 * 86_400, allow_inf_nan=False)] | None = \
        Field(default=None, json_schema_extra=_no_default)
    policies: PoliciesInput = Field(default_factory=PoliciesInput)  # type: ignore[valid-type]


class TriggerArguments(BaseModel):
    """Arguments for one run of a schedule, instead of the schedule's own (optional)."""

    model_config = _STRICT
    args: list[Any] | None = Field(default=None, json_schema_extra=_no_default)
    kwargs: dict[str, Any] | None = Field(default=None, json_schema_extra=_no_default)


RoleName = Literal["viewer", "operator", "editor", "admin"]


class TokenCreate(BaseModel):
    """A new API token."""

    model_config = _STRICT
    name: Annotated[str, Field(min_length=1, max_length=200)]
    role: RoleName


UserName = Annotated[str, Field(pattern=USER_NAME)]
Password = Annotated[str, Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)]


class UserCreate(BaseModel):
    """A new user account (for the console's sign-in)."""

    model_config = _STRICT
    name: UserName
    role: RoleName
    password: Password


class UserPatch(BaseModel):
    """The fields of a user to change: its role, or whether it is disabled."""

    model_config = _STRICT
    role: RoleName | None = Field(default=None, json_schema_extra=_no_default)
    disabled: bool | None = Field(default=None, json_schema_extra=_no_default)


class PasswordSet(BaseModel):
    """A user's new password (the user's other console sessions end)."""

    model_config = _STRICT
    password: Password


def given(model: BaseModel) -> dict[str, Any]:
    """The fields a request set, as plain Python values (nested models as dicts)."""
    return {k: getattr(model, k) for k in model.model_fields_set}


def policies_given(model: BaseModel | None) -> dict[str, Any]:
    if model is None:
        return {}
    return {k: (v.value if hasattr(v, "value") else v) for k, v in given(model).items()}


def trigger_dict(spec: BaseModel) -> dict[str, Any]:
    return spec.model_dump(exclude_none=True)


# -- responses ---------------------------------------------------------------------------

ScheduleOut = wire_model(Schedule, "Schedule", times=SCHEDULE_TIMES,
                         replace={"policies": PoliciesOut},
                         extra={"trigger_description": str})
RunOut = wire_model(Run, "Run", times=RUN_TIMES, extra={"duration": float | None})


class WarningOut(BaseModel):
    """Something to know about a change that was made (not an error)."""

    field: str
    reason: str


# What a create or trigger answers: the record, and warnings such as "no live worker serves
# queue 'x'" (horae.queue_warnings).
ScheduleCreated = create_model("ScheduleCreated", __base__=ScheduleOut,
                               warnings=(list[WarningOut], ...))
RunCreated = create_model("RunCreated", __base__=RunOut, warnings=(list[WarningOut], ...))
with warnings.catch_warnings():  # TaskInfo has a field named "schema", as BaseModel did
    warnings.simplefilter("ignore", UserWarning)
    TaskOut = wire_model(TaskInfo, "Task")
WorkerOut = wire_model(WorkerInfo, "Worker", times=("started_at", "heartbeat_at"))
LogLineOut = wire_model(LogLine, "LogLine", times=("ts",))
AuditOut = wire_model(AuditRecord, "AuditRecord", times=("ts",))
EventOut = wire_model(Event, "Event", times=("ts",))
TokenOut = wire_model(TokenRecord, "Token", drop=("hash",),
                      times=("created_at", "last_used_at", "revoked_at"))
USER_TIMES = ("created_at", "password_changed_at", "disabled_at")
UserOut = wire_model(UserRecord, "User", drop=("password_hash",), times=USER_TIMES,
                     extra={"disabled": bool})
TokenCreated = wire_model(TokenRecord, "TokenCreated", drop=("hash",),
                          times=("created_at", "last_used_at", "revoked_at"),
                          extra={"token": str})


def page_model(item: type[BaseModel], name: str) -> type[BaseModel]:
    return create_model(name, items=(list[item], ...),  # type: ignore[valid-type]
                        next_cursor=(str | None, ...))


ScheduleListItem = wire_model(Schedule, "ScheduleListItem", times=SCHEDULE_TIMES,
                              replace={"policies": PoliciesOut},
                              extra={"trigger_description": str, "last_run_id": int | None,
                                     "last_duration": float | None})
ScheduleListItem.__doc__ = (
    "A schedule in a list: the schedule, plus the run behind last_state/last_run_at "
    "(last_run_id) and how long it ran in seconds (last_duration; null when it never "
    "started).")
SchedulePage = page_model(ScheduleListItem, "SchedulePage")
RunPage = page_model(RunOut, "RunPage")
AuditPage = page_model(AuditOut, "AuditPage")
LogPage = create_model("LogPage", items=(list[LogLineOut], ...),  # type: ignore[valid-type]
                       next_after=(int, ...), run_state=(RunState, ...))
EventPage = create_model("EventPage", items=(list[EventOut], ...),  # type: ignore[valid-type]
                         last_id=(int, ...))
TaskList = create_model("TaskList", items=(list[TaskOut], ...))  # type: ignore[valid-type]
WorkerList = create_model("WorkerList", items=(list[WorkerOut], ...))  # type: ignore[valid-type]
TokenList = create_model("TokenList", items=(list[TokenOut], ...))  # type: ignore[valid-type]
UserList = create_model("UserList", items=(list[UserOut], ...))  # type: ignore[valid-type]


ScheduleBriefOut = wire_model(ScheduleBrief, "ScheduleBrief",
                              times=("next_fire_at", "last_run_at"),
                              drop=("trigger",), extra={"trigger_description": str})


class RunRates(BaseModel):
    """Finished runs per minute, oldest minute first: ``succeeded[i]`` and ``failed[i]``
    (failed, timed_out or lost) count the runs that finished in the minute starting at
    ``start`` + i × ``step`` seconds."""

    start: Annotated[str, WithJsonSchema(_ISO)]
    step: int
    succeeded: list[int]
    failed: list[int]


class StatsOut(BaseModel):
    """What a dashboard shows, read at ``now``."""

    now: Annotated[str, WithJsonSchema(_ISO)]
    since: Annotated[str, WithJsonSchema(_ISO)]
    hours: int
    active: dict[str, int]
    finished: dict[str, int]
    per_minute: RunRates
    schedules: int
    paused: int
    failing: int
    next_fires: list[ScheduleBriefOut]  # type: ignore[valid-type]
    failing_schedules: list[ScheduleBriefOut]  # type: ignore[valid-type]


class FireTime(BaseModel):
    utc: Annotated[str, WithJsonSchema(_ISO)]
    local: str


class Preview(BaseModel):
    """The next fires of a schedule, and its trigger in words."""

    id: str
    description: str
    zone: str
    fires: list[FireTime]


class ExplanationOut(BaseModel):
    """Why a schedule fired or not at one instant (horae.explain): ``verdict`` is stable,
    ``reason`` in the request's language, ``code``/``params`` its reason code."""

    label: Literal["at", "last", "next"]
    instant: Annotated[str, WithJsonSchema(_ISO)]
    verdict: Literal["fired", "skipped", "missed", "expired", "paused", "not_a_fire_time",
                     "before_start", "after_end", "max_fires_reached", "superseded",
                     "scheduler_down", "not_created", "due", "no_record", "will_fire",
                     "will_not_fire"]
    reason: str
    code: str
    params: dict[str, str]
    run_id: int | None = None
    details: dict[str, Any]


class ExplainOut(BaseModel):
    """The instant asked about, or without one the last fire and the next."""

    schedule_id: str
    now: Annotated[str, WithJsonSchema(_ISO)]
    explanations: list[ExplanationOut]


class HealthCheck(BaseModel):
    status: Literal["ok", "absent", "failing", "stalled", "stopped"]
    detail: str | None = None
    age: float | None = Field(default=None, description="seconds since the loop last went round")
    took: float | None = Field(default=None, description="seconds the database write took")


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    database: str
    version: str
    checks: dict[str, HealthCheck] = Field(
        description="database (a write commits), scheduler and worker (their loops in this "
                    "process went round lately and did not fail)")


class Liveness(BaseModel):
    status: Literal["ok"]
    version: str


class FieldError(BaseModel):
    field: str
    reason: str
    code: str | None = Field(default=None, description="a stable name of the reason "
                             "(horae.reasons), present when the reason is a known one")
    params: dict[str, str] | None = Field(default=None, description="the values that fill "
                                          "in the reason's template, with code")


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None
    code: str | None = None
    params: dict[str, str] | None = None


# -- records to wire dicts ------------------------------------------------------------------


def _times(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    for key in keys:
        data[key] = iso(data[key])
    return data


def describe(trigger: dict[str, Any], locale: str = "en") -> str:
    return _describe(json.dumps(trigger, sort_keys=True), locale)


@functools.lru_cache(maxsize=4096)
def _describe(trigger_json: str, locale: str) -> str:
    """Descriptions are pure and cost a parse each: lists repeat them."""
    trigger = json.loads(trigger_json)
    try:
        return trigger_from_dict(trigger).describe(locale)
    except Exception:  # a stored trigger this version cannot read: show its kind
        return str(trigger.get("kind", "trigger"))


def schedule_wire(s: Schedule, locale: str = "en") -> dict[str, Any]:
    """The wire form; ``trigger_description`` in ``locale`` (audit records keep "en")."""
    data = _times(s.to_dict(), SCHEDULE_TIMES)
    _times(data["policies"], POLICY_TIMES)
    data["trigger_description"] = describe(s.trigger, locale)
    return data


def run_wire(r: Run) -> dict[str, Any]:
    return _times(r.to_dict(), RUN_TIMES)


def task_wire(t: TaskInfo) -> dict[str, Any]:
    return dataclasses.asdict(t)


def worker_wire(w: WorkerInfo) -> dict[str, Any]:
    return _times(dataclasses.asdict(w), ("started_at", "heartbeat_at"))


def log_wire(line: LogLine) -> dict[str, Any]:
    return _times(dataclasses.asdict(line), ("ts",))


def audit_wire(a: AuditRecord) -> dict[str, Any]:
    return _times(dataclasses.asdict(a), ("ts",))


def event_wire(e: Event) -> dict[str, Any]:
    return _times(dataclasses.asdict(e), ("ts",))


def token_wire(t: TokenRecord) -> dict[str, Any]:
    data = dataclasses.asdict(t)
    del data["hash"]
    return _times(data, ("created_at", "last_used_at", "revoked_at"))


def user_wire(u: UserRecord) -> dict[str, Any]:
    """A user without its password hash."""
    data = dataclasses.asdict(u)
    del data["password_hash"]
    data["disabled"] = u.disabled_at is not None
    return _times(data, USER_TIMES)


def schedule_list_wire(s: Schedule, last: LastRun | None, locale: str = "en") -> dict[str, Any]:
    data = schedule_wire(s, locale)
    data["last_run_id"] = None if last is None else last.id
    data["last_duration"] = None if last is None else last.duration
    return data


def key_cursor(key: PageKey) -> str:
    """The opaque cursor of order=next_fire: the page key as URL-safe base64 JSON."""
    raw = json.dumps(list(key), separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def parse_key_cursor(cursor: str) -> PageKey | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        phase, t, sid = json.loads(raw, parse_constant=lambda c: None)
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
    if (not isinstance(phase, int) or isinstance(phase, bool) or phase not in (0, 1, 2)
            or not isinstance(sid, str) or not sid or "\x00" in sid):
        return None
    if phase == 0:
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
            return None
        return (0, float(t), sid)
    return (phase, None, sid) if t is None else None


def _brief_wire(b: ScheduleBrief, locale: str) -> dict[str, Any]:
    data = _times(dataclasses.asdict(b), ("next_fire_at", "last_run_at"))
    data["trigger_description"] = describe(data.pop("trigger"), locale)
    return data


def stats_wire(st: RunStats, locale: str = "en") -> dict[str, Any]:
    hours = round((st.now - st.since) / 3600)
    first, last = int(st.since // 60), int(st.now // 60)
    bad = ("failed", "timed_out", "lost")
    minutes = range(first, last + 1)
    return {
        "now": iso(st.now), "since": iso(st.since), "hours": hours,
        "active": {s: st.active.get(s, 0) for s in ("scheduled", "queued", "retrying",
                                                     "running")},
        "finished": {s.value: st.finished.get(s.value, 0) for s in RunState
                     if s.value not in ("scheduled", "queued", "retrying", "running")},
        "per_minute": {
            "start": iso(first * 60.0), "step": 60,
            "succeeded": [st.per_minute.get(m, {}).get("succeeded", 0) for m in minutes],
            "failed": [sum(st.per_minute.get(m, {}).get(b, 0) for b in bad) for m in minutes],
        },
        "schedules": st.schedules, "paused": st.paused, "failing": st.failing,
        "next_fires": [_brief_wire(b, locale) for b in st.next_fires],
        "failing_schedules": [_brief_wire(b, locale) for b in st.failing_schedules],
    }
