"""Misfire, catch-up, overlap and retry decisions as pure functions.

Nothing here touches a clock or a database: the scheduler passes ``now`` (read from the
database's clock) and the store passes what it knows about each due schedule.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

from horae.models import Catchup, Overlap, Policies, RunState
from horae.triggers import Trigger, next_in_window

# A schedule that was down for a long time can owe millions of fires (every second for a
# month). Rows are written for the most recent MAX_FIRES_PER_TICK of them; older ones are
# only counted. After MAX_STEPS trigger steps the planner jumps close to ``now``.
MAX_FIRES_PER_TICK = 1000
MAX_STEPS = 100_000


@dataclass(frozen=True)
class DueSchedule:
    """What the planner needs to know about one due schedule."""

    id: str
    trigger: Trigger
    policies: Policies
    next_fire_at: float
    fires: int
    waiting: int  # its runs that are scheduled/queued/retrying
    running: int  # its runs that are running
    oldest_active_at: float | None = None  # created_at of its oldest waiting/running run


@dataclass(frozen=True)
class PlannedRun:
    fire_time: float
    state: RunState  # queued/scheduled, skipped or missed
    not_before: float
    reason: str | None = None  # why a fire was skipped or missed, in words an operator reads


@dataclass
class FirePlan:
    schedule_id: str
    policies: Policies
    runs: list[PlannedRun] = field(default_factory=list)
    next_fire_at: float | None = None
    cancel_active: bool = False
    skipped_over: int = 0  # fires beyond MAX_FIRES_PER_TICK, passed over without a row

    def count(self, *states: RunState) -> int:
        return sum(1 for r in self.runs if r.state in states)


def plan_fires(due: DueSchedule, now: float, rng: random.Random) -> FirePlan:
    """Decide what each due fire of ``due`` becomes, and when the schedule fires next."""
    pol = due.policies
    plan = FirePlan(due.id, pol)
    fires, plan.next_fire_at, plan.skipped_over = _due_fires(due, now)
    decisions = _apply_catchup(fires, now, pol)
    to_run = [f for f, run in decisions if run]
    allowed = set(_apply_overlap(to_run, due, plan))
    budget = None if pol.max_fires is None else max(0, pol.max_fires - due.fires)
    for fire, run in decisions:
        if not run:
            plan.runs.append(PlannedRun(fire, RunState.MISSED, fire,
                                        missed_reason(fire, now, pol, to_run)))
        elif fire not in allowed:
            plan.runs.append(PlannedRun(fire, RunState.SKIPPED, fire,
                                        skipped_reason(fire, now, due, to_run)))
        elif budget is None or budget > 0:
            not_before = fire + (rng.uniform(0.0, pol.jitter) if pol.jitter > 0 else 0.0)
            state = RunState.SCHEDULED if not_before > now else RunState.QUEUED
            plan.runs.append(PlannedRun(fire, state, not_before))
            budget = None if budget is None else budget - 1
    if budget is not None and budget <= 0:
        plan.next_fire_at = None
    return plan


def _due_fires(due: DueSchedule, now: float) -> tuple[list[float], float | None, int]:
    """The due fire instants (<= now), the first one after now, and how many were dropped."""
    pol = due.policies
    recent: deque[float] = deque(maxlen=MAX_FIRES_PER_TICK)
    dropped = steps = 0
    jumped = False
    t: float | None = due.next_fire_at
    while t is not None and t <= now:
        dropped += len(recent) == MAX_FIRES_PER_TICK
        recent.append(t)
        steps += 1
        after = t
        if steps >= MAX_STEPS and not jumped:
            # Far behind with a dense trigger: nothing older than the catch-up horizon can
            # run, so skip straight to it (those fires are not even counted).
            span = max(pol.misfire_grace, pol.catchup_window if pol.catchup is Catchup.ALL else 0)
            after, jumped = max(t, now - span), True
        t = next_in_window(due.trigger, after, pol.start_at, pol.end_at)
    return list(recent), t, dropped


def _apply_catchup(fires: list[float], now: float, pol: Policies) -> list[tuple[float, bool]]:
    """Pair each fire with whether it should run (True) or be recorded as missed (False)."""
    on_time = [now - f <= pol.misfire_grace for f in fires]
    if pol.catchup is Catchup.ALL:
        window = pol.catchup_window
        return [(f, ok or now - f <= window) for f, ok in zip(fires, on_time, strict=True)]
    if pol.catchup is Catchup.NONE or any(on_time):
        return list(zip(fires, on_time, strict=True))
    # LATEST: every fire misfired; the newest one runs, the rest are missed.
    return [(f, i == len(fires) - 1) for i, f in enumerate(fires)]


def _apply_overlap(to_run: list[float], due: DueSchedule, plan: FirePlan) -> list[float]:
    """Which of the fires that should run may run, given the schedule's other runs.

    Except under ``allow``, one tick queues at most one run, the newest fire: the others
    would overlap with it at once. ``skip`` also yields to any earlier active run,
    ``queue_one`` only to an earlier waiting one, ``cancel_previous`` to none (it cancels
    them).
    """
    overlap = due.policies.overlap
    if not to_run or overlap is Overlap.ALLOW:
        return to_run
    if overlap is Overlap.CANCEL_PREVIOUS:
        plan.cancel_active = due.waiting + due.running > 0
        return to_run[-1:]
    blocking = due.waiting if overlap is Overlap.QUEUE_ONE else due.waiting + due.running
    return [] if blocking > 0 else to_run[-1:]


def skipped_reason(fire: float, now: float, due: DueSchedule, to_run: list[float]) -> str:
    """Why the overlap policy skipped ``fire``: what was in its way, and for how long.

    Under overload this is the line that explains a run of skips: a poll whose previous
    poll still waits for a worker is skipped, and the age says how far behind the queue is.
    """
    overlap = due.policies.overlap.value
    if fire != to_run[-1]:
        return (f"overlap={overlap}: a later fire was due in the same pass"
                f" ({now - to_run[-1]:.0f} s ago) and only the newest one runs")
    blocking = (due.waiting if due.policies.overlap is Overlap.QUEUE_ONE
                else due.waiting + due.running)
    where = "waiting in the queue" if due.waiting and not due.running else (
        "running" if not due.waiting else "waiting or running")
    text = f"overlap={overlap}: {blocking} earlier run{'s' if blocking != 1 else ''}"
    text += f" of this schedule still {where}"
    if due.oldest_active_at is not None:
        text += f" (the oldest created {max(0.0, now - due.oldest_active_at):.0f} s ago)"
    return text


def missed_reason(fire: float, now: float, pol: Policies, to_run: list[float]) -> str:
    """Why ``fire`` became a missed row: too late for misfire_grace and the catch-up policy."""
    late = f"{now - fire:.1f} s late, beyond misfire_grace={pol.misfire_grace:g} s"
    if pol.catchup is Catchup.LATEST and to_run and now - to_run[-1] > pol.misfire_grace:
        return f"{late}; catchup=latest runs only the newest missed fire"
    if pol.catchup is Catchup.ALL:
        return f"{late} and beyond catchup_window={pol.catchup_window:g} s"
    return f"{late} (catchup={pol.catchup.value})"


def retry_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with equal jitter: half fixed, half random, never above ``cap``."""
    ceiling = min(cap, base * 2.0 ** max(0, attempt - 1))
    return ceiling / 2 + rng.uniform(0.0, ceiling / 2)


def first_fire(trigger: Trigger, now: float, pol: Policies) -> float | None:
    """The first fire of a schedule created or resumed at ``now``: never in the past."""
    return next_in_window(trigger, now - 1e-6, pol.start_at, pol.end_at)
