"""Why did (or didn't) a schedule fire at an instant, and will it fire at a later one?

Pure: :func:`explain_at` takes what the store knows (``store/explain_queries.py``: the
schedule, its runs near the instant, its recorded changes, scheduler liveness) and answers
with an :class:`Explanation`: a stable ``verdict``, a reason (a code of
:mod:`horae.reasons` with its params, so every face says it in English or Chinese) and
details. Every way a fire can go has a verdict:

past instants
    ``fired`` (as run N, whatever became of it), ``skipped`` and ``missed`` (with the run
    row's own reason, and the window when no scheduler was running), ``expired`` (fired,
    but not started within ``expire_after``), ``paused``, ``not_a_fire_time`` (with the
    nearest fires before and after), ``before_start``, ``after_end``,
    ``max_fires_reached``, ``superseded`` (an edit at ... by ... changed the trigger, or
    restarted it before the fire was made), ``scheduler_down`` (no scheduler from ... to
    ...), ``not_created``, ``due`` (due, the next pass makes it) and ``no_record`` (a fire
    time whose run retention deleted);
future instants
    ``will_fire`` (and the fire after it) or ``will_not_fire`` (paused, outside
    start/end, max_fires, no next fire), and ``not_a_fire_time``.

An instant names a fire within :data:`TOLERANCE` seconds of it: interval fires fall on
fractions of a second that nobody types.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from horae.errors import InvalidInput
from horae.instants import iso, to_epoch
from horae.models import Policies, Run, RunState, Schedule
from horae.reasons import REASONS
from horae.store.explain_queries import SLACK, ExplainFacts, Liveness, ScheduleChange
from horae.triggers import Trigger, next_in_window, parse_duration, trigger_from_dict

TOLERANCE = 0.5
#: Trigger steps taken to find the fire before an instant, or to count fires up to one.
MAX_STEPS = 10_000
UNAUDITED = "an unaudited caller"
NONE = "—"  # an instant that does not exist (no fire before it, say)
#: Verdicts of an instant in the past, and of one in the future.
PAST = ("fired", "skipped", "missed", "expired", "paused", "not_a_fire_time", "before_start",
        "after_end", "max_fires_reached", "superseded", "scheduler_down", "not_created", "due",
        "no_record")
FUTURE = ("will_fire", "will_not_fire", "not_a_fire_time")


@dataclass
class Explanation:
    """The answer for one instant. ``code``/``params`` are the reason as
    :mod:`horae.reasons` knows it; :meth:`reason` says it in a language."""

    instant: float
    verdict: str
    code: str
    params: dict[str, str]
    run_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    label: str = "at"  # at | last | next (what the question was)

    def reason(self, language: str = "en") -> str:
        return reason_text(self.code, self.params, language)

    def to_dict(self, language: str = "en") -> dict[str, Any]:
        return {"label": self.label, "instant": iso(self.instant), "verdict": self.verdict,
                "reason": self.reason(language), "code": self.code, "params": self.params,
                "run_id": self.run_id, "details": self.details}


@cache
def _chinese() -> dict[str, str]:
    text = resources.files("horae").joinpath("console", "messages", "zh-CN.json").read_text(
        encoding="utf-8")
    data: dict[str, str] = json.loads(text)
    return data


def reason_text(code: str, params: Mapping[str, str], language: str = "en") -> str:
    """The reason ``code`` filled with ``params``, in 'en' or 'zh' (words that name parts
    of Horae, such as run states, are translated too)."""
    template = REASONS[code]
    if language != "zh":
        return template.format(**params)
    zh = _chinese()
    values = {k: zh.get(v, v) if k in ("state", "actor") else v for k, v in params.items()}
    return zh.get(template, template).format(**values)


# -- definitions over time --------------------------------------------------------------


@dataclass(frozen=True)
class Definition:
    trigger: Trigger
    policies: Policies
    known: bool  # False: an older version whose definition was not recorded (current used)


def _definition_of(wire: Mapping[str, Any] | None) -> tuple[Trigger, Policies] | None:
    """Trigger and policies of an audited wire form, or None if it cannot be read."""
    from horae.schedules import validate_policies  # the same rules as any write

    if not isinstance(wire, Mapping):
        return None
    try:
        trigger = trigger_from_dict(wire["trigger"])
        policies = validate_policies(wire.get("policies") or {})
    except Exception:  # an old or odd record: treat the version as unrecorded
        return None
    return trigger, policies


def _current(s: Schedule) -> Definition:
    return Definition(trigger_from_dict(s.trigger), s.policies, True)


def definition_at(s: Schedule, changes: list[ScheduleChange], at: float) -> Definition:
    """The definition in force at ``at``: the one the first change after ``at`` replaced
    (its audit ``before``), else the current one."""
    later = [c for c in changes if c.ts > at and c.kind == "changed"]
    if not later:
        return _current(s)
    found = _definition_of(later[0].before)
    if found is None:
        return Definition(*_definition_parts(s), known=False)
    return Definition(found[0], found[1], True)


def _definition_parts(s: Schedule) -> tuple[Trigger, Policies]:
    return trigger_from_dict(s.trigger), s.policies


def paused_span(s: Schedule, changes: list[ScheduleChange],
                at: float) -> tuple[float | None, float | None] | None:
    """``(since, until)`` when the schedule was paused at ``at`` (None: not known when it
    started or ended; ``until`` None: still paused), else None."""
    state: bool | None = None
    since: float | None = None
    for c in changes:
        if c.ts > at or c.paused is None:
            continue
        if c.paused and not state:
            since = c.ts
        state = c.paused
    if state is None:
        # Nothing kept from before it: paused then only if paused now with no later change.
        if not s.paused or any(c.ts > at for c in changes):
            return None
        return None, None
    if not state:
        return None
    until = next((c.ts for c in changes if c.ts > at and c.paused is False), None)
    return since, until


# -- trigger arithmetic ------------------------------------------------------------------


def fire_near(trigger: Trigger, at: float) -> float | None:
    """The fire of ``trigger`` within TOLERANCE of ``at`` (the nearest), else None."""
    best: float | None = None
    fire = trigger.next_fire(at - TOLERANCE - 1e-6)
    while fire is not None and fire <= at + TOLERANCE:
        if best is None or abs(fire - at) < abs(best - at):
            best = fire
        fire = trigger.next_fire(fire)
    return best


def fire_before(trigger: Trigger, at: float, pol: Policies) -> float | None:
    """The newest fire strictly before ``at`` (in the start/end window), or None."""
    span = 60.0
    while True:
        after = at - span
        if pol.start_at is not None and after < pol.start_at:
            after = pol.start_at - 1e-6
        first = next_in_window(trigger, after, pol.start_at, pol.end_at)
        if first is not None and first < at:
            break
        if (pol.start_at is not None and after <= pol.start_at) or span > 400 * 365 * 86400:
            return None
        span *= 4
    last, steps = first, 0
    while steps < MAX_STEPS:
        following = next_in_window(trigger, last, pol.start_at, pol.end_at)
        if following is None or following >= at:
            return last
        last, steps = following, steps + 1
    return last


def count_fires(trigger: Trigger, pol: Policies, start: float, end: float, cap: int) -> int:
    """Fires in ``[start, end)`` in the window, counting at most ``cap``."""
    n, fire = 0, next_in_window(trigger, start - 1e-6, pol.start_at, pol.end_at)
    while fire is not None and fire < end and n < cap:
        n += 1
        fire = next_in_window(trigger, fire, pol.start_at, pol.end_at)
    return n


# -- the answer --------------------------------------------------------------------------


def _t(epoch: float | None) -> str:
    return iso(epoch) or NONE


def _actor(change: ScheduleChange) -> str:
    return change.actor or UNAUDITED


def down_window(live: Liveness | None, at: float) -> tuple[float, float | None] | None:
    """``(from, until)`` when no scheduler was running at ``at`` (``until`` None: none has
    run since), or None when one was, or nothing recorded says."""
    if live is None or live.first_started is None or live.first_started > at:
        return None
    if live.covered_until is not None and live.covered_until >= at:
        return None
    since = live.seen_before if live.seen_before is not None else live.first_started
    return since, live.started_after


def explain_run(run: Run, at: float, live: Liveness | None) -> Explanation:
    """What the run row of a fire says happened."""
    fire = run.fire_time if run.fire_time is not None else at
    details: dict[str, Any] = {"fire_time": iso(fire), "state": run.state.value,
                               "created_at": iso(run.created_at)}
    late = run.created_at - fire
    if late > TOLERANCE:
        details["made_late_by"] = round(late, 3)
        window = down_window(live, fire)
        if window is not None:  # made late (catch-up): since no scheduler was running
            details["scheduler_down"] = {"from": iso(window[0]), "until": iso(window[1])}
    why = run.error or ""
    if run.state is RunState.SKIPPED:
        return Explanation(fire, "skipped", "explain.skipped",
                           {"run_id": str(run.id), "why": why}, run.id, details)
    if run.state is RunState.MISSED and why.startswith("expire_after="):
        return Explanation(fire, "expired", "explain.expired",
                           {"run_id": str(run.id), "why": why}, run.id, details)
    if run.state is RunState.MISSED:
        window = down_window(live, fire)
        if window is not None:
            details["scheduler_down"] = {"from": iso(window[0]), "until": iso(window[1])}
            return Explanation(fire, "missed", "explain.missed_down",
                               {"run_id": str(run.id), "since": _t(window[0]),
                                "until": _t(window[1] or run.created_at), "why": why},
                               run.id, details)
        return Explanation(fire, "missed", "explain.missed", {"run_id": str(run.id), "why": why},
                           run.id, details)
    return Explanation(fire, "fired", "explain.fired",
                       {"run_id": str(run.id), "state": run.state.value}, run.id, details)


def explain_at(facts: ExplainFacts, at: float) -> Explanation:
    """The answer for ``at`` from ``facts`` (read for ``at`` with ``near >= TOLERANCE``)."""
    s = facts.schedule
    near = [r for r in facts.runs if r.fire_time is not None
            and abs(r.fire_time - at) <= TOLERANCE]
    if near:
        return explain_run(min(near, key=lambda r: abs((r.fire_time or 0.0) - at)), at,
                           facts.liveness)
    if at > facts.now:
        return _future(facts, at)
    if at < s.created_at - TOLERANCE:  # (a fire just after it is looked at below)
        return Explanation(at, "not_created", "explain.not_created",
                           {"created": _t(s.created_at)})
    paused = paused_span(s, facts.changes, at)
    if paused is not None:
        since, until = paused
        details = {"paused_at": iso(since), "resumed_at": iso(until)}
        if since is None and until is None:
            return Explanation(at, "paused", "explain.paused_now", {}, details=details)
        code = "explain.paused" if until is not None else "explain.paused_still"
        return Explanation(at, "paused", code, {"since": _t(since), "until": _t(until)},
                           details=details)
    d = definition_at(s, facts.changes, at)
    fire = fire_near(d.trigger, at)
    pol = d.policies
    details = {} if d.known else {"definition": "current (this version's was not recorded)"}
    if fire is not None and fire < s.created_at:  # a schedule first fires after it is made
        return Explanation(fire, "not_created", "explain.not_created",
                           {"created": _t(s.created_at)})
    if fire is None:
        return _not_a_fire(facts, d, at, details)
    if pol.start_at is not None and fire < pol.start_at:
        return Explanation(fire, "before_start", "explain.before_start",
                           {"start": _t(pol.start_at)}, details=details)
    if pol.end_at is not None and fire > pol.end_at:
        return Explanation(fire, "after_end", "explain.after_end", {"end": _t(pol.end_at)},
                           details=details)
    exhausted = (s.next_fire_at is None and facts.run_after is None
                 and pol.max_fires is not None and s.fires >= pol.max_fires)
    if pol.max_fires is not None and (facts.fired_before >= pol.max_fires or exhausted):
        return Explanation(fire, "max_fires_reached", "explain.max_fires",
                           {"max_fires": str(pol.max_fires)}, details=details)
    return _fire_without_run(facts, fire, details)


def _not_a_fire(facts: ExplainFacts, d: Definition, at: float,
                details: dict[str, Any]) -> Explanation:
    pol = d.policies
    if pol.start_at is not None and at < pol.start_at:
        return Explanation(at, "before_start", "explain.before_start",
                           {"start": _t(pol.start_at)}, details=details)
    if pol.end_at is not None and at > pol.end_at:
        return Explanation(at, "after_end", "explain.after_end", {"end": _t(pol.end_at)},
                           details=details)
    # An edit before ``at`` whose previous trigger fired at ``at``: the edit took it away.
    for change in reversed([c for c in facts.changes if c.ts <= at and c.kind == "changed"]):
        old = _definition_of(change.before)
        if old is None:
            continue
        old_fire = fire_near(old[0], at)
        if old_fire is not None:
            return Explanation(old_fire, "superseded", "explain.superseded",
                               {"at": _t(change.ts), "actor": _actor(change),
                                "version": str(change.version or "?")},
                               details=details | {"edited_at": iso(change.ts),
                                                  "edited_by": change.actor,
                                                  "version": change.version})
        break
    unrecorded = [c for c in facts.changes if c.ts <= at and c.kind == "changed"]
    if unrecorded and _definition_of(unrecorded[-1].before) is None:
        # Changed before it without an audit record (from Python code, say): the trigger
        # it had before is not known, so say that it changed.
        change = unrecorded[-1]
        details = details | {"changed_at": iso(change.ts), "changed_by": change.actor,
                             "version": change.version}
    before = fire_before(d.trigger, at, pol)
    after = next_in_window(d.trigger, at, pol.start_at, pol.end_at)
    return Explanation(at, "not_a_fire_time", "explain.not_a_fire_time",
                       {"before": _t(before), "after": _t(after)},
                       details=details | {"fire_before": iso(before), "fire_after": iso(after)})


def _fire_without_run(facts: ExplainFacts, fire: float, details: dict[str, Any]) -> Explanation:
    """A fire time in force and inside the window, with no run row."""
    s, live = facts.schedule, facts.liveness
    window = down_window(live, fire)
    if window is not None:
        details = details | {"scheduler_down": {"from": iso(window[0]),
                                                "until": iso(window[1])}}
    edits = [c for c in facts.changes if c.ts > fire and c.kind == "changed"]
    later = facts.run_after
    if edits and later is not None and (later.fire_time or 0.0) < edits[0].ts:
        edits = []  # later fires were made before that edit: it did not take this one
    if edits and edits[0].ts - fire > SLACK and (
            window is None or (window[1] is not None and window[1] < edits[0].ts)):
        edits = []  # a scheduler ran between the fire and the edit: the edit did not take it
    if s.next_fire_at is not None and fire >= s.next_fire_at - TOLERANCE and not edits:
        if live is not None and live.running_now:
            return Explanation(fire, "due", "explain.due", {}, details=details)
        if window is not None and window[1] is None:
            return Explanation(fire, "scheduler_down", "explain.scheduler_down_still",
                               {"since": _t(window[0])}, details=details)
        return Explanation(fire, "scheduler_down", "explain.no_scheduler", {}, details=details)
    if edits:
        edit = edits[0]
        return Explanation(fire, "superseded", "explain.superseded_due",
                           {"at": _t(edit.ts), "actor": _actor(edit),
                            "version": str(edit.version or "?")},
                           details=details | {"edited_at": iso(edit.ts),
                                              "edited_by": edit.actor,
                                              "version": edit.version})
    if window is not None:
        if window[1] is None:
            return Explanation(fire, "scheduler_down", "explain.scheduler_down_still",
                               {"since": _t(window[0])}, details=details)
        return Explanation(fire, "scheduler_down", "explain.scheduler_down",
                           {"since": _t(window[0]), "until": _t(window[1])}, details=details)
    return Explanation(fire, "no_record", "explain.no_record", {}, details=details)


def _future(facts: ExplainFacts, at: float) -> Explanation:
    s = facts.schedule
    trigger, policies = _definition_parts(s)
    if s.paused:
        return Explanation(at, "will_not_fire", "explain.will_not_fire_paused", {},
                           details={"why": "paused"})
    fire = fire_near(trigger, at)
    if fire is None:
        if policies.start_at is not None and at < policies.start_at:
            return _will_not(at, "before_start", {"start": _t(policies.start_at)})
        if policies.end_at is not None and at > policies.end_at:
            return _will_not(at, "after_end", {"end": _t(policies.end_at)})
        before = fire_before(trigger, at, policies)
        after = next_in_window(trigger, at, policies.start_at, policies.end_at)
        return Explanation(at, "not_a_fire_time", "explain.not_a_fire_time",
                           {"before": _t(before), "after": _t(after)},
                           details={"fire_before": iso(before), "fire_after": iso(after)})
    if policies.start_at is not None and fire < policies.start_at:
        return _will_not(fire, "before_start", {"start": _t(policies.start_at)})
    if policies.end_at is not None and fire > policies.end_at:
        return _will_not(fire, "after_end", {"end": _t(policies.end_at)})
    if policies.max_fires is not None:
        left = policies.max_fires - s.fires
        ahead = 0 if s.next_fire_at is None or left <= 0 else count_fires(
            trigger, policies, s.next_fire_at, fire, left + 1)
        if ahead >= left:
            return _will_not(fire, "max_fires", {"max_fires": str(policies.max_fires),
                                                 "fires": str(s.fires)})
    if s.next_fire_at is None:
        return _will_not(fire, "never", {})
    following = next_in_window(trigger, fire, policies.start_at, policies.end_at)
    live = facts.liveness
    details = {"fire_after": iso(following), "overlap": policies.overlap.value,
               "active_runs": facts.active,
               "scheduler_running": bool(live is not None and live.running_now)}
    params = {"fire": _t(fire), "next": _t(following)}
    if live is not None and not live.running_now:
        return Explanation(fire, "will_fire", "explain.will_fire_no_scheduler", params,
                           details=details)
    return Explanation(fire, "will_fire", "explain.will_fire", params, details=details)


def _will_not(at: float, why: str, params: dict[str, str]) -> Explanation:
    return Explanation(at, "will_not_fire", f"explain.will_not_fire_{why}", params,
                       details={"why": why})


def last_and_next(s: Schedule, last_fire: float | None, now: float) -> tuple[float | None,
                                                                            float | None]:
    """The instants to explain without ``--at``: the newest fire not in the future (a run,
    else the trigger's), and the next one (``next_fire_at``, else the trigger's next fire
    after now, so a paused schedule's says why it will not come)."""
    trigger = trigger_from_dict(s.trigger)
    last = last_fire if last_fire is not None else fire_before(trigger, now, s.policies)
    if last is not None and last < s.created_at:
        last = None
    upcoming = s.next_fire_at
    if upcoming is None:
        upcoming = next_in_window(trigger, now, s.policies.start_at, s.policies.end_at)
    if upcoming is None or not math.isfinite(upcoming):
        upcoming = None
    return last, upcoming


def instant_of(value: Any, now: float, field: str = "at") -> float:
    """An instant people give: an aware datetime, ISO-8601 with a zone, epoch seconds
    (also as text), ``now``, or relative to now such as ``-1h``, ``+30m``, ``-2d3h``;
    InvalidInput names ``field`` otherwise."""
    if isinstance(value, str):
        text = value.strip()
        if text == "now":
            return now
        if text.replace(".", "", 1).isdigit():
            return to_epoch(float(text), field)  # epoch seconds, as text (a query string)
        if text[:1] in "+-" and text[1:2].isdigit() and not text[1:].replace(".", "").isdigit():
            try:
                seconds = parse_duration(text[1:], field)
            except InvalidInput:
                raise InvalidInput(field, f"{text!r} is neither an ISO-8601 date-time with a"
                                   " zone (e.g. 2026-12-01T09:00:00+08:00) nor relative to now"
                                   " (e.g. -1h, +30m)") from None
            return to_epoch(now + seconds if text[0] == "+" else now - seconds, field)
    return to_epoch(value, field)
