"""``POST /api/v1/schedules:batch``: many schedule changes in one request and transaction.

Each operation's JSON shape is checked here, against the document: any shape error refuses
the request (422 naming every ``operations[i].field``). Everything else is decided by
``app.schedules.batch``: a request that is not atomic answers per operation; an atomic one
answers 422 or 409 and writes nothing.
Every schedule changed gets its own audit record, in the batch's transaction.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic import ValidationError as PydanticError
from pydantic_core import core_schema

from horae.api import schemas as S
from horae.api.auth import Role
from horae.api.framework import Call, Operation, Reply
from horae.api.problems import ApiError, api_field, from_validation_error
from horae.errors import Conflict
from horae.schedule_batch import BatchResult, InvalidBatch
from horae.store import on_change
from horae.store.connection import Tx
from horae.store.schedule_batch import SchedulesChanged

MAX_OPERATIONS = 10_000
MAX_BODY = 32 << 20  # bytes: 10,000 operations of a few kB each
_STRICT = ConfigDict(extra="forbid", strict=True)


def _unset() -> Any:
    """An optional field whose schema shows no default (absent: not changed)."""
    return Field(default=None, json_schema_extra=S._no_default)


class BatchOperation(BaseModel):
    """One change: ``add`` and ``upsert`` take a whole schedule (task and trigger
    required; an upsert replaces an existing definition, what it leaves out returning to
    its default), ``update`` the fields to change, ``remove`` only the id.
    ``expected_version`` (update, upsert, remove): only at that version."""

    model_config = _STRICT
    op: Literal["add", "update", "upsert", "remove"]
    id: S.ScheduleId
    expected_version: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = _unset()
    task: S.TaskName | None = _unset()
    trigger: S.TriggerSpec | None = _unset()
    args: list[Any] | None = _unset()
    kwargs: dict[str, Any] | None = _unset()
    paused: bool | None = _unset()
    description: S.Description | None = _unset()
    tags: S.Tags | None = _unset()
    policies: S.PoliciesInput | None = _unset()  # type: ignore[valid-type]


class _EachOnItsOwn:
    """An operation as the body parser takes it: any JSON object, checked afterwards one by
    one (so every bad one is named ``operations[i].field``); documented as a
    :class:`BatchOperation`."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any,
                                     handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.dict_schema(core_schema.str_schema(), core_schema.any_schema())

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return handler(BatchOperation.__pydantic_core_schema__)


class ScheduleBatch(BaseModel):
    """Operations on schedules, in one transaction."""

    model_config = _STRICT
    operations: Annotated[list[_EachOnItsOwn], Field(max_length=MAX_OPERATIONS)]
    atomic: bool = Field(default=False, description="all or nothing (422 or 409 when any "
                                                    "operation fails)")
    dry_run: bool = Field(default=False, description="validate and answer what would "
                                                     "change; write nothing")


class BatchError(BaseModel):
    kind: Literal["invalid", "not_found", "conflict"]
    field: str
    reason: str


class BatchItemOut(BaseModel):
    """What became of one operation; ``schedule`` is the schedule after it (none after a
    remove or a failure)."""

    index: int
    op: str
    id: str | None
    ok: bool
    status: Literal["created", "updated", "unchanged", "removed", "failed"]
    schedule: S.ScheduleOut | None  # type: ignore[valid-type]
    error: BatchError | None


class BatchSummary(BaseModel):
    created: int
    updated: int
    unchanged: int
    removed: int
    failed: int


class ScheduleBatchOut(BaseModel):
    """Per operation, in order, and the counts."""

    atomic: bool
    dry_run: bool
    results: list[BatchItemOut]
    summary: BatchSummary


def _field(index: int, field: str | None) -> str:
    return f"operations[{index}]" + (f".{api_field(field)}" if field else "")


