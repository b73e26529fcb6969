"""Creating and changing schedules at runtime, with validation before any write."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, overload

from pydantic import TypeAdapter, ValidationError

from horae.errors import Conflict, InvalidInput
from horae.instants import iso, to_epoch
from horae.models import Fanout, Policies, Run, Schedule, TaskInfo
from horae.policies import first_fire
from horae.store import NewRun
from horae.tasks import Task, validate_arguments
from horae.triggers import IntervalTrigger, Trigger, at, preview, trigger_from_dict

if TYPE_CHECKING:
    from horae.app import Horae
    from horae.backfill import Backfill, BackfillPlan
    from horae.declared import SyncResult
    from horae.schedule_batch import BatchResult
    from horae.store.bulk_queries import BulkOutcome

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,199}$")
_POLICIES = TypeAdapter(Policies)
POLICY_NAMES = tuple(f.name for f in dataclasses.fields(Policies))
_TIMING = {"start_at", "end_at"}


def validate_policies(values: Mapping[str, Any]) -> Policies:
    """Policies from user values; InvalidInput names the first bad field."""
    data = dict(values)
    for name in _TIMING:
        if data.get(name) is not None:
            data[name] = to_epoch(data[name], name)
    unknown = set(data) - set(POLICY_NAMES)
    if unknown:
        raise InvalidInput(sorted(unknown)[0], f"unknown policy; known: {', '.join(POLICY_NAMES)}")
    try:
        pol = _POLICIES.validate_python(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InvalidInput(".".join(str(p) for p in err["loc"]) or "policies", err["msg"]) \
            from None
    if pol.start_at is not None and pol.end_at is not None and pol.end_at <= pol.start_at:
        raise InvalidInput("end_at", "must be after start_at")
    if pol.retry_backoff_max < pol.retry_backoff:
        raise InvalidInput("retry_backoff_max", "must be at least retry_backoff")
    return pol


def coerce_trigger(trigger: Trigger | Mapping[str, Any] | str, now: float) -> Trigger:
    """A Trigger from a Trigger, its dict form, or "now"; intervals get an anchor."""
    if isinstance(trigger, str):
        if trigger != "now":
            raise InvalidInput("trigger", "give a trigger object, its dict form, or 'now'")
        trigger = at(now)
    elif isinstance(trigger, Mapping):
        trigger = trigger_from_dict(trigger)
    elif not isinstance(trigger, Trigger):
        raise InvalidInput("trigger", f"must be a trigger, not {type(trigger).__name__}")
    if isinstance(trigger, IntervalTrigger) and trigger.anchor is None:
        # Like APScheduler and cron, the first fire is one period after creation.
        trigger = IntervalTrigger(trigger.seconds, anchor=now + trigger.seconds)
    return trigger


def fanout_fields(pol: Policies) -> dict[str, Any]:
    """NewRun fields of a run that fans out (none for a plain run)."""
    if pol.fanout is Fanout.ONE:
        return {}
    return {"fanout": pol.fanout.value,
            "shard_total": pol.shards if pol.fanout is Fanout.SHARD else None}


def check_argument_types(args: Any, kwargs: Any) -> None:
    if not isinstance(args, list | tuple):
        raise InvalidInput("args", "must be a list")
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise InvalidInput("kwargs", "must be an object")


class Inputs:
    """What validation reads besides the input: the database's clock and the task
    catalogue, each read once however many schedules one call validates."""

    def __init__(self, app: Horae) -> None:
        self._app = app
        self._now: float | None = None
        self._tasks: dict[str, TaskInfo | InvalidInput] = {}

    def now(self) -> float:
        if self._now is None:
            self._now = self._app.store.now()
        return self._now

    def task_info(self, name: Any) -> TaskInfo:
        if not isinstance(name, str):
            return self._app.task_info(name)  # raises the usual error
        found = self._tasks.get(name)
        if found is None:
            try:
                found = self._app.task_info(name)
            except InvalidInput as exc:
                found = exc
            self._tasks[name] = found
        if isinstance(found, InvalidInput):
            raise InvalidInput(found.field, found.reason)
        return found


class ScheduleManager:
    """``app.schedules``: add, update, pause, resume, remove, trigger now, preview."""

    def __init__(self, app: Horae) -> None:
        self._app = app

    @property
    def app(self) -> Horae:
        return self._app

    def ensure(
        self,
        id: str,
        task: str | Task,
        trigger: Trigger | Mapping[str, Any],
        *,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        paused: bool = False,
        description: str = "",
        tags: Sequence[str] = (),
        **policies: Any,
    ) -> Schedule:
        """Declare a schedule in code, idempotently (the arguments of :meth:`add`).

        Creates it when absent; when the code's definition changed since the code last
        wrote it, replaces the definition (``paused`` stays as an operator left it, and
        ``next_fire_at`` moves only when the trigger or its window changed); when nothing
        changed, writes nothing, whatever an operator changed meanwhile. ``paused`` is the
        state of a schedule this creates. The schedule is marked ``declared``. Safe to call
        from many processes at once. See :mod:`horae.declared`.
        """
        from horae.declared import ensure

        return ensure(self, id, task, trigger, args=args, kwargs=kwargs, paused=paused,
                      description=description, tags=tags, **policies)

    def sync(self, *, prune: bool = False) -> SyncResult:
        """Ensure every ``@app.periodic`` declaration (``app.start()`` does this).

        ``prune=True`` also removes the schedules declared in code that this code no
        longer declares; never by default, since a process with older code must not delete
        what newer code declared.
        """
        from horae.declared import sync

        return sync(self, self._app.declarations, prune=prune)

    def add(
        self,
        id: str,
        task: str | Task,
        trigger: Trigger | Mapping[str, Any] | str,
        *,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        paused: bool = False,
        description: str = "",
        tags: Sequence[str] = (),
        **policies: Any,
    ) -> Schedule:
        """Create a schedule; raises InvalidInput (nothing written) or Conflict (id taken)."""
        return self._app.store.schedule_add(self.new_schedule(
            Inputs(self._app), id, task, trigger, args=args, kwargs=kwargs, paused=paused,
            description=description, tags=tags, **policies))

    def new_schedule(
        self,
        inputs: Inputs,
        id: str,
        task: str | Task,
        trigger: Trigger | Mapping[str, Any] | str,
        *,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        paused: bool = False,
        description: str = "",
        tags: Sequence[str] = (),
        fresh: bool = True,
        **policies: Any,
    ) -> Schedule:
        """The schedule :meth:`add` would write, validated; nothing is written.

        ``fresh=False`` leaves next_fire_at unset instead of refusing a schedule that never
        fires from now on (a declared one-off that already fired is still the same code).
        """
        if not isinstance(id, str) or not _ID.match(id):
            raise InvalidInput("id", "1-200 characters: letters, digits and _ . : @ -, "
                                     "starting with a letter or digit")
        check_argument_types(args, kwargs)
        if isinstance(tags, str) or not isinstance(tags, Sequence):
            raise InvalidInput("tags", "must be a list of strings")
        name = task.name if isinstance(task, Task) else task
        info = inputs.task_info(name)
        defaults: dict[str, Any] = {"queue": info.queue, "retries": info.retries,
                                    "timeout": info.timeout}
        schedule = Schedule(id=id, task=name, trigger={}, args=list(args),
                            kwargs=dict(kwargs or {}), paused=bool(paused),
                            description=str(description), tags=[str(t) for t in tags])
        return self._prepare(inputs, schedule, trigger, defaults | policies, fresh=fresh)

    def update(
        self, id: str, *, expected_version: int | None = None, **changes: Any
    ) -> Schedule:
        """Change the given fields; the schedule fires by its new definition from its next
        fire.

        ``expected_version`` makes the write conditional (Conflict on a lost update).
        Without it, only the given fields change even when another process edits the same
        schedule at the same time (the write is retried on the fresh version).
        """
        for attempt in range(10):
            try:
                return self._update_once(id, expected_version, changes)
            except Conflict:
                if expected_version is not None or attempt == 9:
                    raise
        raise AssertionError("unreachable")

    def _update_once(
        self, id: str, expected_version: int | None, changes: dict[str, Any]
    ) -> Schedule:
        current = self._app.store.schedule_get(id)
        # Without an expected version, write against the version just read: a concurrent
        # edit makes the write fail and retry, so fields we do not change stay as it left them.
        version = current.version if expected_version is None else expected_version
        prepared, retime = self.changed_schedule(Inputs(self._app), current, changes)
        return self._app.store.schedule_replace(prepared, expected_version=version,
                                                retime=retime)

    def changed_schedule(
        self, inputs: Inputs, current: Schedule, changes: Mapping[str, Any]
    ) -> tuple[Schedule, bool]:
        """``current`` with ``changes`` applied and validated, and whether its next fire
        must be computed again (a new trigger or window, or a resume); nothing is written."""
        fields = {"task", "trigger", "args", "kwargs", "paused", "description", "tags"}
        unknown = set(changes) - fields - set(POLICY_NAMES)
        if unknown:
            raise InvalidInput(sorted(unknown)[0], "not a field of a schedule")
        check_argument_types(changes.get("args", ()), changes.get("kwargs"))
        tags = changes.get("tags", current.tags)
        if isinstance(tags, str) or not isinstance(tags, Sequence):
            raise InvalidInput("tags", "must be a list of strings")
        pol = dataclasses.asdict(current.policies) | {
            k: v for k, v in changes.items() if k in POLICY_NAMES
        }
        task = changes.get("task", current.task)
        updated = dataclasses.replace(
            current,
            task=task.name if isinstance(task, Task) else task,
            args=list(changes.get("args", current.args)),
            kwargs=dict(changes.get("kwargs", current.kwargs)),
            paused=bool(changes.get("paused", current.paused)),
            description=str(changes.get("description", current.description)),
            tags=[str(t) for t in tags],
        )
        retime = bool("trigger" in changes or _TIMING & set(changes) or (
            current.paused and not updated.paused
        ))
        prepared = self._prepare(inputs, updated, changes.get("trigger", current.trigger),
                                 pol, fresh=retime)
        return prepared, retime

    def _prepare(
        self, inputs: Inputs, s: Schedule, trigger: Any, policies: Mapping[str, Any], *,
        fresh: bool
    ) -> Schedule:
        """Validate everything; recompute next_fire_at from now when ``fresh``."""
        pol = validate_policies(policies)
        info = inputs.task_info(s.task)
        validate_arguments(s.task, info.schema, s.args, s.kwargs)
        now = inputs.now()
        trig = coerce_trigger(trigger, now)
        s = dataclasses.replace(s, trigger=trig.to_dict(), policies=pol)
        if fresh:
            s.next_fire_at = first_fire(trig, now, pol)
            if s.next_fire_at is None:
                field = "end_at" if pol.end_at is not None and first_fire(
                    trig, now, dataclasses.replace(pol, end_at=None)) is not None else "trigger"
                raise InvalidInput(field, "the schedule never fires from now on: its time is "
                                          "past, or outside start_at/end_at")
        return s

    def pause(self, id: str) -> Schedule:
        return self.update(id, paused=True)

    def resume(self, id: str) -> Schedule:
        """Resume from now: fires missed while paused are not caught up."""
        return self.update(id, paused=False)

    def pause_many(self, *, tag: str, dry_run: bool = False) -> BulkOutcome:
        """Pause every active schedule with ``tag`` (``dry_run``: count them). Each is
        written as :meth:`pause` writes it, all in one transaction."""
        from horae.bulk import set_paused_by_tag

        return set_paused_by_tag(self._app, tag, True, dry_run=dry_run)

    def resume_many(self, *, tag: str, dry_run: bool = False) -> BulkOutcome:
        """Resume every paused schedule with ``tag`` (``dry_run``: count them)."""
        from horae.bulk import set_paused_by_tag

        return set_paused_by_tag(self._app, tag, False, dry_run=dry_run)

    def remove(self, id: str) -> None:
        self._app.store.schedule_delete(id)

    def get(self, id: str) -> Schedule:
        return self._app.store.schedule_get(id)

    def trigger_now(self, id: str, *, args: Sequence[Any] | None = None,
                    kwargs: Mapping[str, Any] | None = None) -> Run:
        """Queue one run of the schedule now, outside its trigger (origin ``manual``).

        ``args`` / ``kwargs``, when given, replace the schedule's own for this run only
        (checked against the task's schema: InvalidInput names the field, nothing is
        written); the schedule does not change.
        """
        s = self._app.store.schedule_get(id)
        p = s.policies
        run_args, run_kwargs = s.args, s.kwargs
        if args is not None or kwargs is not None:
            check_argument_types(s.args if args is None else args, kwargs)
            run_args = s.args if args is None else list(args)
            run_kwargs = s.kwargs if kwargs is None else dict(kwargs)
            validate_arguments(s.task, self._app.task_info(s.task).schema, run_args,
                               run_kwargs)
        return self._app.store.runs_add([NewRun(
            s.task, run_args, run_kwargs, p.queue, p.priority, schedule_id=s.id,
            origin="manual",
            max_attempts=p.retries + 1, retry_backoff=p.retry_backoff,
            retry_backoff_max=p.retry_backoff_max, timeout=p.timeout, **fanout_fields(p),
        )])[0]

    def preview(self, id: str, n: int = 10) -> list[datetime]:
        """The next ``n`` fire times of a stored schedule."""
        s = self._app.store.schedule_get(id)
        trig = trigger_from_dict(s.trigger)
        after = self._app.store.now() if s.next_fire_at is None else s.next_fire_at - 1e-6
        return preview(trig, after, n, start_at=s.policies.start_at, end_at=s.policies.end_at)

    def explain(self, id: str, at: Any = None, *, locale: str = "en") -> dict[str, Any]:
        """Why the schedule fired or not at ``at``, or will or won't (horae.explain).

        ``at``: an aware datetime, ISO-8601 with a zone, epoch seconds, ``now`` or relative
        to now (``-1h``, ``+30m``). Without it: its last fire and its next one, explained.
        Returns ``{"schedule_id", "now", "explanations": [{"label", "instant", "verdict",
        "reason", "code", "params", "run_id", "details"}]}`` with ``reason`` in ``locale``.
        """
        from horae.explain import TOLERANCE, explain_at, instant_of, last_and_next
        from horae.locales import parse_locale

        language = parse_locale(locale)
        store = self._app.store
        facts = store.explain_facts(id, 0.0, TOLERANCE)  # the schedule and the clock
        now = facts.now
        if at is not None:
            wanted = [("at", instant_of(at, now))]
        else:
            last, upcoming = last_and_next(facts.schedule, store.explain_last_fire(id), now)
            wanted = [(label, t) for label, t in (("last", last), ("next", upcoming))
                      if t is not None]
        answers = []
        for label, instant in wanted:
            explanation = explain_at(store.explain_facts(id, instant, TOLERANCE), instant)
            explanation.label = label
            answers.append(explanation)
        if at is None and not any(e.label == "next" for e in answers):
            from horae.explain import Explanation

            answers.append(Explanation(now, "will_not_fire", "explain.will_not_fire_never", {},
                                       details={"why": "never"}, label="next"))
        return {"schedule_id": facts.schedule.id, "now": iso(now),
                "explanations": [e.to_dict(language) for e in answers]}

    @overload
    def backfill(self, id: str, start: Any, end: Any, *, concurrency: int = 1,
                 dry_run: Literal[True], created_by: str | None = None) -> BackfillPlan: ...

    @overload
    def backfill(self, id: str, start: Any, end: Any, *, concurrency: int = 1,
                 dry_run: Literal[False] = False, created_by: str | None = None) -> Backfill: ...

    def backfill(self, id: str, start: Any, end: Any, *, concurrency: int = 1,
                 dry_run: bool = False, created_by: str | None = None
                 ) -> BackfillPlan | Backfill:
        """Run schedule ``id`` over the past range ``[start, end)`` (docs/semantics.md,
        "Backfill").

        ``dry_run``: the plan only -- every fire time with its DST markers and whether a
        run already has it; nothing is written. Otherwise a running :class:`Backfill`
        (its ``plan`` attached): the scheduler queues its fires in order, at most
        ``concurrency`` active at once, as runs with origin ``backfill`` whose
        ``ctx.fire_time`` is the fire time; fires that already have a run are skipped.
        InvalidInput names ``from``, ``to`` (after ``from``, not in the future, at most
        100,000 fires) or ``concurrency`` (1..100).
        """
        from horae.backfill_manager import BackfillManager

        return BackfillManager(self._app).create(id, start, end, concurrency=concurrency,
                                                 dry_run=dry_run, created_by=created_by)

    def backfills(self, id: str) -> list[Backfill]:
        """The schedule's backfills, newest first."""
        from horae.backfill_manager import BackfillManager

        return BackfillManager(self._app).list(id)

    def backfill_cancel(self, id: str, backfill_id: int) -> Backfill:
        """Stop a running backfill: nothing more is queued, its waiting runs are cancelled,
        running ones finish. NotFound, or Conflict when it already ended."""
        return self._app.store.backfill_cancel(backfill_id, id)

    def batch(self, operations: Sequence[Mapping[str, Any]], *, atomic: bool = False,
              dry_run: bool = False) -> list[BatchResult]:
        """Add, update, upsert and remove many schedules in one transaction.

        Each operation is a dict: ``{"op": "add" | "update" | "upsert" | "remove", "id":
        ..., **fields}``, whose fields are the keyword arguments of :meth:`add` (add,
        upsert: the whole definition, task and trigger required), of :meth:`update`
        (update: the fields to change), and ``expected_version`` (update, upsert, remove:
        only at that version). An upsert creates the schedule, or replaces its definition
        (what it leaves out returns to its default) and reports ``unchanged`` when it is
        the same; an interval given without an anchor keeps the stored schedule's phase.
        One id appears at most once per batch.

        Every item is validated first, as the single calls validate. ``atomic``: if any
        item fails, nothing is written and this raises :class:`InvalidBatch` (an
        ``InvalidInput`` naming ``operations[i].field``) or ``Conflict`` (naming the item).
        Otherwise each item succeeds or fails alone; the results, in order, say which.
        ``dry_run``: validate and report what would change; nothing is written.
        """
        from horae.schedule_batch import run_batch

        return run_batch(self, operations, atomic=atomic, dry_run=dry_run)

    def add_many(self, items: Sequence[Mapping[str, Any]], *,
                 atomic: bool = True) -> list[Schedule]:
        """Create many schedules, each item the keyword arguments of :meth:`add`, in one
        transaction; the schedules created, in order.

        ``atomic`` (default): all or nothing; a bad item raises InvalidInput naming
        ``items[i].field``, an id taken raises Conflict. ``atomic=False`` creates the
        items that can be created and leaves out the others: use :meth:`batch` to learn
        why each one failed.
        """
        from horae.schedule_batch import run_batch

        results = run_batch(self, items, atomic=atomic, name="items", only="add")
        return [r.schedule for r in results if r.ok and r.schedule is not None]

    def list(self, **filters: Any) -> list[Schedule]:
        return self._app.store.schedule_list(**filters)
