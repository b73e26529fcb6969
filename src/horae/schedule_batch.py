"""Many schedule changes in one call: ``app.schedules.batch`` and ``add_many``.

Every item is validated first, by the rules of the single calls (``add``, ``update``,
``remove``), against one read of the schedules it names; then the writes go to the
database in one transaction of a few statements (see :mod:`horae.store.schedule_batch`)
with one change notice. Atomic: nothing is written when any item fails. Otherwise each
item succeeds or fails on its own, and its :class:`BatchResult` says which and why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from horae.errors import Conflict, InvalidInput
from horae.models import Policies, Schedule
from horae.schedules import POLICY_NAMES, Inputs, coerce_trigger, validate_policies
from horae.store.schedule_batch import ScheduleWrite, WriteOutcome
from horae.tasks import Task

if TYPE_CHECKING:
    from horae.schedules import ScheduleManager

OPS = ("add", "update", "upsert", "remove")
_DEFINITION = ("task", "trigger", "args", "kwargs", "paused", "description", "tags")
_ATTEMPTS = 10  # rounds against concurrent edits of items without expected_version


@dataclass
class BatchResult:
    """What became of one item. ``status``: created, updated, unchanged, removed, or
    failed; a failure has ``error`` (invalid, not_found, conflict), and ``field`` and
    ``reason``. ``schedule`` is the schedule after the change (what it would be, in a
    dry run), or as it stands when unchanged."""

    index: int
    op: str
    id: str | None
    status: str
    schedule: Schedule | None = None
    error: str | None = None
    field: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"


class InvalidBatch(InvalidInput):
    """Items of an atomic batch are invalid: ``field`` names the first (``items[3].trigger``),
    ``errors`` lists every ``(field, reason)``. Nothing was written."""

    def __init__(self, name: str, items: list[tuple[int, str, str]]) -> None:
        self.items = items  # (index, field within the item, reason)
        self.errors = [(f"{name}[{i}].{field}", reason) for i, field, reason in items]
        super().__init__(*self.errors[0])


@dataclass
class _Planned:
    write: ScheduleWrite | None  # None: nothing to write (unchanged, or a dry run's answer)
    result: BatchResult
    auto_guard: bool = False  # guarded by the version we read, not one the caller gave


def run_batch(manager: ScheduleManager, operations: Sequence[Any], *, atomic: bool,
              dry_run: bool = False, name: str = "operations",
              only: str | None = None) -> list[BatchResult]:
    """See :meth:`horae.schedules.ScheduleManager.batch`. ``only``: every item is this op
    (``add_many``), and carries no ``op`` key."""
    if isinstance(operations, str | bytes | Mapping) or not isinstance(operations, Sequence):
        raise InvalidInput(name, "must be a list")
    results: dict[int, BatchResult] = {}
    pending = list(range(len(operations)))
    for _ in range(_ATTEMPTS):
        planned = _plan(manager, operations, pending, only)
        failed = [p.result for p in planned.values() if not p.result.ok]
        if atomic and failed:
            _raise(failed, name)
        writes = {i: p.write for i, p in planned.items() if p.write is not None}
        if dry_run or not writes:
            results |= {i: p.result for i, p in planned.items()}
            return [results[i] for i in range(len(operations))]
        order = sorted(writes)
        outcomes = manager._app.store.schedules_write([writes[i] for i in order], atomic=atomic)
        stale = _record(planned, order, outcomes)
        if atomic:
            hard = [planned[i].result for i in order if not planned[i].result.ok]
            if hard:
                _raise(hard, name)
            if stale:
                continue  # all of it rolled back: plan it all again
        results |= {i: p.result for i, p in planned.items() if i not in stale}
        if not stale:
            return [results[i] for i in range(len(operations))]
        pending = stale
    for i in pending:
        results[i] = _fail(i, operations[i], "conflict", "id",
                           "was changed by someone else at every attempt; try again")
    if atomic:
        _raise([results[i] for i in pending], name)
    return [results[i] for i in range(len(operations))]


def _record(planned: dict[int, _Planned], order: list[int],
            outcomes: list[WriteOutcome]) -> list[int]:
    """Put the write outcomes into the results; the items to plan again (stale)."""
    stale = []
    for i, outcome in zip(order, outcomes, strict=True):
        p = planned[i]
        if outcome.ok:
            p.result.schedule = outcome.schedule
        elif outcome.problem == "stale" and p.auto_guard:
            stale.append(i)  # edited meanwhile: validate against the new version
        else:
            _failed_write(p.result, outcome)
    return stale


def _raise(failed: list[BatchResult], name: str) -> None:
    invalid = [r for r in failed if r.error == "invalid"]
    if invalid:
        raise InvalidBatch(name, [(r.index, r.field or "item", r.reason or "")
                                  for r in invalid])
    first = failed[0]
    raise Conflict(f"{name}[{first.index}]: schedule {first.id!r} {first.reason}; nothing "
                   "was written")


def _failed_write(result: BatchResult, outcome: WriteOutcome) -> None:
    result.status, result.field, result.schedule = "failed", "id", None
    if outcome.problem == "exists":
        result.error, result.reason = "conflict", "already exists"
    elif outcome.problem == "missing":
        result.error, result.reason = "not_found", "does not exist"
    else:
        result.error = "conflict"
        result.reason = f"is at version {outcome.version}, not the expected one"


def _fail(index: int, item: Any, error: str, field: str, reason: str) -> BatchResult:
    op = item.get("op") if isinstance(item, Mapping) else None
    sid = item.get("id") if isinstance(item, Mapping) else None
    return BatchResult(index, op if isinstance(op, str) else "?",
                       sid if isinstance(sid, str) else None, "failed", error=error,
                       field=field, reason=reason)


def _plan(manager: ScheduleManager, operations: Sequence[Any], indexes: list[int],
          only: str | None) -> dict[int, _Planned]:
    out: dict[int, _Planned] = {}
    items: dict[int, tuple[str, str, dict[str, Any]]] = {}
    seen: dict[str, int] = {}
    for i in indexes:
        item = operations[i]
        try:
            op, sid, fields = _parse(item, only)
            if sid in seen:
                raise InvalidInput("id", f"appears more than once in this batch (also item "
                                         f"{seen[sid]})")
            seen[sid] = i
            items[i] = (op, sid, fields)
        except InvalidInput as exc:
            out[i] = _Planned(None, _fail(i, item, "invalid", exc.field, exc.reason))
    current = manager._app.store.schedules_get_many(sorted(seen))
    inputs = Inputs(manager._app)
    for i, (op, sid, fields) in items.items():
        try:
            out[i] = _plan_one(manager, inputs, i, op, sid, fields, current.get(sid))
        except InvalidInput as exc:
            out[i] = _Planned(None, BatchResult(i, op, sid, "failed", error="invalid",
                                                field=exc.field, reason=exc.reason))
    return out


def _parse(item: Any, only: str | None) -> tuple[str, str, dict[str, Any]]:
    if not isinstance(item, Mapping):
        raise InvalidInput("item", f"must be an object, not {type(item).__name__}")
    fields = dict(item)
    if only is not None:
        if "op" in fields:
            raise InvalidInput("op", f"not an argument of {only}()")
        op: Any = only
    else:
        op = fields.pop("op", None)
        if op not in OPS:
            raise InvalidInput("op", f"must be one of {', '.join(OPS)}")
    sid = fields.pop("id", None)
    if not isinstance(sid, str) or not sid:
        raise InvalidInput("id", "required: the schedule's id, a non-empty string")
    return op, sid, fields


def _expected(fields: dict[str, Any]) -> int | None:
    value = fields.pop("expected_version", None)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidInput("expected_version", "must be a whole number")
    return value


def _check_fields(op: str, fields: dict[str, Any]) -> int | None:
    """Refuse fields the op cannot take; take out and return expected_version."""
    expected = None if op == "add" else _expected(fields)
    if op == "remove" and fields:
        raise InvalidInput(sorted(fields)[0], "remove takes only id and expected_version")
    if op in ("add", "upsert"):
        for key in ("task", "trigger"):
            if key not in fields:
                raise InvalidInput(key, f"required to {op} a schedule")
    return expected


def _plan_one(manager: ScheduleManager, inputs: Inputs, i: int, op: str, sid: str,
              fields: dict[str, Any], current: Schedule | None) -> _Planned:
    def failed(error: str, field: str, reason: str) -> _Planned:
        return _Planned(None, BatchResult(i, op, sid, "failed", error=error, field=field,
                                          reason=reason))

    expected = _check_fields(op, fields)
    if current is None:
        if op in ("update", "remove"):
            return failed("not_found", "id", "does not exist")
        if expected is not None:
            return failed("conflict", "expected_version", "the schedule does not exist")
        s = manager.new_schedule(inputs, sid, **fields)
        return _Planned(ScheduleWrite("insert", sid, s), BatchResult(i, op, sid, "created", s))
    if op == "add":
        return failed("conflict", "id", "already exists")
    if expected is not None and expected != current.version:
        return failed("conflict", "expected_version",
                      f"the schedule is at version {current.version}, not {expected}")
    guard = current.version if expected is None else expected
    if op == "remove":
        return _Planned(ScheduleWrite("delete", sid, guard=guard, before=current),
                        BatchResult(i, op, sid, "removed"), expected is None)
    changes = fields if op == "update" else differences(inputs, current, fields)
    if not changes:
        return _Planned(None, BatchResult(i, op, sid, "unchanged", current))
    s, retime = manager.changed_schedule(inputs, current, changes)
    return _Planned(ScheduleWrite("replace", sid, s, guard, retime, current),
                    BatchResult(i, op, sid, "updated", s), expected is None)


def differences(inputs: Inputs, current: Schedule, fields: dict[str, Any]) -> dict[str, Any]:
    """The changes that turn ``current`` into the whole definition ``fields`` (upsert): what
    ``fields`` leaves out returns to its default, as a replacement does."""
    unknown = set(fields) - set(_DEFINITION) - set(POLICY_NAMES)
    if unknown:
        raise InvalidInput(sorted(unknown)[0], "not a field of a schedule")
    task = fields["task"].name if isinstance(fields["task"], Task) else fields["task"]
    info = inputs.task_info(task)
    wanted: dict[str, Any] = {
        "task": task, "args": list(fields.get("args", ())),
        "kwargs": dict(fields.get("kwargs") or {}), "paused": bool(fields.get("paused", False)),
        "description": str(fields.get("description", "")),
        "tags": [str(t) for t in fields.get("tags", ())],
    }
    changes = {k: v for k, v in wanted.items() if getattr(current, k) != v}
    for key in ("args", "kwargs", "tags"):
        if key in changes:
            changes[key] = fields[key]  # the caller's value: validation sees its real type
    trigger = fields["trigger"]
    if not _same_trigger(inputs, current.trigger, trigger):
        changes["trigger"] = trigger
    policies = dataclasses.asdict(Policies()) | {
        "queue": info.queue, "retries": info.retries, "timeout": info.timeout,
    } | {k: v for k, v in fields.items() if k in POLICY_NAMES}
    if validate_policies(policies) != current.policies:
        changes |= policies
    return changes


def _same_trigger(inputs: Inputs, stored: dict[str, Any], given: Any) -> bool:
    """Whether ``given`` is the stored trigger. An interval given without an anchor keeps
    the stored one's phase: applying the same file twice changes nothing."""
    if isinstance(given, Mapping) and given.get("kind") == "interval" \
            and given.get("anchor") is None and stored.get("kind") == "interval":
        return bool(given.get("seconds") == stored.get("seconds"))
    if given == "now":
        return False
    trigger = coerce_trigger(given, inputs.now())
    return bool(trigger.to_dict() == stored)
