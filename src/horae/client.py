"""``RemoteHorae``: the Python API of Horae over the REST API of a remote server.

It has the methods of a :class:`~horae.app.Horae` that the API serves, with the same names,
arguments, return types and errors, so code (and the CLI's ``--url``) can use either::

    from horae.client import RemoteHorae
    from horae.triggers import cron

    with RemoteHorae("http://scheduler.internal:8765", token) as app:
        app.schedules.add("nightly", "reports.build", cron("0 2 * * *"), retries=2)
        run = app.runs.wait(app.runs.create("reports.build").id)

- ``app.schedules``: ``add``, ``update`` (``expected_version`` is sent as ``If-Match``),
  ``pause``, ``resume``, ``remove``, ``get``, ``list``, ``trigger_now``, ``preview``,
  ``batch``, ``add_many``, ``backfill``, ``backfills``, ``backfill_cancel``;
- ``app.runs``: ``create``, ``get``, ``list``, ``cancel``, ``retry``, ``logs``, ``wait``;
- ``app.workflows``: ``add``, ``get``, ``versions``, ``list``, ``update``, ``remove``
  (:mod:`horae.client_workflows`);
- ``app.task_info(name)``, ``app.tasks_list()``, ``app.workers_list()``, ``app.now()``.

Errors: a 422 (and 400, 413, 415) problem document raises ``InvalidInput(field, reason)``
with the field named as the Python API names it (``retries``, not ``policies.retries``);
404 raises ``NotFound``; 409 and 412 (a stale ``expected_version``) raise ``Conflict``.
Anything else, including an unreachable server or a refused token, raises
:class:`RemoteError` (a ``HoraeError``) whose message says what to do.

Instants come back as epoch seconds, as the models hold them; the API sends them with
millisecond precision, so a remote ``created_at`` may differ from the database's by < 1 ms.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote, unquote

import httpx
from pydantic import TypeAdapter

from horae import __version__
from horae.bulk import outcome_from_wire, wire_request
from horae.client_backfill import RemoteBackfills
from horae.client_workflows import RemoteWorkflows
from horae.errors import Conflict, HoraeError, InvalidInput, NotFound
from horae.instants import to_epoch
from horae.models import (
    LogLine,
    Policies,
    QueueStats,
    Run,
    RunState,
    Schedule,
    TaskInfo,
    WorkerInfo,
)
from horae.runs import wait_until_ended
from horae.schedule_batch import BatchResult, InvalidBatch
from horae.store.bulk_queries import BulkOutcome
from horae.triggers import Trigger

__all__ = ["RemoteError", "RemoteHorae", "RemoteRuns", "RemoteSchedules"]

T = TypeVar("T")
_POLICIES = TypeAdapter(Policies)
_POLICY_ORDER = tuple(f.name for f in fields(Policies))
POLICY_NAMES = frozenset(_POLICY_ORDER)
_SCHEDULE_FIELDS = frozenset({"task", "trigger", "args", "kwargs", "paused", "description",
                              "tags"})
_INPUT_STATUSES = (400, 413, 415, 422)
LOG_PAGE = 1000  # lines per logs() call, as the local store returns


class RemoteError(HoraeError):
    """The server could not be reached, refused the token (401/403/429), or failed (5xx)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def api_base(url: str) -> str:
    """``http://host:8765`` or ``http://host:8765/api/v1`` -> the ``/api/v1`` base URL."""
    base = url.strip().rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise InvalidInput("url", f"{url!r} is not an http:// or https:// URL "
                                  "(e.g. http://127.0.0.1:8765)")
    return base if base.endswith("/api/v1") else base + "/api/v1"


def _epoch(value: Any) -> float | None:
    """An ISO-8601 instant of a response as epoch seconds (None stays None)."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value)).timestamp()


def _build(cls: type[T], data: Mapping[str, Any], times: Sequence[str]) -> T:
    """A dataclass from a response object: known fields only, instants as epoch seconds."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    values = {k: v for k, v in data.items() if k in names}
    for key in times:
        if key in values:
            values[key] = _epoch(values[key])
    return cls(**values)


