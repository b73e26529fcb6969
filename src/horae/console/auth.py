"""Sign-in sessions, CSRF, and the bridge that lets the browser call the REST API.

A session acts for an API token or for a user (name and password); it is its own secret.
The session cookie (HttpOnly, SameSite=Lax, Secure over HTTPS) carries only a random value
(256 bits); the database keeps its SHA-256 as the session's id, beside the token id or user
id it was made from, name, role, CSRF value and expiry. The cookie never carries the API
token, so a stolen or left-over cookie is no bearer token, and it is worth nothing once the
row is gone: signing out deletes it (for every server), and a session is found only while
its token is not revoked and its user not disabled; a new password ends it too.

The browser calls ``/api/v1`` itself (fetch, EventSource). :class:`ApiBridge` puts the
session it finds for the cookie in the request scope (which no client can set), so the API's
own authentication, roles and audit decide everything. A call that changes something must
carry the session's CSRF value in ``X-CSRF-Token``; without it the bridge answers 403.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from horae.mounting import root_of, route_path
from horae.store.console_store import ConsoleSession, ConsoleStore

SESSION_COOKIE = "horae_session"
CSRF_COOKIE = "horae_csrf"  # before sign-in: a signed double-submit value
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_TTL = 12 * 3600.0


#: The request-scope key through which the bridge hands the API the console session it
#: found (horae.api.framework.SESSION_SCOPE_KEY).
SESSION_SCOPE_KEY = "horae.session"


@dataclass(frozen=True)
class SignedIn:
    session: ConsoleSession

    @property
    def user_id(self) -> int | None:
        return self.session.user_id


def session_id(secret: str) -> str:
    """The id under which a session is stored: the SHA-256 of its cookie's secret, so
    reading the table gives nobody a cookie."""
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


class Sessions:
    """Cookies and rows of console sessions; one per server, over the app's store."""

    def __init__(self, store: ConsoleStore) -> None:
        self.store = store
        self._key: bytes | None = None

    @property
    def key(self) -> bytes:
        if self._key is None:
            self._key = self.store.secret("session").encode()
        return self._key

    def sign(self, text: str) -> str:
        mac = hmac.new(self.key, text.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def unsign(self, value: str) -> str | None:
        text, _, sig = value.rpartition(".")
        if not text or not hmac.compare_digest(sig, self.sign(text)):
            return None
        return text

    # -- sessions ------------------------------------------------------------------------

    def start(self, token_id: str, name: str, role: str) -> tuple[SignedIn, str]:
        """A new session made from the token ``token_id``, and its cookie value."""
        secret = secrets.token_urlsafe(32)
        session = self.store.session_add(id=session_id(secret), token_id=token_id,
                                         name=name, role=role, ttl=SESSION_TTL)
        return SignedIn(session), secret

    def start_user(self, user_id: int, name: str, role: str) -> tuple[SignedIn, str]:
        """A new session for a user, and its cookie value."""
        secret = secrets.token_urlsafe(32)
        session = self.store.session_add(id=session_id(secret), token_id="", name=name,
                                         role=role, ttl=SESSION_TTL, user_id=user_id)
        return SignedIn(session), secret

    def resolve(self, cookie: str | None) -> SignedIn | None:
        """The live session of a cookie: not signed out nor expired, and its token not
        revoked, its user not disabled."""
        if not cookie or len(cookie) > 200:
            return None
        session = self.store.session_get(session_id(cookie))
        return None if session is None else SignedIn(session)

    def end(self, signed_in: SignedIn) -> None:
        self.store.session_delete(signed_in.session.id)

    # -- CSRF before sign-in -------------------------------------------------------------

    def anonymous_csrf(self, request: Request) -> tuple[str, str | None]:
        """The CSRF value for a signed-out page, and a cookie to set when it is new."""
        current = request.cookies.get(CSRF_COOKIE)
        value = self.unsign(current) if current else None
        if value:
            return value, None
        value = secrets.token_urlsafe(24)
        return value, f"{value}.{self.sign(value)}"

    def csrf_ok(self, request: Request, given: str | None,
                signed_in: SignedIn | None) -> bool:
        if not given:
            return False
        if signed_in is not None:
            return hmac.compare_digest(given, signed_in.session.csrf)
        current = request.cookies.get(CSRF_COOKIE)
        value = self.unsign(current) if current else None
        return value is not None and hmac.compare_digest(given, value)


def set_cookie(response: Response, request: Request, name: str, value: str,
               max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path=cookie_path(request),
                        httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")


def cookie_path(request: Request) -> str:
    """The console's cookies belong to its prefix (``/horae``), not the whole site."""
    return root_of(request.scope) or "/"


class ApiBridge:
    """ASGI middleware in front of the API: a console session becomes the request's
    credentials (an ``Authorization`` header, when sent, wins)."""

    def __init__(self, app: ASGIApp, sessions: Sessions, prefix: str = "/api/") -> None:
        self.app = app
        self.sessions = sessions
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not route_path(scope).startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        cookie = _cookie(headers.get(b"cookie", b"").decode("latin-1"), SESSION_COOKIE)
        if b"authorization" in headers or cookie is None:
            await self.app(scope, receive, send)
            return
        from starlette.concurrency import run_in_threadpool

        signed_in = await run_in_threadpool(self.sessions.resolve, cookie)
        if signed_in is None:
            await self.app(scope, receive, send)  # the API answers 401
            return
        if scope["method"] not in SAFE_METHODS:
            given = headers.get(CSRF_HEADER.encode(), b"").decode("latin-1")
            if not given or not hmac.compare_digest(given, signed_in.session.csrf):
                await _forbidden(send)
                return
        scope = dict(scope)
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"cookie"]
        scope[SESSION_SCOPE_KEY] = signed_in.session
        await self.app(scope, receive, send)


def _cookie(header: str, name: str) -> str | None:
    if not header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


async def _forbidden(send: Send) -> None:
    body: dict[str, Any] = {
        "type": "https://horae.dev/problems/csrf", "title": "Forbidden", "status": 403,
        "detail": "a console request that changes something must carry the X-CSRF-Token "
                  "header of its session (reload the page)"}
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})
