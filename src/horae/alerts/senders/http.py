"""The one way senders reach the network: a POST with a timeout, over http or https only,
following a redirect only to the same scheme, host and port (a 307/308, which keeps the
method and body), and never writing a robot URL (a credential) into a log line."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

MAX_REPLY = 500
_SENDING: contextvars.ContextVar[bool] = contextvars.ContextVar("horae_alert_sending",
                                                                default=False)


@dataclass(frozen=True)
class HttpRequest:
    """A rendered notification: where to POST it, the exact body bytes, the headers."""

    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    text: str


class SendError(Exception):
    """The request got no usable answer; the message is safe to show (no URL path)."""


def origin(url: str) -> str:
    """scheme://host[:port] of ``url``: what may be said of a URL whose path is secret."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


class _RedactUrls(logging.Filter):
    """httpx logs each request's full URL at INFO; while a channel sends, the URL is
    replaced by its origin, since a robot's URL carries its access token."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _SENDING.get() and isinstance(record.args, tuple):
            record.args = tuple(origin(str(a)) + "/…" if isinstance(a, httpx.URL) else a
                                for a in record.args)
        return True


logging.getLogger("httpx").addFilter(_RedactUrls())


@contextmanager
def _sending() -> Iterator[None]:
    token = _SENDING.set(True)
    try:
        yield
    finally:
        _SENDING.reset(token)


def post(req: HttpRequest, timeout: float) -> HttpAnswer:
    """POST ``req``; raises SendError when no answer came (timeout, refused, bad TLS, a
    redirect elsewhere)."""
    headers = {"Content-Type": "application/json; charset=utf-8",
               "User-Agent": "horae", **req.headers}
    target = req.url
    with _sending(), httpx.Client(timeout=httpx.Timeout(timeout),
                                  follow_redirects=False) as client:
        for _ in range(3):
            try:
                r = client.post(target, content=req.body, headers=headers)
            except httpx.TimeoutException:
                raise SendError(f"timed out after {timeout:g} s waiting for "
                                f"{origin(target)}") from None
            except httpx.HTTPError as e:
                raise SendError(f"could not reach {origin(target)}: "
                                f"{type(e).__name__}: {_reason(e)}") from None
            if not r.is_redirect:
                return HttpAnswer(r.status_code, r.text[:MAX_REPLY])
            location = urljoin(target, r.headers.get("location", ""))
            if r.status_code not in (307, 308) or origin(location) != origin(target):
                raise SendError(f"answered with a redirect (HTTP {r.status_code}) to "
                                f"{origin(location)}; redirects to another host, or that "
                                "would drop the body, are not followed")
            target = location
    raise SendError("too many redirects")


def _reason(e: Exception) -> str:
    # The cause's text (e.g. "[Errno 111] Connection refused"), never the request's URL.
    # Senders also redact every secret value out of the error before anyone sees it.
    cause = e.__cause__ or e.__context__
    return str(cause or e)[:200]
