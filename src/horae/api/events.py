"""Server-sent events: ``/events`` (every change, resumable) and ``/runs/{id}/logs``.

Events come from the ``horae_events`` table, written by database triggers in the
transaction of each change (see migration 0003), so every writer on every host produces
them. A stream sends each event with ``id:`` = its id; a client that reconnects with
``Last-Event-ID`` continues after it, losing nothing that is still retained (a day).

Ids are handed out at insert but become visible at commit, so on PostgreSQL a reader may
see event 12 before event 11 of a transaction still committing. The reader therefore only
delivers ids in sequence; a missing id is waited for until the event after it is
``gap_timeout`` seconds old (a rolled-back transaction leaves a permanent gap).

A stream outlives the moment its credentials were checked, so it checks them again every
``auth_recheck`` seconds: once the token is revoked, the user disabled or the console
session ended, it sends an ``unauthorized`` event and ends (a reconnecting client then
gets 401).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from horae.api import schemas as S
from horae.api.auth import Principal
from horae.api.framework import MAX_ID, Call
from horae.api.problems import ApiError
from horae.models import TERMINAL_STATES
from horae.store.api_store import Event

EVENT_KINDS = ("run.state", "run.progress", "run.log", "schedule.created", "schedule.changed",
               "schedule.deleted", "worker.gone")
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
BATCH = 500


class EventQuery(BaseModel):
    after: Annotated[int, Field(ge=0, le=MAX_ID)] | None = None
    kind: list[Annotated[str, Field(pattern=r"^(run|schedule|worker)(\.[a-z]+)?$")]] | None = None
    run: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None
    schedule: Annotated[str, Field(max_length=200)] | None = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 100


class LogQuery(BaseModel):
    after: Annotated[int, Field(ge=0, le=MAX_ID)] = 0
    limit: Annotated[int, Field(ge=1, le=1000)] = 1000
    follow: bool = False


def wants_sse(request: Request) -> bool:
    return "text/event-stream" in request.headers.get("accept", "").lower()


def deliverable(cursor: int, events: Sequence[Event], now: float,
                gap_timeout: float) -> list[Event]:
    """The events that can be handed out after ``cursor``, in order, without a hole that
    a committing transaction may still fill."""
    out: list[Event] = []
    expected = cursor + 1
    for e in events:
        if e.id != expected and now - e.ts < gap_timeout:
            break
        out.append(e)
        expected = e.id + 1
    return out


def matches(e: Event, q: EventQuery) -> bool:
    if q.run is not None and e.run_id != q.run:
        return False
    if q.schedule is not None and e.schedule_id != q.schedule:
        return False
    return not q.kind or any(e.kind == k or e.kind.startswith(k + ".") for k in q.kind)


def sse(event: str, data: Any, id: int | None = None) -> str:
    head = f"id: {id}\n" if id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


class Credentials:
    """A stream's principal, re-checked at most every ``auth_recheck`` seconds."""

    def __init__(self, api: Any, principal: Principal | None) -> None:
        self.api = api
        self.principal = principal
        self._next = time.monotonic() + api.settings.auth_recheck

    async def revoked(self) -> bool:
        if self.principal is None or time.monotonic() < self._next:
            return False
        self._next = time.monotonic() + self.api.settings.auth_recheck
        valid = await run_in_threadpool(self.api.auth.still_valid, self.principal)
        return not valid


REVOKED = sse("unauthorized", {"status": 401, "detail": "the token was revoked, the user "
                                                        "disabled or the session ended"})


def _last_event_id(request: Request) -> int | None:
    value = request.headers.get("last-event-id", "").strip()
    return int(value) if value.isdigit() and int(value) <= MAX_ID else None