def schedule_from_wire(data: Mapping[str, Any]) -> Schedule:
    s = _build(Schedule, data, ("next_fire_at", "last_run_at", "created_at", "updated_at"))
    pol = dict(data.get("policies") or {})
    for key in ("start_at", "end_at"):
        pol[key] = _epoch(pol.get(key))
    s.policies = _POLICIES.validate_python(pol)
    return s


def run_from_wire(data: Mapping[str, Any]) -> Run:
    r = _build(Run, data, ("fire_time", "not_before", "created_at", "started_at",
                           "finished_at", "lease_expires_at"))
    r.state = RunState(r.state)
    return r


def _policy_value(name: str, value: Any) -> Any:
    if name in ("start_at", "end_at") and value is not None:
        return to_epoch(value, name)
    return value


def _policies(values: Mapping[str, Any]) -> dict[str, Any]:
    """Policies as the API takes them; an unknown name is refused as locally."""
    unknown = sorted(set(values) - POLICY_NAMES)
    if unknown:
        raise InvalidInput(unknown[0], f"unknown policy; known: {', '.join(_POLICY_ORDER)}")
    return {k: _policy_value(k, v) for k, v in values.items()}


def _trigger(trigger: Trigger | Mapping[str, Any] | str) -> Any:
    """The dict form the API takes; ``"now"`` is a date trigger at this moment."""
    if isinstance(trigger, Trigger):
        return trigger.to_dict()
    if isinstance(trigger, Mapping):
        return dict(trigger)
    if trigger == "now":
        return {"kind": "date", "at": time.time()}
    raise InvalidInput("trigger", "give a trigger object, its dict form, or 'now'")


def _task_name(task: Any) -> Any:
    name = getattr(task, "name", None)
    return name if isinstance(name, str) else task


def _api_field(field: str) -> str:
    """A request field as the Python API names it: ``policies.retries`` -> ``retries``."""
    head, _, rest = field.partition(".")
    if head == "policies" and rest.split(".", 1)[0] in POLICY_NAMES:
        return rest
    return field


