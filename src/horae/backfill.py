"""Backfill: run a schedule over a past range. The pure part: which fires, with markers.

A backfill takes the fire times of a schedule's trigger in ``[start, end)`` (the start
inclusive, the end exclusive, so two adjacent ranges never share a fire), inside the
schedule's ``start_at``/``end_at`` window, and turns each into a run with origin
``backfill`` whose ``fire_time`` (``ctx.fire_time``) is that logical instant. This module
plans; ``store/backfill_queries.py`` writes; the scheduler tops a running backfill up to its
concurrency bound (docs/semantics.md, "Backfill").

Each planned fire carries markers for people checking the list before they confirm:

- ``dst_gap_shifted``: the trigger asked for a wall time that did not exist (spring
  forward); the fire happens at the end of the gap (the DST rule, triggers/wall_clock.py).
- ``dst_ambiguous_fold_0`` / ``dst_ambiguous_fold_1``: the fire's wall time occurs twice
  (fall back); this fire is its first / second occurrence.
- calendar markers (a fire a business calendar excludes) have their place here once
  calendars exist: :data:`MARKERS` lists every marker a plan may carry.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from horae.errors import InvalidInput
from horae.instants import iso, to_epoch
from horae.triggers import AnyTrigger, CronTrigger, Trigger, trigger_from_dict, zone_of
from horae.triggers.wall_clock import UTC_KEYS

#: The most fires one backfill may plan: beyond, the range is refused (naming ``to``).
MAX_FIRES = 100_000
#: At most this many runs of one backfill are queued or running at once.
MAX_CONCURRENCY = 100
MARKERS = ("dst_gap_shifted", "dst_ambiguous_fold_0", "dst_ambiguous_fold_1")
STATES = ("running", "done", "cancelled")


@dataclass(frozen=True)
class PlannedFire:
    fire_time: float
    markers: tuple[str, ...] = ()
    #: A run of this schedule already exists at this fire time: the backfill skips it.
    has_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"fire_time": iso(self.fire_time), "markers": list(self.markers),
                "has_run": self.has_run}


@dataclass
class BackfillPlan:
    """What a backfill would do: every fire, in order, and how many already have a run."""

    schedule_id: str
    start: float
    end: float
    zone: str
    fires: list[PlannedFire]
    #: Calls of the trigger the plan made: at most one per fire plus one (never quadratic).
    steps: int = 0

    @property
    def total(self) -> int:
        return len(self.fires)

    @property
    def already_run(self) -> int:
        return sum(f.has_run for f in self.fires)

    def to_dict(self) -> dict[str, Any]:
        return {"schedule_id": self.schedule_id, "from": iso(self.start), "to": iso(self.end),
                "zone": self.zone, "total": self.total, "already_run": self.already_run,
                "to_create": self.total - self.already_run,
                "fires": [f.to_dict() for f in self.fires]}


@dataclass
class Backfill:
    """A backfill as stored (``horae_backfills``)."""

    id: int
    schedule_id: str
    start: float
    end: float
    concurrency: int
    state: str
    total: int
    #: Runs it created, and fires it skipped because a run already had them.
    created: int = 0
    skipped_existing: int = 0
    created_by: str | None = None
    created_at: float = 0.0
    finished_at: float | None = None
    #: The next fire time not yet queued; None once every fire was queued (or skipped).
    cursor: float | None = None
    #: The trigger and window the plan was made with, as JSON text: the runs follow the
    #: list the operator confirmed even if the schedule's trigger changes meanwhile.
    window: str = "{}"
    plan: BackfillPlan | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "schedule_id": self.schedule_id, "from": iso(self.start),
                "to": iso(self.end), "concurrency": self.concurrency, "state": self.state,
                "total": self.total, "created": self.created,
                "skipped_existing": self.skipped_existing, "created_by": self.created_by,
                "created_at": iso(self.created_at), "finished_at": iso(self.finished_at),
                "next_fire_time": iso(self.cursor)}


@dataclass(frozen=True)
class Window:
    """A trigger inside a start_at/end_at window: what a backfill iterates over."""

    trigger: Trigger
    start_at: float | None = None
    end_at: float | None = None

    def dumps(self) -> str:
        return json.dumps({"trigger": self.trigger.to_dict(), "start_at": self.start_at,
                           "end_at": self.end_at}, sort_keys=True)

    @classmethod
    def loads(cls, text: str) -> Window:
        data = json.loads(text)
        return cls(trigger_from_dict(data["trigger"]), data.get("start_at"), data.get("end_at"))

    def fires(self, first: float, end: float) -> Iterator[float]:
        """Fire times at or after ``first`` and before ``end``, in order; one trigger call
        per fire (plus one that ends the iteration)."""
        after = math.nextafter(first, -math.inf)  # "at or after first"
        if self.start_at is not None and self.start_at > after:
            after = math.nextafter(self.start_at, -math.inf)
        while True:
            fire = self.trigger.next_fire(after)
            if fire is None or fire >= end or (self.end_at is not None and fire > self.end_at):
                return
            yield fire
            after = fire

    def next_batch(self, cursor: float, end: float, n: int) -> tuple[list[float], float | None]:
        """Up to ``n`` fires from ``cursor`` (inclusive), and the next cursor (None: no
        fire is left before ``end``)."""
        out: list[float] = []
        for fire in self.fires(cursor, end):
            if len(out) == n:
                return out, fire
            out.append(fire)
        return out, None


def check_range(start: float, end: float, now: float) -> None:
    """A backfill covers the past: ``end`` after ``start`` and not after ``now``."""
    if end <= start:
        raise InvalidInput("to", "must be after from")
    if end > now:
        raise InvalidInput("to", f"is in the future ({iso(end)} > now {iso(now)}); a backfill"
                                 " covers the past, the schedule itself fires from now on")


def check_concurrency(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("concurrency", "must be a whole number")
    if not 1 <= value <= MAX_CONCURRENCY:
        raise InvalidInput("concurrency", f"must be between 1 and {MAX_CONCURRENCY}")
    return value


def plan(schedule_id: str, window: Window, start: float, end: float, *,
         limit: int = MAX_FIRES) -> BackfillPlan:
    """Every fire of ``window`` in ``[start, end)``, with DST markers.

    More than ``limit`` fires raises InvalidInput naming ``to``. The trigger is called once
    per fire (``steps`` counts the calls), so planning is linear in the number of fires.
    """
    crons = _crons(window.trigger)
    zone_key = zone_of(window.trigger.to_dict()) or (crons[0].tz if crons else "UTC")
    marker = _Markers(window.trigger, zone_key)
    fires: list[PlannedFire] = []
    steps = 0
    for fire in window.fires(start, end):
        steps += 1
        if len(fires) == limit:
            raise InvalidInput("to", f"the range holds more than {limit:,} fires (from"
                                     f" {iso(start)}); split it into smaller backfills")
        fires.append(PlannedFire(fire, marker.of(fire)))
    return BackfillPlan(schedule_id, start, end, zone_key, fires, steps + 1)


def with_existing(p: BackfillPlan, existing: set[float]) -> BackfillPlan:
    """The plan with each fire that already has a run marked ``has_run``."""
    if existing:
        p.fires = [PlannedFire(f.fire_time, f.markers, True) if f.fire_time in existing else f
                   for f in p.fires]
    return p


class _Markers:
    """DST markers of fire instants in one zone (none in zones without transitions)."""

    def __init__(self, trigger: Trigger, zone_key: str) -> None:
        self.zone = None if zone_key in UTC_KEYS else ZoneInfo(zone_key)
        # A cron's wall times read in UTC: "does the expression select a wall time in
        # [a, b)" is then one next_fire call on naive seconds.
        self.walls = [CronTrigger(c.expr, "UTC") for c in _crons(trigger)]

    def of(self, fire: float) -> tuple[str, ...]:
        if self.zone is None:
            return ()
        local = datetime.fromtimestamp(fire, self.zone)
        offset = local.utcoffset()
        if local.fold:
            return ("dst_ambiguous_fold_1",)
        if local.replace(fold=1).utcoffset() != offset:
            return ("dst_ambiguous_fold_0",)
        before = datetime.fromtimestamp(fire - 1, self.zone).utcoffset()
        if before is not None and offset is not None and offset > before:
            # ``fire`` is the end of a spring-forward gap: shifted if the trigger selected
            # a wall time inside the gap (rather than the gap's end itself).
            wall_end = local.replace(tzinfo=None)
            wall_start = wall_end - (offset - before)
            naive = _naive_seconds(wall_start)
            if any((w.next_fire(naive - 1) or math.inf) < _naive_seconds(wall_end)
                   for w in self.walls):
                return ("dst_gap_shifted",)
        return ()


def _crons(trigger: Trigger) -> list[CronTrigger]:
    if isinstance(trigger, CronTrigger):
        return [trigger]
    if isinstance(trigger, AnyTrigger):
        return [c for t in trigger.triggers for c in _crons(t)]
    return []


def _naive_seconds(wall: datetime) -> float:
    return (wall - datetime(1970, 1, 1)) / timedelta(seconds=1)


def plan_from_wire(data: Mapping[str, Any]) -> BackfillPlan:
    """A plan from its JSON form (what :meth:`BackfillPlan.to_dict` makes; the REST API's
    dry run answers it)."""
    return BackfillPlan(
        data["schedule_id"], to_epoch(data["from"], "from"), to_epoch(data["to"], "to"),
        data["zone"], [PlannedFire(to_epoch(f["fire_time"], "fire_time"),
                                   tuple(f["markers"]), bool(f["has_run"]))
                       for f in data["fires"]])


def backfill_from_wire(data: Mapping[str, Any]) -> Backfill:
    """A backfill from its JSON form (:meth:`Backfill.to_dict`)."""

    def instant(key: str) -> float | None:
        return None if data.get(key) is None else to_epoch(data[key], key)

    return Backfill(
        int(data["id"]), data["schedule_id"], to_epoch(data["from"], "from"),
        to_epoch(data["to"], "to"), int(data["concurrency"]), data["state"],
        int(data["total"]), int(data["created"]), int(data["skipped_existing"]),
        data.get("created_by"), instant("created_at") or 0.0, instant("finished_at"),
        instant("next_fire_time"))
