"""How an operation is declared and served: authentication, limits, parsing, idempotency,
audit, and errors as problem documents. Endpoints themselves are plain functions of a
:class:`Call` that run in a thread (the store is synchronous); a change wraps its store call
in :meth:`Call.audited`, so its audit record is written in the change's transaction."""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, get_origin

from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from horae.api.auth import Principal, Role, require
from horae.api.bodies import BodyTooLarge
from horae.api.bodies import loads as loads_body
from horae.api.problems import (
    ApiError,
    database_unavailable,
    from_invalid_input,
    from_validation_error,
    invalid,
)
from horae.errors import Conflict, InvalidInput, NotFound, text_problem
from horae.locales import from_accept_language
from horae.queue_warnings import unserved_queue_warnings
from horae.store import on_change
from horae.store.connection import Tx
from horae.store.console_store import ConsoleSession

log = logging.getLogger("horae.api")
MAX_ID = 2**63 - 1


#: Set by the console's bridge on a signed-in browser's API call: the console session it
#: found valid (a scope key, so no client can send it). The same value as
#: horae.console.auth.SESSION_SCOPE_KEY.
SESSION_SCOPE_KEY = "horae.session"
#: A user's id in the scope: a signed-in user without a session (embedding and tests).
USER_SCOPE_KEY = "horae.user_id"


@dataclass
class Reply:
    """What an operation answers."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IdempotencyKey:
    """The Idempotency-Key of a request, for its actor, and the request's fingerprint."""

    actor: str
    key: str
    fingerprint: str


class KeyTaken(Conflict):
    """A request with the same Idempotency-Key committed first: this one is rolled back
    and answered with the stored response."""


@dataclass
class Call:
    """One request, parsed and authenticated."""

    api: Any  # horae.api.app.Api (kept loose to avoid an import cycle)
    request: Request
    principal: Principal | None
    path: dict[str, Any]
    query: Any
    body: Any
    raw_body: bytes = b""

    audits: int = 0
    #: Set for an operation that honours Idempotency-Key when the request sent one.
    idempotency: IdempotencyKey | None = None
    _reply: Reply | None = None

    @property
    def headers(self) -> Any:
        return self.request.headers

    @property
    def language(self) -> str:
        """'en' or 'zh', from Accept-Language: the language of the sentences the API
        writes for people (trigger descriptions); errors keep English reasons and add
        codes (horae.reasons) for a face to translate."""
        return from_accept_language(self.request.headers.get("accept-language"))

    @contextmanager
    def audited(self, action: str, kind: str, *, target: Any = None, before: Any = None,
                after: Callable[[Any], Any] | None = None,
                reply: Callable[[Any], Reply] | None = None,
                queues: Callable[[Any], list[str]] | None = None) -> Iterator[None]:
        """Audit the change the block makes, in the change's own transaction.

        The store calls back inside that transaction with its result; ``target`` (a value,
        or a function of the result) names what changed and ``after`` turns the result into
        the record after the change. The audit record commits with the change or not at
        all. ``reply`` turns the result into the answer (:attr:`reply`): an idempotent
        operation needs it, since its Idempotency-Key and answer are stored in that same
        transaction (a crash leaves the change and the answer, or neither). ``queues``
        names the queues the change's runs go to: the answer's ``warnings`` list those no
        live worker serves (read in the same transaction).
        """
        principal = self.principal
        assert principal is not None

        def write(tx: Tx, result: Any) -> None:
            self.api.store.audit_in(
                tx, actor=principal.actor, role=principal.role.label, action=action,
                target_kind=kind, target_id=target(result) if callable(target) else target,
                before=before, after=None if after is None else after(result))
            self.audits += 1
            if reply is not None:
                self._reply = reply(result)
                if queues is not None:
                    self._reply.body["warnings"] = unserved_queue_warnings(
                        self.api.horae.store.queues_unserved_in(tx, queues(result)))
            if self.idempotency is not None:
                self._remember(tx)

        with on_change(write):
            yield

    @property
    def reply(self) -> Reply:
        """The answer ``reply`` of :meth:`audited` made inside the change's transaction."""
        assert self._reply is not None, "audited(reply=...) made no answer"
        return self._reply

    def remember_after(self, reply: Reply) -> Reply:
        """Store ``reply`` under the request's Idempotency-Key after a change that spans
        several transactions (a batch replans what others changed meanwhile), in a
        transaction of its own. A crash between the change and this write leaves the key
        free: a retry performs the batch again, which adds nothing twice (an id that exists
        fails as a conflict; an upsert that changes nothing writes nothing)."""
        if self.idempotency is not None:
            self._reply = reply
            with self.api.store.store.db.write() as tx:
                self._remember(tx)
        return reply

    def _remember(self, tx: Tx) -> None:
        """Store the answer under the request's Idempotency-Key, in ``tx``."""
        k = self.idempotency
        assert k is not None and self._reply is not None, \
            "an idempotent operation's change must say its reply: audited(reply=...)"
        if not 200 <= self._reply.status < 300:
            return
        if not self.api.store.idempotency_record_in(
                tx, k.actor, k.key, k.fingerprint, self._reply.status, json.dumps(
                    {"body": self._reply.body, "headers": self._reply.headers},
                    ensure_ascii=False)):
            raise KeyTaken("a request with this Idempotency-Key was answered meanwhile")
        self.idempotency = None  # one change per idempotent request

    def expected_version(self) -> int | None:
        """The version ``If-Match`` names (None: no condition); 412 when it names none."""
        value = self.request.headers.get("if-match")
        if value is None or value.strip() == "*":
            return None
        tag = value.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        tag = tag.strip('"')
        if not tag.isdigit() or len(tag) > 18:
            raise ApiError(412, f"If-Match {value!r} names no version of this resource; "
                                "send the ETag of your last read", slug="precondition-failed")
        return int(tag)


