"""Schedules declared in code: ``app.schedules.ensure(...)`` and ``@app.periodic(...)``.

A declaration is idempotent. The stored schedule keeps a fingerprint (a hash) of the
definition the code last wrote, and a declaration compares its own fingerprint with it:

- absent: the schedule is created (marked ``declared``);
- same fingerprint: nothing is written, so a restart neither moves ``next_fire_at`` nor
  undoes what an operator changed since (a pause, an edit in the console);
- another fingerprint (the code changed): the code's definition replaces the stored one,
  as an upsert does (what the code leaves out returns to its default), but ``paused``
  stays as it is: pausing is an operator's decision, not part of the definition.
  ``next_fire_at`` is computed again only when the trigger or the start/end window changed.

So code wins only when the code changes (docs/semantics.md, "Schedules declared in code").
Many processes starting at once with the same code write one schedule: creation is an
``INSERT ... ON CONFLICT DO NOTHING`` and an update is conditional on the version read;
the loser of either race reads again and finds the fingerprint it would have written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from horae.errors import Conflict, InvalidInput, NotFound
from horae.models import Schedule
from horae.schedules import POLICY_NAMES, Inputs, validate_policies
from horae.tasks import Task, validate_arguments
from horae.triggers import Trigger, trigger_from_dict

if TYPE_CHECKING:
    from horae.schedules import ScheduleManager

_ATTEMPTS = 10  # rounds against concurrent writers (other starts, operators' edits)
_OPTIONS = {"args", "kwargs", "paused", "description", "tags", *POLICY_NAMES}


def declared_trigger(trigger: Any) -> dict[str, Any]:
    """The trigger's dict form as the code gives it (an interval keeps no anchor, so the
    same code gives the same form at every start)."""
    if isinstance(trigger, Trigger):
        return trigger.to_dict()
    if isinstance(trigger, Mapping):
        return trigger_from_dict(trigger).to_dict()
    raise InvalidInput("trigger", "a schedule declared in code needs a trigger object (cron, "
                                  "interval, at, ...) or its dict form")


def fingerprint(s: Schedule, trigger: Mapping[str, Any]) -> str:
    """A hash of everything a declaration defines except ``paused`` (runtime state)."""
    definition = {
        "task": s.task, "trigger": dict(trigger), "args": s.args, "kwargs": s.kwargs,
        "description": s.description, "tags": s.tags,
        "policies": {k: getattr(v, "value", v) for k, v in
                     dataclasses.asdict(s.policies).items()},
    }
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)
    return "v1:" + hashlib.sha256(text.encode()).hexdigest()


def ensure(manager: ScheduleManager, id: str, task: str | Task, trigger: Any, *,
           args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None,
           paused: bool = False, description: str = "", tags: Sequence[str] = (),
           **policies: Any) -> Schedule:
    """See :meth:`horae.schedules.ScheduleManager.ensure`."""
    from horae.schedule_batch import differences

    app = manager.app
    form = declared_trigger(trigger)
    for _ in range(_ATTEMPTS):
        inputs = Inputs(app)
        # Validates everything (InvalidInput names the field) before anything is read; not
        # whether it fires again: a declared one-off that fired is still the same code.
        definition = {"args": args, "kwargs": kwargs, "paused": paused,
                      "description": description, "tags": tags, **policies}
        wanted = manager.new_schedule(inputs, id, task, form, fresh=False, **definition)
        mark = fingerprint(wanted, form)
        try:
            current = app.store.schedule_get(id)
        except NotFound:
            new = manager.new_schedule(inputs, id, task, form, **definition)
            try:
                return app.store.schedule_add(dataclasses.replace(
                    new, declared=True, declared_fingerprint=mark))
            except Conflict:
                continue  # another process created it meanwhile: compare with theirs
        if current.declared and current.declared_fingerprint == mark:
            return current  # the code did not change: write nothing
        changes = differences(inputs, current, {
            "task": wanted.task, "trigger": form, "args": wanted.args,
            "kwargs": wanted.kwargs, "description": wanted.description,
            "tags": wanted.tags, **dataclasses.asdict(wanted.policies)})
        changes.pop("paused", None)  # an operator's pause survives a change of the code
        updated, retime = (manager.changed_schedule(inputs, current, changes) if changes
                           else (current, False))
        try:
            return app.store.schedule_replace(
                dataclasses.replace(updated, declared=True, declared_fingerprint=mark),
                expected_version=current.version, retime=retime, declare=True)
        except (Conflict, NotFound):
            continue  # changed or removed meanwhile: decide again on what is stored now
    raise Conflict(f"schedule {id!r} kept changing while it was being declared; try again")


@dataclass(frozen=True)
class Declaration:
    """One ``@app.periodic`` declaration, synced when the app starts."""

    id: str
    task: str
    trigger: Any
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class SyncResult:
    """What :meth:`ScheduleManager.sync` did: schedule ids created, updated, unchanged,
    removed (``prune=True`` only)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


class Declarations:
    """The ``@app.periodic`` declarations of this process, in order of declaration."""

    def __init__(self) -> None:
        self._items: dict[str, Declaration] = {}

    def add(self, task: Task, id: str, trigger: Any, options: Mapping[str, Any]) -> None:
        """Check what can be checked without a database, where the code is: the id is
        new, the options are known, the trigger and policies are valid, the arguments fit
        the task."""
        if id in self._items:
            raise InvalidInput("id", f"schedule {id!r} is declared twice")
        unknown = set(options) - _OPTIONS
        if unknown:
            raise InvalidInput(sorted(unknown)[0], "not an option of a schedule")
        declared_trigger(trigger)
        validate_policies({k: v for k, v in options.items() if k in POLICY_NAMES})
        args, kwargs = options.get("args", ()), options.get("kwargs") or {}
        if not isinstance(args, list | tuple) or not isinstance(kwargs, Mapping):
            raise InvalidInput("args" if not isinstance(args, list | tuple) else "kwargs",
                               "must be a list (args) or an object (kwargs)")
        validate_arguments(task.name, task.info().schema, list(args), dict(kwargs))
        self._items[id] = Declaration(id, task.name, trigger, dict(options))

    def __iter__(self) -> Any:
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)


def sync(manager: ScheduleManager, declarations: Declarations, *,
         prune: bool = False) -> SyncResult:
    """Ensure every declaration; with ``prune``, remove the schedules declared in code
    that no declaration names any more (never by default: a process started with older
    or partial code must not delete what others declared)."""
    result = SyncResult()
    for d in declarations:
        before = _stored(manager, d.id)
        after = ensure(manager, d.id, d.task, d.trigger, **d.options)
        if before is None:
            result.created.append(d.id)
        elif before.version == after.version:
            result.unchanged.append(d.id)
        else:
            result.updated.append(d.id)
    if prune:
        names = {d.id for d in declarations}
        for sid in manager.app.store.schedules_declared_ids():
            if sid not in names:
                try:
                    manager.remove(sid)
                except NotFound:
                    continue  # another process pruned it first
                result.removed.append(sid)
    return result


def _stored(manager: ScheduleManager, id: str) -> Schedule | None:
    try:
        return manager.get(id)
    except NotFound:
        return None


__all__ = ["Declaration", "Declarations", "SyncResult", "ensure", "fingerprint", "sync"]