class RemoteHorae:
    """A client of ``/api/v1`` with the Python API's methods; close it (or use ``with``)."""

    def __init__(self, url: str, token: str | None, *, timeout: float = 30,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.url = api_base(url)
        headers = {"User-Agent": f"horae-client/{__version__}", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token.strip()}"
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout,
                                  transport=transport)
        self.schedules = RemoteSchedules(self)
        self.runs = RemoteRuns(self)
        self.workflows = RemoteWorkflows(self)
        self.registry: tuple[Any, ...] = ()  # no task code here: the server has it

    # -- plumbing ----------------------------------------------------------------------

    def request(self, method: str, path: str, *, json: Any = None,
                params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None) -> Any:
        """One call; the decoded JSON body (None for 204), or the Python API's error."""
        try:
            response = self._http.request(method, path, json=json, params=params,
                                          headers=headers)
        except httpx.TimeoutException as exc:
            raise RemoteError(f"url: {self.url} did not answer in time ({exc})") from None
        except httpx.HTTPError as exc:
            raise RemoteError(f"url: cannot reach {self.url}: {exc or type(exc).__name__} "
                              "(is `horae server` or `horae api` running there?)") from None
        if response.status_code == 204:
            return None
        if response.is_success:
            return response.json()
        raise self._error(response, path)

    def _error(self, response: httpx.Response, path: str) -> Exception:
        status = response.status_code
        try:
            problem = response.json()
        except ValueError:
            problem = {}
        if not isinstance(problem, dict):
            problem = {}
        detail = str(problem.get("detail") or response.reason_phrase or status)
        errors = problem.get("errors") or []
        if status in _INPUT_STATUSES:
            first = errors[0] if errors and isinstance(errors[0], dict) else {}
            field = str(first.get("field") or "body")
            return InvalidInput(_api_field(field), str(first.get("reason") or detail))
        if status == 404:
            kind, key = _resource(path)
            return NotFound(kind, key)
        if status in (409, 412):
            return Conflict(detail)
        if status == 401:
            return RemoteError(f"token: {detail} (give --token or HORAE_TOKEN; "
                               "`horae tokens create` makes one)", status)
        if status == 403:
            return RemoteError(f"token: {detail}", status)
        return RemoteError(f"url: {self.url} answered {status}: {detail}", status)

    def close(self) -> None:
        self._http.close()

    def stop(self) -> None:
        """As ``Horae.stop``: here, close the connection pool."""
        self.close()

    def __enter__(self) -> RemoteHorae:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- catalogue, workers, clock -------------------------------------------------------

    def task_info(self, name: str) -> TaskInfo:
        """A task of the server's catalogue; InvalidInput("task") when it has none such."""
        try:
            data = self.request("GET", f"/tasks/{quote(str(name), safe='')}")
        except NotFound:
            known = ", ".join(t.name for t in self.tasks_list())
            raise InvalidInput("task", f"unknown task {name!r}; known tasks: "
                                       f"{known or 'none (is a worker running?)'}") from None
        return _build(TaskInfo, data, ())

    def tasks_list(self) -> list[TaskInfo]:
        """The server's catalogue: its app's tasks and those its workers advertise."""
        return [_build(TaskInfo, t, ()) for t in self.request("GET", "/tasks")["items"]]

    def workers_list(self) -> list[WorkerInfo]:
        return [_build(WorkerInfo, w, ("started_at", "heartbeat_at"))
                for w in self.request("GET", "/workers")["items"]]

    def queues_stats(self) -> tuple[float, list[QueueStats]]:
        """The server's now and every queue's backlog, lag and workers."""
        data = self.request("GET", "/queues")
        return to_epoch(data["now"], "now"), [
            QueueStats(q["queue"], q["queued"], q["scheduled"], q["retrying"], q["running"],
                       None if q["oldest_queued_at"] is None
                       else to_epoch(q["oldest_queued_at"], "oldest_queued_at"),
                       q["workers"], q["slots"])
            for q in data["items"]]

    def queue_warnings(self, queues: Sequence[str]) -> list[dict[str, str]]:
        """A warning for each of ``queues`` that no live worker serves (from ``/queues``)."""
        from horae.queue_warnings import unserved_queue_warnings

        served = {q.queue for q in self.queues_stats()[1] if q.workers}
        return unserved_queue_warnings(q for q in dict.fromkeys(queues) if q not in served)

    def now(self) -> float:
        """This machine's clock (for "in 5 minutes" displays)."""
        return time.time()


def _resource(path: str) -> tuple[str, object]:
    parts = [p for p in path.split("/") if p]
    kinds = {"schedules": "schedule", "runs": "run", "tasks": "task", "tokens": "token",
             "workflows": "workflow"}
    if len(parts) >= 2 and parts[0] in kinds:
        key: object = unquote(parts[1])
        if parts[0] == "runs" and str(key).isdigit():
            key = int(str(key))
        return kinds[parts[0]], key
    return "resource", path


def _sid(id: str) -> str:
    if not isinstance(id, str) or not id:
        raise InvalidInput("id", "must be a non-empty string")
    return quote(id, safe="")