Handler = Callable[[Call], Reply]
Streamer = Callable[[Call], Awaitable[Response]]


@dataclass
class Operation:
    method: str
    path: str  # under /api/v1, Starlette syntax ({run_id:int})
    operation_id: str
    summary: str
    tag: str
    role: Role | None
    handler: Handler | None = None
    streamer: Streamer | None = None
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    idempotent: bool = False
    if_match: bool = False
    etag: bool = False
    location: bool = False
    sse: bool = False  # also answers text/event-stream
    unavailable: type[BaseModel] | None = None  # the 503 body, instead of a problem document
    max_body: int | None = None  # bytes of a request body; None: the API's max_body
    body_optional: bool = False  # no body (no Content-Type, or nothing sent): body is None
    description: str = ""
    #: Other successful answers than ``status``: (status, body model, description).
    also: tuple[tuple[int, type[BaseModel], str], ...] = ()


async def serve_operation(op: Operation, api: Any, request: Request) -> Response:
    """Everything around the handler; every error becomes a problem document."""
    try:
        principal = None
        if op.role is not None:
            principal = await run_in_threadpool(_authenticate, api, request)
            require(principal, op.role)
        path = _path_params(request)
        query = _query(op.query, request)
        raw, body = b"", None
        if op.body is not None and not (op.body_optional
                                        and "content-type" not in request.headers):
            raw = await _read_body(request, max(op.max_body or 0, api.settings.max_body))
            if raw.strip() or not op.body_optional:
                body = _parse_body(op.body, raw)
        call = Call(api, request, principal, path, query, body, raw)
        if op.streamer is not None:
            return await op.streamer(call)
        return await run_in_threadpool(_execute, op, call)
    except Exception as exc:
        return problem_for(exc).response()


def _authenticate(api: Any, request: Request) -> Principal:
    session = request.scope.get(SESSION_SCOPE_KEY)
    user_id = request.scope.get(USER_SCOPE_KEY)
    header = request.headers.get("authorization")
    if isinstance(session, ConsoleSession) and header is None:
        return api.auth.authenticate_session(session)  # type: ignore[no-any-return]
    if isinstance(user_id, int) and header is None:
        return api.auth.authenticate_user(user_id)  # type: ignore[no-any-return]
    client = request.client.host if request.client else "?"
    return api.auth.authenticate(header, client)  # type: ignore[no-any-return]


def problem_for(exc: BaseException) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, InvalidInput):
        return from_invalid_input(exc)
    if isinstance(exc, NotFound):
        return ApiError(404, str(exc), slug="not-found")
    if isinstance(exc, Conflict):
        return ApiError(409, str(exc), slug="conflict")
    if isinstance(exc, ValidationError):
        return from_validation_error(exc)
    if isinstance(exc, OverflowError):
        return invalid("body", f"a time or number is out of range: {exc}")
    unavailable = database_unavailable(exc)
    if unavailable is not None:
        log.warning("answered 503: %s", exc)
        return unavailable
    log.exception("unexpected error in the API")
    return ApiError(500, f"unexpected {type(exc).__name__}; the server log has the details",
                    slug="internal-error")


# -- the synchronous part: idempotency, handler, audit ---------------------------------------