def _parse(index: int, item: Any) -> dict[str, Any]:
    """The operation as ``app.schedules.batch`` takes it, or ApiError naming its field."""
    try:
        b = BatchOperation.model_validate_json(json.dumps(item), strict=True)
    except PydanticError as exc:
        raise from_validation_error(exc, prefix=f"operations[{index}]") from None
    out = {k: v for k, v in S.given(b).items() if k != "policies"}
    if b.trigger is not None:
        out["trigger"] = S.trigger_dict(b.trigger)
    return out | S.policies_given(b.policies)


def batch_schedules(c: Call) -> Reply:
    body: ScheduleBatch = c.body
    ops: list[dict[str, Any]] = []
    problems: list[dict[str, str]] = []
    for i, raw in enumerate(body.operations):
        try:
            ops.append(_parse(i, raw))
        except ApiError as exc:
            problems.extend(exc.errors or [])
    if problems:  # the request does not match its document: refuse it, atomic or not
        raise _invalid(problems)
    wires: dict[str, Any] = {}  # each changed schedule on the wire, built once
    try:
        with on_change(schedule_auditor(c, wires)):
            results = c.api.horae.schedules.batch(ops, atomic=body.atomic,
                                                  dry_run=body.dry_run)
    except InvalidBatch as exc:
        raise _invalid([{"field": _field(i, field), "reason": reason}
                        for i, field, reason in exc.items]) from None
    except Conflict as exc:
        raise ApiError(409, str(exc), slug="conflict") from None
    items = [_item(i, result, wires) for i, result in enumerate(results)]
    summary = dict.fromkeys(("created", "updated", "unchanged", "removed", "failed"), 0)
    for item in items:
        summary[item["status"]] += 1
    return c.remember_after(Reply({"atomic": body.atomic, "dry_run": body.dry_run,
                                   "results": items, "summary": summary}))


def _invalid(problems: list[dict[str, str]]) -> ApiError:
    first = problems[0]
    return ApiError(422, f"{first['field']}: {first['reason']} (nothing was written)",
                    errors=problems, slug="invalid-input")


def _item(index: int, r: BatchResult, wires: dict[str, Any]) -> dict[str, Any]:
    error = None if r.ok else {"kind": r.error, "field": _field(index, r.field),
                               "reason": r.reason}
    wire = None
    if r.ok and r.schedule is not None:
        wire = wires.get(r.id or "") or S.schedule_wire(r.schedule)
    return {"index": index, "op": r.op, "id": r.id, "ok": r.ok, "status": r.status,
            "schedule": wire, "error": error}


def schedule_auditor(c: Call, wires: dict[str, Any]) -> Any:
    """One audit record per schedule the batch changes, in the batch's transaction."""
    principal = c.principal
    assert principal is not None
    actions = {"insert": "schedule.create", "replace": "schedule.update",
               "delete": "schedule.delete"}

    def write(tx: Tx, result: Any) -> None:
        if not isinstance(result, SchedulesChanged):
            return
        for _, after in result.changes:
            if after is not None:
                wires[after.id] = S.schedule_wire(after)
        c.api.store.audit_many(tx, actor=principal.actor, role=principal.role.label,
                               target_kind="schedule", records=[
            (actions[w.kind], w.id, None if w.before is None else S.schedule_wire(w.before),
             None if after is None else wires[after.id])
            for w, after in result.changes])
        c.audits += len(result.changes)

    return write


BATCH_OPERATIONS = [
    Operation("POST", "/schedules:batch", "batchSchedules",
              "Add, update, upsert and remove many schedules in one transaction",
              "schedules", Role.EDITOR, batch_schedules, body=ScheduleBatch,
              response=ScheduleBatchOut, errors=(400, 409, 413, 415, 422), idempotent=True,
              max_body=MAX_BODY,
              description=f"At most {MAX_OPERATIONS} operations. An operation that does not "
                          "match this document: 422 naming each operations[i].field, nothing "
                          "written. Not atomic (the default): 200 with the outcome of each "
                          "operation. Atomic: 422 naming every invalid operations[i].field, "
                          "or 409, and nothing written."),
]