class RemoteSchedules(RemoteBackfills):
    """``app.schedules`` over the API: the methods of :class:`horae.schedules.ScheduleManager`."""

    def __init__(self, client: RemoteHorae) -> None:
        self._c = client

    def add(
        self,
        id: str,
        task: Any,
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
        body = {"id": id, "task": _task_name(task), "trigger": _trigger(trigger),
                "args": list(args) if isinstance(args, list | tuple) else args,
                "kwargs": dict(kwargs) if isinstance(kwargs, Mapping) else (kwargs or {}),
                "paused": bool(paused), "description": str(description),
                "tags": [str(t) for t in tags],
                "policies": _policies(policies)}
        return schedule_from_wire(self._c.request("POST", "/schedules", json=body))

    def update(self, id: str, *, expected_version: int | None = None,
               **changes: Any) -> Schedule:
        """Change the given fields (PATCH); ``expected_version`` is sent as ``If-Match``
        and a lost update raises Conflict."""
        body: dict[str, Any] = {}
        policies: dict[str, Any] = {}
        for key, value in changes.items():
            if key in POLICY_NAMES:
                policies[key] = _policy_value(key, value)
            elif key not in _SCHEDULE_FIELDS:
                raise InvalidInput(key, "not a field of a schedule")
            elif key == "trigger":
                body[key] = _trigger(value)
            elif key == "task":
                body[key] = _task_name(value)
            elif key in ("args", "tags") and isinstance(value, tuple):
                body[key] = list(value)
            else:
                body[key] = value
        if policies:
            body["policies"] = policies
        headers = {} if expected_version is None else {"If-Match": f'"{expected_version}"'}
        return schedule_from_wire(
            self._c.request("PATCH", f"/schedules/{_sid(id)}", json=body, headers=headers))

    def pause(self, id: str) -> Schedule:
        return schedule_from_wire(self._c.request("POST", f"/schedules/{_sid(id)}/pause"))

    def resume(self, id: str) -> Schedule:
        """Resume from now: fires missed while paused are not caught up."""
        return schedule_from_wire(self._c.request("POST", f"/schedules/{_sid(id)}/resume"))

    def pause_many(self, *, tag: str, dry_run: bool = False) -> BulkOutcome:
        return outcome_from_wire(self._c.request("POST", "/schedules:pause",
                                                 json={"tag": tag, "dry_run": dry_run}))

    def resume_many(self, *, tag: str, dry_run: bool = False) -> BulkOutcome:
        return outcome_from_wire(self._c.request("POST", "/schedules:resume",
                                                 json={"tag": tag, "dry_run": dry_run}))

    def remove(self, id: str) -> None:
        self._c.request("DELETE", f"/schedules/{_sid(id)}")

    def get(self, id: str) -> Schedule:
        return schedule_from_wire(self._c.request("GET", f"/schedules/{_sid(id)}"))

    def trigger_now(self, id: str, *, args: Sequence[Any] | None = None,
                    kwargs: Mapping[str, Any] | None = None) -> Run:
        """Queue one run of the schedule now, outside its trigger (origin ``manual``),
        with ``args`` / ``kwargs`` instead of the schedule's when given."""
        body: dict[str, Any] = {}
        if args is not None:
            body["args"] = list(args) if isinstance(args, list | tuple) else args
        if kwargs is not None:
            body["kwargs"] = dict(kwargs) if isinstance(kwargs, Mapping) else kwargs
        return run_from_wire(self._c.request("POST", f"/schedules/{_sid(id)}/trigger",
                                             json=body or None))

    def preview(self, id: str, n: int = 10) -> list[datetime]:
        """The next ``n`` (at most 100 over the API) fire times, as aware UTC datetimes."""
        data = self._c.request("GET", f"/schedules/{_sid(id)}/preview", params={"n": n})
        return [datetime.fromisoformat(f["utc"]).astimezone(UTC) for f in data["fires"]]

    def explain(self, id: str, at: Any = None, *, locale: str = "en") -> dict[str, Any]:
        """Why the schedule fired or not at ``at`` (see ScheduleManager.explain)."""
        params: dict[str, Any] = {"locale": locale}
        if at is not None:
            params["at"] = at.isoformat() if isinstance(at, datetime) else str(at)
        result: dict[str, Any] = self._c.request("GET", f"/schedules/{_sid(id)}/explain",
                                                 params=params)
        return result

    def batch(self, operations: Sequence[Mapping[str, Any]], *, atomic: bool = False,
              dry_run: bool = False) -> list[BatchResult]:
        """Many changes in one request (``POST /schedules:batch``, at most 10,000
        operations): see :meth:`horae.schedules.ScheduleManager.batch`."""
        return _batch(self._c, operations, atomic, dry_run, "operations", None)

    def add_many(self, items: Sequence[Mapping[str, Any]], *,
                 atomic: bool = True) -> list[Schedule]:
        """Create many schedules in one request: see
        :meth:`horae.schedules.ScheduleManager.add_many`."""
        results = _batch(self._c, items, atomic, False, "items", "add")
        return [r.schedule for r in results if r.ok and r.schedule is not None]

    def list(self, *, task: str | None = None, paused: bool | None = None,
             search: str | None = None, queue: str | None = None, tag: str | None = None,
             failing: bool | None = None, order: str = "id", after_id: str | None = None,
             limit: int = 100) -> list[Schedule]:
        """Schedules ordered by id (or ``order="next_fire"``), fetched a page (at most
        1000) at a time up to ``limit``."""
        params: dict[str, Any] = {}
        for key, value in (("task", task), ("queue", queue), ("tag", tag)):
            if value is not None:
                params[key] = value
        for key, flag in (("paused", paused), ("failing", failing)):
            if flag is not None:
                params[key] = "true" if flag else "false"
        if search:
            params["search"] = search
        if order != "id":
            if after_id is not None:
                raise InvalidInput("after_id", "pages by id only; with order='next_fire' "
                                               "use the API's cursor")
            params["order"] = order
        return [schedule_from_wire(s) for s in
                _pages(self._c, "/schedules", params, after_id, limit)]


_ITEM_FIELD = re.compile(r"^operations\[(\d+)\](?:\.(.*))?$")


def _batch(client: RemoteHorae, operations: Sequence[Any], atomic: bool, dry_run: bool,
           name: str, only: str | None) -> list[BatchResult]:
    if isinstance(operations, str | bytes | Mapping) or not isinstance(operations, Sequence):
        raise InvalidInput(name, "must be a list")
    body = {"operations": [_wire_op(item, i, name, only) for i, item in
                           enumerate(operations)], "atomic": atomic, "dry_run": dry_run}
    try:
        data = client.request("POST", "/schedules:batch", json=body)
    except InvalidInput as exc:
        index, field = _item_field(exc.field)
        if index is None:
            raise
        raise InvalidBatch(name, [(index, field, exc.reason)]) from None
    except Conflict as exc:
        raise Conflict(str(exc).replace("operations[", f"{name}[")) from None
    out = []
    for r in data["results"]:
        error = r.get("error") or {}
        out.append(BatchResult(r["index"], r["op"], r["id"], r["status"],
                               schedule_from_wire(r["schedule"]) if r["schedule"] else None,
                               error.get("kind"),
                               _item_field(error["field"])[1] if error else None,
                               error.get("reason")))
    return out


def _item_field(field: str) -> tuple[int | None, str]:
    """``operations[3].policies.retries`` -> (3, ``retries``), as the Python API names it."""
    m = _ITEM_FIELD.match(field)
    if m is None:
        return None, field
    return int(m.group(1)), _api_field(m.group(2) or "item")


def _wire_op(item: Any, index: int, name: str, only: str | None) -> Any:
    """An operation of the Python API as the REST API takes it (policies nested)."""
    if not isinstance(item, Mapping):
        return item  # the server says what is wrong with it
    if only is not None and "op" in item:
        raise InvalidInput(f"{name}[{index}].op", f"not an argument of {only}()")
    out: dict[str, Any] = {} if only is None else {"op": only}
    policies: dict[str, Any] = {}
    try:
        for key, value in item.items():
            if key in POLICY_NAMES:
                policies[key] = _policy_value(key, value)
            elif key == "trigger":
                out[key] = _trigger(value)
            elif key == "task":
                out[key] = _task_name(value)
            elif key in ("args", "tags") and isinstance(value, tuple):
                out[key] = list(value)
            else:
                out[key] = value
    except InvalidInput as exc:
        raise InvalidInput(f"{name}[{index}].{exc.field}", exc.reason) from None
    if policies:
        out["policies"] = policies
    return out


def _pages(client: RemoteHorae, path: str, params: dict[str, Any], cursor: Any,
           limit: int) -> Iterator[Any]:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInput("limit", "must be a whole number >= 1")
    left = limit
    while left > 0:
        page_params = dict(params, limit=min(left, 1000))
        if cursor is not None:
            page_params["cursor"] = str(cursor)
        data = client.request("GET", path, params=page_params)
        yield from data["items"]
        left -= len(data["items"])
        cursor = data["next_cursor"]
        if cursor is None:
            return


class RemoteRuns:
    """``app.runs`` over the API: the methods of :class:`horae.runs.RunManager`."""

    def __init__(self, client: RemoteHorae) -> None:
        self._c = client

    def create(
        self,
        task: Any,
        *,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        at: Any = None,
        delay: float | None = None,
        **policies: Any,
    ) -> Run:
        """Queue one run of ``task`` now, at ``at``, or after ``delay`` seconds."""
        body: dict[str, Any] = {
            "task": _task_name(task),
            "args": list(args) if isinstance(args, list | tuple) else args,
            "kwargs": dict(kwargs) if isinstance(kwargs, Mapping) else (kwargs or {}),
            "policies": _policies(policies),
        }
        if at is not None:
            body["at"] = to_epoch(at, "at")
        if delay is not None:
            body["delay"] = delay
        return run_from_wire(self._c.request("POST", "/runs", json=body))

    def get(self, run_id: int) -> Run:
        return run_from_wire(self._c.request("GET", f"/runs/{int(run_id)}"))

    def cancel(self, run_id: int) -> Run:
        return run_from_wire(self._c.request("POST", f"/runs/{int(run_id)}/cancel"))

    def retry(self, run_id: int) -> Run:
        return run_from_wire(self._c.request("POST", f"/runs/{int(run_id)}/retry"))

    def cancel_many(self, *, dry_run: bool = False, **filters: Any) -> BulkOutcome:
        return outcome_from_wire(self._c.request("POST", "/runs:cancel",
                                                 json=wire_request(filters, dry_run)))

    def retry_many(self, *, dry_run: bool = False, **filters: Any) -> BulkOutcome:
        return outcome_from_wire(self._c.request("POST", "/runs:retry",
                                                 json=wire_request(filters, dry_run)))

    def logs(self, run_id: int, after_id: int = 0) -> list[LogLine]:
        """Up to 1000 log lines after ``after_id`` (as the local store returns them)."""
        data = self._c.request("GET", f"/runs/{int(run_id)}/logs",
                               params={"after": after_id, "limit": LOG_PAGE})
        return [_build(LogLine, line, ("ts",)) for line in data["items"]]

    def wait(self, run_id: int, timeout: float = 60.0, interval: float = 0.05) -> Run:
        """Block until the run reaches a terminal state; TimeoutError after ``timeout`` s."""
        return wait_until_ended(self.get, run_id, timeout, interval)

    def list(self, *, schedule_id: str | None = None, task: str | None = None,
             states: Sequence[str] = (), state: str | None = None, queue: str | None = None,
             parent_id: int | None = None, since: Any = None, until: Any = None,
             finished_since: Any = None, finished_until: Any = None,
             before_id: int | None = None, limit: int = 100) -> list[Run]:
        """Runs newest first, fetched a page (at most 1000) at a time up to ``limit``."""
        wanted = [*(states or ()), *([state] if state else [])]
        for s in wanted:
            if s not in RunState.__members__.values():
                raise InvalidInput("state", f"unknown state {s!r}; known: "
                                            + ", ".join(x.value for x in RunState))
        params: dict[str, Any] = {"state": [str(s) for s in wanted]} if wanted else {}
        for key, value in (("schedule", schedule_id), ("task", task), ("queue", queue),
                           ("parent", parent_id)):
            if value is not None:
                params[key] = value
        for key, value in (("since", since), ("until", until),
                           ("finished_since", finished_since),
                           ("finished_until", finished_until)):
            if value is not None:
                params[key] = repr(to_epoch(value, key))
        return [run_from_wire(r) for r in _pages(self._c, "/runs", params, before_id, limit)]