def _execute(op: Operation, call: Call) -> Response:
    """Run the handler. With an Idempotency-Key, a stored answer is replayed; otherwise the
    handler's change stores its answer under the key in its own transaction (see
    :meth:`Call.audited`), so no reservation outlives a crash. A duplicate that commits
    first (PostgreSQL makes the second wait for it) leaves the second a replay."""
    key = call.request.headers.get("idempotency-key") if op.idempotent else None
    if key is not None:
        if not 1 <= len(key) <= 255 or not key.isprintable():
            raise invalid("Idempotency-Key", "1 to 255 printable characters")
        fingerprint = hashlib.sha256(
            f"{op.method} {call.request.url.path}\n".encode() + call.raw_body).hexdigest()
        actor = call.principal.actor if call.principal else "-"
        stored = call.api.store.idempotency_get(actor, key)
        if stored is not None:
            return _replay(stored, fingerprint)
        call.idempotency = IdempotencyKey(actor, key, fingerprint)
    try:
        reply = op.handler(call) if op.handler else Reply(status=500)
    except Exception:
        # A duplicate answered meanwhile (KeyTaken, or a Conflict its change caused, like
        # the schedule id it created): give this request that answer.
        stored = None if key is None else call.api.store.idempotency_get(actor, key)
        if stored is None or stored.status is None:
            raise
        return _replay(stored, fingerprint)
    return _response(reply)


def _response(reply: Reply) -> Response:
    if reply.status == 204:
        return Response(status_code=204, headers=reply.headers)
    return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)


def _replay(stored: Any, fingerprint: str) -> Response:
    if stored.fingerprint != fingerprint:
        raise ApiError(422, "this Idempotency-Key was used with a different request; use a "
                            "new key for a new request", slug="idempotency-key-reused",
                       errors=[{"field": "Idempotency-Key", "reason": "used for another request"}])
    if stored.status is None:
        raise ApiError(409, "a request with this Idempotency-Key is still being processed; "
                            "retry in a moment", slug="idempotency-key-in-use",
                       headers={"Retry-After": "1"})
    saved = json.loads(stored.body)
    headers = dict(saved.get("headers") or {}) | {"Idempotent-Replayed": "true"}
    return _response(Reply(saved["body"], stored.status, headers))


# -- parsing -----------------------------------------------------------------------------------


def check_text(value: str, field: str) -> str:
    """Text the databases can store: no NUL, no lone surrogate."""
    reason = text_problem(value)
    if reason is not None:
        raise invalid(field, reason)
    return value


def _check_json(value: Any, path: str) -> None:
    if isinstance(value, str):
        check_text(value, path or "body")
    elif isinstance(value, dict):
        for k, v in value.items():
            check_text(k, path or "body")
            _check_json(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_json(v, f"{path}.{i}" if path else str(i))
    elif isinstance(value, float) and not math.isfinite(value):
        raise invalid(path or "body", "must be a finite number")


def _path_params(request: Request) -> dict[str, Any]:
    params = dict(request.path_params)
    for name, value in params.items():
        if isinstance(value, int) and not 0 < value <= MAX_ID:
            raise ApiError(404, f"no {name.removesuffix('_id')} {value}", slug="not-found")
        if isinstance(value, str) and ("\x00" in value or not _encodable(value)):
            raise ApiError(404, f"no such {name.removesuffix('_id')}", slug="not-found")
    return params


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _query(model: type[BaseModel] | None, request: Request) -> Any:
    if model is None:
        return None
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        if get_origin(info.annotation) is list or "list[" in str(info.annotation):
            values = request.query_params.getlist(key)
            if values:
                data[name] = [check_text(v, key) for v in values]
        elif key in request.query_params:
            data[name] = check_text(request.query_params[key], key)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc) from None


async def _read_body(request: Request, limit: int) -> bytes:
    ctype = request.headers.get("content-type", "")
    media = ctype.split(";", 1)[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise ApiError(415, f"send the body as application/json, not {ctype or 'nothing'!r}",
                       errors=[{"field": "Content-Type", "reason": "must be application/json"}],
                       slug="unsupported-media-type")
    # horae.api.bodies.BodyLimit already bounds every body of the app; this bound is the
    # API's own, for an app served without that middleware.
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_body(model: type[BaseModel], raw: bytes) -> BaseModel:
    if not raw.strip():
        raise invalid("body", "a JSON object is required")
    try:
        data = loads_body(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}",
                       errors=[{"field": "body", "reason": f"not valid JSON: {exc}"}],
                       slug="malformed-json") from None
    if not isinstance(data, dict):
        raise invalid("body", f"must be a JSON object, not {type(data).__name__}")
    _check_json(data, "")
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        raise from_validation_error(exc) from None
