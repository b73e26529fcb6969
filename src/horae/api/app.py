"""The ASGI application: every operation of /api/v1 on Starlette."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from horae.api import events as E
from horae.api import schemas as S
from horae.api.attempt_routes import ATTEMPT_OPERATIONS
from horae.api.auth import Authenticator, Role
from horae.api.backfill_routes import BACKFILL_OPERATIONS
from horae.api.batch_routes import BATCH_OPERATIONS
from horae.api.bodies import BodyLimit
from horae.api.bulk_routes import BULK_OPERATIONS
from horae.api.channel_routes import CHANNEL_OPERATIONS
from horae.api.framework import Call, Operation, problem_for, serve_operation
from horae.api.health import HEALTH_OPERATIONS
from horae.api.limits import FailureLimits
from horae.api.openapi import build_openapi, docs_html
from horae.api.problems import ApiError
from horae.api.queue_routes import QUEUE_OPERATIONS
from horae.api.routes import OPERATIONS
from horae.api.user_routes import USER_OPERATIONS
from horae.api.workflow_routes import WORKFLOW_OPERATIONS
from horae.api.workflow_run_routes import WORKFLOW_RUN_OPERATIONS
from horae.app import Horae
from horae.config import setting
from horae.errors import InvalidInput
from horae.store.api_store import ApiStore
from horae.store.auth_store import AuthFailureStore


@dataclass
class ApiSettings:
    """Limits and timings of one API process."""

    max_body: int = 1 << 20  # bytes of a request body (any: API, console forms, preview)
    auth_failure_limit: int = 20  # failed authentications per client address...
    auth_account_failure_limit: int = 10  # ...failed passwords per account name...
    auth_failure_window: float = 60.0  # ...in this many seconds, then 429
    auth_recheck: float = 2.0  # seconds between re-checks of a stream's credentials
    poll_interval: float = 0.1  # seconds between reads of a stream
    gap_timeout: float = 5.0  # see horae.api.events
    heartbeat: float = 15.0  # seconds between keep-alive comments on a quiet stream
    header_timeout: float = 10.0  # seconds a client has to send a request's headers
    body_timeout: float = 30.0  # seconds a request's body may take, from its first read
    keep_alive: float = 5.0  # seconds an idle connection stays open between requests
    max_connections: int = 2048  # open connections; past it requests are answered 503
    ready_max_age: float = 60.0  # seconds a loop may go without a pass and stay "ready"

    @classmethod
    def from_config(cls) -> ApiSettings:
        """Defaults, overridden by HORAE_API_<FIELD> (environment) or api_<field> (horae.toml)."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = setting(f"api_{f.name}")
            if raw is not None:
                kind = int if isinstance(getattr(cls, f.name), int) else float
                try:
                    values[f.name] = kind(raw)
                except ValueError:
                    raise InvalidInput(f"api_{f.name}", f"{raw!r} is not a number") from None
        return cls(**values)


class Api:
    """What every operation shares: the app, the API store, settings, auth, stop signal."""

    def __init__(self, horae: Horae, settings: ApiSettings) -> None:
        self.horae = horae
        self.settings = settings
        self.stopping = threading.Event()
        self._store: ApiStore | None = None
        self._auth: Authenticator | None = None
        self._lock = threading.Lock()

    @property
    def store(self) -> ApiStore:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = ApiStore(self.horae.store)
        return self._store

    @property
    def auth(self) -> Authenticator:
        if self._auth is None:
            s = self.settings
            limits = FailureLimits(AuthFailureStore(self.horae.store), s.auth_failure_limit,
                                   s.auth_failure_window, s.auth_account_failure_limit)
            self._auth = Authenticator(self.store, limits)
        return self._auth


def _meta_operations(doc_holder: dict[str, Any]) -> list[Operation]:
    async def openapi(c: Call) -> Response:
        return JSONResponse(doc_holder["doc"])

    async def docs(c: Call) -> Response:
        return HTMLResponse(docs_html(doc_holder["doc"]))

    return [
        Operation("GET", "/openapi.json", "getOpenApi", "This API's OpenAPI 3.1 document",
                  "meta", Role.VIEWER, streamer=openapi),
        Operation("GET", "/docs", "getDocs", "This API's documentation, for people", "meta",
                  Role.VIEWER, streamer=docs),
    ]


EVENT_OPERATIONS = [
    Operation("GET", "/events", "listEvents",
              "Changes as they happen: run states, progress, log lines, schedules", "events",
              Role.VIEWER, streamer=E.events, query=E.EventQuery, response=S.EventPage,
              errors=(422,), sse=True,
              description="With 'Accept: text/event-stream', a server-sent event stream "
                          "(each event's id resumes it through Last-Event-ID); otherwise "
                          "one JSON page after `after`."),
    Operation("GET", "/runs/{run_id:int}/logs", "getRunLogs", "A run's log lines", "runs",
              Role.VIEWER, streamer=E.run_logs, query=E.LogQuery, response=S.LogPage,
              errors=(404, 406, 422), sse=True,
              description="JSON pages after `after`; with 'Accept: text/event-stream' the "
                          "lines stream until the run ends (`follow`)."),
]


def create_app(horae: Horae, settings: ApiSettings | None = None) -> Starlette:
    """The REST API of ``horae`` as an ASGI app (serve it with uvicorn)."""
    api = Api(horae, settings or ApiSettings())
    holder: dict[str, Any] = {}
    operations = [*HEALTH_OPERATIONS, *OPERATIONS, *BATCH_OPERATIONS, *BULK_OPERATIONS,
                  *QUEUE_OPERATIONS, *ATTEMPT_OPERATIONS, *WORKFLOW_OPERATIONS,
                  *WORKFLOW_RUN_OPERATIONS, *USER_OPERATIONS, *CHANNEL_OPERATIONS,
                  *EVENT_OPERATIONS, *BACKFILL_OPERATIONS,
                  *_meta_operations(holder)]
    holder["doc"] = build_openapi(operations)
    # Every body this app reads -- API, and the console's pages mounted on it later -- is
    # bounded while it streams.
    app = Starlette(routes=_routes(api, operations),
                    middleware=[Middleware(BodyLimit, limit=api.settings.max_body,
                                          timeout=api.settings.body_timeout, larger={
                        (op.method, "/api/v1" + op.path): op.max_body
                        for op in operations if op.max_body})],
                    exception_handlers={HTTPException: _http_error, Exception: _crash})
    app.state.api = api
    return app


def _routes(api: Api, operations: Sequence[Operation]) -> list[Route]:
    by_path: dict[str, dict[str, Operation]] = {}
    for op in operations:
        by_path.setdefault(op.path, {})[op.method] = op
    routes = []
    for path, ops in by_path.items():
        async def endpoint(request: Request, ops: dict[str, Operation] = ops) -> Response:
            return await serve_operation(ops[request.method], api, request)

        route = Route("/api/v1" + path, endpoint, methods=list(ops))
        assert route.methods is not None
        route.methods.discard("HEAD")  # only what the document lists
        routes.append(route)
    return routes


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if exc.status_code != 404 else f"no such resource: {request.url.path}"
    return ApiError(exc.status_code, detail, headers=exc.headers).response()


async def _crash(request: Request, exc: Exception) -> Response:
    return problem_for(exc).response()
