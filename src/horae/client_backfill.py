"""``RemoteHorae().schedules.backfill/backfills/backfill_cancel``: backfills over the REST
API (``/schedules/{id}/backfills``), with the return types of the Python API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, overload
from urllib.parse import quote

from horae.backfill import Backfill, BackfillPlan, backfill_from_wire, plan_from_wire
from horae.errors import InvalidInput


class RemoteBackfills:
    """The backfill methods of ``RemoteSchedules`` (see
    :meth:`horae.schedules.ScheduleManager.backfill`)."""

    _c: Any  # the RemoteHorae this belongs to

    @overload
    def backfill(self, id: str, start: Any, end: Any, *, concurrency: int = 1,
                 dry_run: Literal[True], created_by: str | None = None) -> BackfillPlan: ...

    @overload
    def backfill(self, id: str, start: Any, end: Any, *, concurrency: int = 1,
                 dry_run: Literal[False] = False, created_by: str | None = None) -> Backfill: ...

    def backfill(self, id: str, start: Any, end: Any, *, concurrency: int = 1,
                 dry_run: bool = False, created_by: str | None = None
                 ) -> BackfillPlan | Backfill:
        """Run the schedule over ``[start, end)`` (``POST /schedules/{id}/backfills``).
        ``created_by`` is ignored: the server records the token that asked."""
        body = {"from": _instant(start), "to": _instant(end), "concurrency": concurrency,
                "dry_run": dry_run}
        data = self._c.request("POST", f"{_path(id)}/backfills", json=body)
        return plan_from_wire(data) if dry_run else backfill_from_wire(data)

    def backfills(self, id: str) -> list[Backfill]:
        data = self._c.request("GET", f"{_path(id)}/backfills")
        return [backfill_from_wire(b) for b in data["items"]]

    def backfill_cancel(self, id: str, backfill_id: int) -> Backfill:
        return backfill_from_wire(self._c.request(
            "POST", f"{_path(id)}/backfills/{int(backfill_id)}/cancel"))


def _instant(value: Any) -> Any:
    """An instant as JSON: datetimes as ISO-8601, text and numbers as given."""
    return value.isoformat() if isinstance(value, datetime) else value


def _path(id: str) -> str:
    if not isinstance(id, str) or not id:
        raise InvalidInput("id", "must be a non-empty string")
    return f"/schedules/{quote(id, safe='')}"
