"""``app.schedules.backfill`` and friends: plan a backfill, start it, list it, cancel it.

The planning is pure (horae.backfill); this module reads what it needs (the schedule, the
database's clock, the fires that already have a run) and writes through the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from horae.backfill import (
    Backfill,
    BackfillPlan,
    Window,
    check_concurrency,
    check_range,
    plan,
    with_existing,
)
from horae.instants import to_epoch
from horae.triggers import trigger_from_dict

if TYPE_CHECKING:
    from horae.app import Horae


class BackfillManager:
    def __init__(self, app: Horae) -> None:
        self._app = app

    def plan(self, id: str, start: Any, end: Any) -> tuple[BackfillPlan, Window]:
        """The fires a backfill of schedule ``id`` over ``[start, end)`` would run.

        ``start``/``end``: aware datetimes, ISO-8601 text with an offset, or epoch seconds
        (InvalidInput names ``from`` / ``to``). ``end`` must not be in the future, and the
        range holds at most ``horae.backfill.MAX_FIRES`` fires. Fires at or after an active
        schedule's next fire are its own to fire, so the plan stops there.
        """
        s = self._app.store.schedule_get(id)
        first, stop = to_epoch(start, "from"), to_epoch(end, "to")
        check_range(first, stop, self._app.store.now())
        if not s.paused and s.next_fire_at is not None:
            stop = max(first, min(stop, s.next_fire_at))
        window = Window(trigger_from_dict(s.trigger), s.policies.start_at, s.policies.end_at)
        p = plan(s.id, window, first, stop)
        return with_existing(p, self._app.store.backfill_existing(s.id, first, stop)), window

    def create(self, id: str, start: Any, end: Any, *, concurrency: int = 1,
               dry_run: bool = False, created_by: str | None = None
               ) -> BackfillPlan | Backfill:
        concurrency = check_concurrency(concurrency)
        p, window = self.plan(id, start, end)
        if dry_run:
            return p
        b = self._app.store.backfill_add(
            id, p.start, p.end, concurrency=concurrency, total=p.total,
            cursor=p.fires[0].fire_time if p.fires else None, window=window.dumps(),
            created_by=created_by)
        b.plan = p
        return b

    def list(self, id: str) -> list[Backfill]:
        self._app.store.schedule_get(id)  # NotFound for an unknown schedule
        return self._app.store.backfill_list(id)

    def get(self, id: str, backfill_id: int) -> Backfill:
        return self._app.store.backfill_get(backfill_id, id)

    def cancel(self, id: str, backfill_id: int) -> Backfill:
        return self._app.store.backfill_cancel(backfill_id, id)