async def events(c: Call) -> Response:
    q: EventQuery = c.query
    api = c.api
    cursor = _last_event_id(c.request)
    if cursor is None:
        cursor = q.after
    if not wants_sse(c.request):
        start = 0 if cursor is None else cursor
        rows, now = await run_in_threadpool(api.store.events_after, start, BATCH)
        ready = deliverable(start, rows, now, api.settings.gap_timeout)
        chosen = [e for e in ready if matches(e, q)][: q.limit]
        last = chosen[-1].id if len(chosen) == q.limit else (ready[-1].id if ready else start)
        return JSONResponse({"items": [S.event_wire(e) for e in chosen], "last_id": last})
    start = cursor if cursor is not None else await run_in_threadpool(api.store.events_last_id)
    return StreamingResponse(_event_stream(api, q, start, Credentials(api, c.principal)),
                             media_type="text/event-stream", headers=SSE_HEADERS)


async def _event_stream(api: Any, q: EventQuery, cursor: int,
                        credentials: Credentials) -> AsyncIterator[str]:
    settings = api.settings
    yield f"retry: 1000\nid: {cursor}\n\n"
    beat = time.monotonic()
    while not api.stopping.is_set():
        if await credentials.revoked():
            yield REVOKED
            return
        rows, now = await run_in_threadpool(api.store.events_after, cursor, BATCH)
        ready = deliverable(cursor, rows, now, settings.gap_timeout)
        chunks = []
        for e in ready:
            cursor = e.id
            if matches(e, q):
                chunks.append(sse(e.kind, S.event_wire(e), e.id))
        if chunks:
            yield "".join(chunks)
            beat = time.monotonic()
        elif time.monotonic() - beat > settings.heartbeat:
            yield f": keep-alive\nid: {cursor}\n\n"
            beat = time.monotonic()
        if len(ready) < BATCH:
            await asyncio.sleep(settings.poll_interval)


async def run_logs(c: Call) -> Response:
    q: LogQuery = c.query
    run_id = c.path["run_id"]
    api = c.api
    run = await run_in_threadpool(api.horae.runs.get, run_id)
    if not wants_sse(c.request):
        if q.follow:
            raise ApiError(406, "follow=true streams server-sent events: send "
                                "'Accept: text/event-stream'", slug="not-acceptable")
        lines = await run_in_threadpool(api.store.store.run_logs, run_id, after_id=q.after,
                                        limit=q.limit)
        return JSONResponse({"items": [S.log_wire(x) for x in lines],
                             "next_after": lines[-1].id if lines else q.after,
                             "run_state": run.state.value})
    after = _last_event_id(c.request)
    return StreamingResponse(_log_stream(api, run_id, q.after if after is None else after,
                                         Credentials(api, c.principal)),
                             media_type="text/event-stream", headers=SSE_HEADERS)


async def _log_stream(api: Any, run_id: int, after: int,
                      credentials: Credentials) -> AsyncIterator[str]:
    yield "retry: 1000\n\n"
    progress: tuple[Any, Any] | None = None
    beat = time.monotonic()
    while not api.stopping.is_set():
        if await credentials.revoked():
            yield REVOKED
            return
        # The state before the lines: a run's last lines commit with its final state, so
        # lines read after a final state was seen are all of them. Read the other way
        # round, a run finishing between the two reads ended the stream without its last
        # lines (a cancelled task's "cleaning up" line never showed).
        run = await run_in_threadpool(api.horae.runs.get, run_id)
        lines = await run_in_threadpool(api.store.store.run_logs, run_id, after_id=after)
        chunks = [sse("log", S.log_wire(x), x.id) for x in lines]
        if lines:
            after = lines[-1].id
        if (run.progress, run.progress_message) != progress:
            progress = (run.progress, run.progress_message)
            chunks.append(sse("progress", {"progress": run.progress,
                                           "message": run.progress_message}))
        if run.state in TERMINAL_STATES and not lines:
            chunks.append(sse("end", S.run_wire(run)))
            yield "".join(chunks)
            return
        if chunks:
            yield "".join(chunks)
            beat = time.monotonic()
        elif time.monotonic() - beat > api.settings.heartbeat:
            yield ": keep-alive\n\n"
            beat = time.monotonic()
        await asyncio.sleep(api.settings.poll_interval * 2)
