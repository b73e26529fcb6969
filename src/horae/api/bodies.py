"""Bounds on what a request body may cost: its size while it streams, and the nesting depth
of its JSON before it is parsed.

:class:`BodyLimit` wraps the whole ASGI app (API and console), so no endpoint can read more
than the limit, whatever it does with the body: a declared ``Content-Length`` over the limit
is answered 413 before a byte of the body is read, and a body sent without a length
(chunked) is cut where it passes the limit. Memory stays flat however large the body is.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from horae.api.problems import PROBLEM_MEDIA_TYPE, ApiError
from horae.mounting import route_path

#: How deeply JSON objects and arrays may nest in a request body. Python's parser and the
#: body checks recurse; a body of a thousand ``[`` would end in a RecursionError (a 500).
MAX_JSON_DEPTH = 64
_OPENERS = frozenset(b"[{")
_CLOSERS = frozenset(b"]}")


class BodyTooLarge(ApiError):
    """A request body past the limit: 413, naming the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the body is larger than {limit} bytes",
                         errors=[{"field": "body", "reason": f"at most {limit} bytes"}],
                         headers={"Connection": "close"}, slug="body-too-large")


class BodyTooSlow(ApiError):
    """A request body still incomplete ``timeout`` seconds after it was first read: 408."""

    def __init__(self, timeout: float) -> None:
        super().__init__(408, f"the body did not arrive within {timeout:g} seconds",
                         errors=[{"field": "body", "reason": f"send it within {timeout:g} s"}],
                         headers={"Connection": "close"}, slug="body-too-slow")


class BodyLimit:
    """ASGI middleware: at most ``limit`` bytes of request body reach ``app``, within
    ``timeout`` seconds; the ``(method, path)`` pairs of ``larger`` have their own, larger
    size limit (a batch)."""

    def __init__(self, app: ASGIApp, limit: int,
                 larger: dict[tuple[str, str], int] | None = None,
                 timeout: float = 30.0) -> None:
        self.app = app
        self.limit = limit
        self.larger = larger or {}
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get((scope["method"], route_path(scope)), self.limit)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _answer(send, BodyTooLarge(limit))
            return
        body = _BoundedBody(receive, limit, self.timeout)
        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, body.receive, tracked_send)
        except (BodyTooLarge, BodyTooSlow) as exc:
            # The API turns it into its own problem answer; anything else reading the body
            # (the console's forms, /preview) lets it rise to here.
            if not started:
                await _answer(send, exc)


class _BoundedBody:
    """A request's ``receive``: at most ``limit`` bytes of body, within ``timeout`` seconds
    of the first read of it."""

    def __init__(self, receive: Receive, limit: int, timeout: float) -> None:
        self._receive = receive
        self.limit = limit
        self.timeout = timeout
        self.received = 0
        self.complete = False
        self.deadline: float | None = None

    async def receive(self) -> Message:
        if self.complete:  # after the body: only a disconnect comes, whenever it does
            return await self._receive()
        if self.deadline is None:
            self.deadline = time.monotonic() + self.timeout
        try:
            message = await asyncio.wait_for(self._receive(), self.deadline - time.monotonic())
        except TimeoutError:
            raise BodyTooSlow(self.timeout) from None
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                raise BodyTooLarge(self.limit)
            self.complete = not message.get("more_body", False)
        return message


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


async def _answer(send: Send, error: ApiError) -> None:
    data = json.dumps(error.body(), ensure_ascii=False).encode()
    headers = [(b"content-type", PROBLEM_MEDIA_TYPE.encode()),
               (b"content-length", str(len(data)).encode())]
    headers += [(k.lower().encode("latin-1"), v.encode("latin-1"))
                for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def check_depth(raw: bytes, field: str = "body", limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse JSON text nested deeper than ``limit`` (400 naming ``field``), before any
    recursive parser sees it."""
    # Cheap first: a body with fewer brackets than the limit cannot be too deep.
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in _OPENERS:
            depth += 1
            if depth > limit:
                reason = f"nested deeper than {limit} levels"
                raise ApiError(400, f"{field}: {reason}",
                               errors=[{"field": field, "reason": reason}],
                               slug="json-too-deep")
        elif byte in _CLOSERS:
            depth -= 1


def loads(raw: bytes | str, field: str = "body") -> Any:
    """``json.loads`` of a request body with the depth bound; ValueError when not JSON."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    check_depth(data, field)
    return json.loads(raw, parse_constant=_reject_constant)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
