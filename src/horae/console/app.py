"""The web console: pages served at ``/``, their data fetched by the browser from the REST
API (``/api/v1``) with the signed-in user's credentials.

The server renders each page's frame (navigation, headings, forms, the message catalogue
of the chosen language); ``static/console.js`` fills it from the API and keeps it live
over server-sent events. The server reads no schedule or run itself: its only reads are
the session and, at sign-in, the token's record through the API's authenticator.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from importlib import resources
from typing import Any, Protocol
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from horae.alerts.channels import describe_kinds
from horae.api.bodies import BodyTooLarge
from horae.api.bodies import loads as loads_body
from horae.api.problems import ApiError, invalid
from horae.console import i18n
from horae.console.auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_TTL,
    ApiBridge,
    Sessions,
    SignedIn,
    cookie_path,
    set_cookie,
)
from horae.errors import InvalidInput
from horae.instants import iso
from horae.locales import ACCEPTED, language_of
from horae.mounting import root_of, route_path
from horae.reasons import REASONS, TRANSLATED_PARAMS
from horae.store.console_store import ConsoleSession, ConsoleStore
from horae.triggers import trigger_from_dict, zone_of
from horae.triggers.window import preview

ROLES = ("viewer", "operator", "editor", "admin")
FORM_LIMIT = 64 * 1024  # bytes of a console form
#: Checks a token: (token id, name, role) when valid, else None; SignInRefused(429) when
#: the address made too many failed attempts.
TokenCheck = Callable[[str, str], "tuple[str, str, str] | None"]


class SignInRefused(Exception):
    """A sign-in or password check that failed: ``status`` 401 (wrong), 422 (a bad new
    password, ``field`` names it) or 429 (too many failed attempts from the address)."""

    def __init__(self, status: int, field: str = "") -> None:
        super().__init__(f"{status} {field}".strip())
        self.status = status
        self.field = field


class Accounts(Protocol):
    """What the console needs of user accounts (the API's authenticator provides it)."""

    def sign_in(self, name: str, password: str, client: str) -> tuple[int, str, str]:
        """(user id, name, role) of an active user, else SignInRefused (401/429)."""

    def change_password(self, session: ConsoleSession, current: str, new: str,
                        client: str) -> None:
        """Set a signed-in user's password after checking the current one; ends the
        user's other sessions; audited. SignInRefused (401, 422 with the field, 429)."""

_PAGES: list[tuple[str, str, str, str]] = [
    # path, template, navigation key, title message
    ("/", "dashboard.html", "dashboard", "Dashboard"),
    ("/schedules", "schedules.html", "schedules", "Schedules"),
    ("/schedules/new", "schedule_edit.html", "schedules", "New schedule"),
    ("/schedules/{id:path}/edit", "schedule_edit.html", "schedules", "Edit schedule"),
    ("/schedules/{id:path}", "schedule.html", "schedules", "Schedule"),
    ("/runs", "runs.html", "runs", "Runs"),
    ("/runs/{id:int}", "run.html", "runs", "Run"),
    ("/workflows", "workflows.html", "workflows", "Workflows"),
    ("/workflows/{id:path}", "workflow.html", "workflows", "Workflow"),
    ("/workers", "workers.html", "workers", "Workers"),
    ("/tasks", "tasks.html", "tasks", "Tasks"),
    ("/audit", "audit.html", "audit", "Audit"),
    ("/users", "users.html", "users", "Users"),
    ("/channels", "channels.html", "channels", "Channels"),
]
_EDITOR_PAGES = {"/schedules/new", "/schedules/{id:path}/edit"}
_ADMIN_PAGES = {"/users", "/channels"}
_PASSWORD_ERRORS = {  # SignInRefused on the account page -> the message shown
    401: "The current password is wrong.",
    429: "Too many failed sign-ins from this address; try again in a minute.",
}


class Console:
    """The console's routes and the API bridge, over one Horae app."""

    def __init__(self, sessions: Sessions, check_token: TokenCheck,
                 api_prefix: str = "/api/v1", accounts: Accounts | None = None) -> None:
        self.sessions = sessions
        self.check_token = check_token
        self.accounts = accounts
        self.api_prefix = api_prefix
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("horae.console", "templates"),
            autoescape=True, trim_blocks=True, lstrip_blocks=True)
        # The channel form's fields per kind (names, required, defaults), for channels.js.
        self.env.globals["channel_kinds_json"] = json.dumps(describe_kinds()).replace(
            "</", "<\\/")

    # -- wiring --------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        static = resources.files("horae.console").joinpath("static")
        routes: list[BaseRoute] = [
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/account", self.account_page, methods=["GET"]),
            Route("/account/password", self.change_password, methods=["POST"]),
            Route("/language", self.language, methods=["POST"]),
            Route("/preview", self.preview, methods=["POST"]),
            Mount("/static", StaticFiles(directory=str(static)), name="static"),
        ]
        for path, template, nav, title in _PAGES:
            routes.append(Route(path, self._page(path, template, nav, title), methods=["GET"]))
        return routes

    def bridge(self, app: ASGIApp) -> ASGIApp:
        return ApiBridge(app, self.sessions, prefix=self.api_prefix + "/")

    # -- pages ---------------------------------------------------------------------------

    def _page(self, path: str, template: str, nav: str,
              title: str) -> Callable[[Request], Any]:
        least = "admin" if path in _ADMIN_PAGES else "editor" if path in _EDITOR_PAGES \
            else "viewer"

        async def page(request: Request) -> Response:
            signed_in = await self._signed_in(request)
            if signed_in is None:
                return _redirect(request, f"/login?next={route_path(request.scope)}")
            role = signed_in.session.role
            if ROLES.index(role) < ROLES.index(least):
                return self.render(request, "denied.html", signed_in, nav=nav,
                                   title="Not allowed", status=403)
            return self.render(request, template, signed_in, nav=nav, title=title,
                               params=dict(request.path_params))

        return page

    def render(self, request: Request, template: str, signed_in: SignedIn | None, *,
               nav: str = "", title: str = "", status: int = 200,
               params: dict[str, Any] | None = None, **extra: Any) -> HTMLResponse:
        lang = i18n.choose(request.cookies.get(i18n.LANG_COOKIE),
                           request.headers.get("accept-language"))
        new_cookie = None
        if signed_in is not None:
            csrf = signed_in.session.csrf
        else:
            csrf, new_cookie = self.sessions.anonymous_csrf(request)
        role = signed_in.session.role if signed_in else None
        config = {
            "lang": lang, "api": root_of(request.scope) + self.api_prefix, "csrf": csrf,
            "role": role, "root": root_of(request.scope),
            "user": signed_in.session.name if signed_in else None,
            "user_id": signed_in.user_id if signed_in else None,
            "params": params or {}, "messages": i18n.catalogue(lang),
            "reasons": i18n.reasons(lang), "translated_params": list(TRANSLATED_PARAMS),
            # English sources of the reasons: a run's error is a sentence, not a code
            "reason_sources": REASONS if lang != "en" else {},
        }
        context = {
            "_": i18n.translator(lang), "lang": lang, "languages": i18n.LANGUAGES,
            "nav": nav, "title": title, "csrf": csrf, "signed_in": signed_in,
            "role": role, "can": _can(role), "params": params or {},
            "path": route_path(request.scope), "root": root_of(request.scope),
            "config_json": json.dumps(config, ensure_ascii=False).replace("</", "<\\/"),
            **extra,
        }
        html = self.env.get_template(template).render(context)
        response = HTMLResponse(html, status_code=status, headers={
            "Cache-Control": "no-store", "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin", "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                                       "style-src 'self'; frame-ancestors 'none'"})
        if new_cookie:
            set_cookie(response, request, CSRF_COOKIE, new_cookie)
        return response

    async def _signed_in(self, request: Request) -> SignedIn | None:
        return await run_in_threadpool(self.sessions.resolve,
                                       request.cookies.get(SESSION_COOKIE))

    # -- sign-in, sign-out, language ---------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        if await self._signed_in(request) is not None:
            return _redirect(request, _safe_next(request.query_params.get("next")))
        return self.render(request, "login.html", None, title="Sign in",
                           next=_safe_next(request.query_params.get("next")),
                           accounts=self.accounts is not None)

    async def login(self, request: Request) -> Response:
        """Sign in with a user name and password, or with an API token."""
        form = await _form(request)
        next_url = _safe_next(str(form.get("next") or "/"))
        if not self.sessions.csrf_ok(request, str(form.get("csrf") or ""), None):
            return self._refused(request, None)
        client = request.client.host if request.client else "?"
        name = str(form.get("name") or "").strip()
        try:
            if name and self.accounts is not None:
                user_id, name, role = await run_in_threadpool(
                    self.accounts.sign_in, name, str(form.get("password") or ""), client)
                _signed, cookie = await run_in_threadpool(self.sessions.start_user, user_id,
                                                          name, role)
            else:
                token = str(form.get("token") or "").strip()
                found = await run_in_threadpool(self.check_token, token, client) \
                    if token else None
                if found is None:
                    raise SignInRefused(401, "token")
                token_id, name, role = found
                _signed, cookie = await run_in_threadpool(self.sessions.start, token_id,
                                                          name, role)
        except SignInRefused as refused:
            error = ("Too many failed sign-ins from this address; try again in a minute."
                     if refused.status == 429 else "That token is not valid."
                     if refused.field == "token" else
                     "That user name and password do not match.")
            return self.render(request, "login.html", None, title="Sign in",
                               status=refused.status, next=next_url, error=error,
                               name=name, accounts=self.accounts is not None)
        response = _redirect(request, next_url)
        set_cookie(response, request, SESSION_COOKIE, cookie, max_age=int(SESSION_TTL))
        return response

    async def account_page(self, request: Request) -> Response:
        signed_in = await self._signed_in(request)
        if signed_in is None:
            return _redirect(request, "/login?next=/account")
        return self.render(request, "account.html", signed_in, nav="account", title="Account")

    async def change_password(self, request: Request) -> Response:
        """A signed-in user changes their own password; their other sessions end."""
        signed_in = await self._signed_in(request)
        form = await _form(request)
        if signed_in is None:
            return _redirect(request, "/login?next=/account")
        if not self.sessions.csrf_ok(request, str(form.get("csrf") or ""), signed_in):
            return self._refused(request, signed_in)
        if signed_in.user_id is None or self.accounts is None:
            return self.render(request, "account.html", signed_in, nav="account",
                               title="Account", status=409)
        new = str(form.get("new_password") or "")
        if new != str(form.get("new_password_again") or ""):
            return self._account_error(request, signed_in, 422, "new_password_again",
                                       "The two new passwords differ.")
        client = request.client.host if request.client else "?"
        try:
            await run_in_threadpool(self.accounts.change_password, signed_in.session,
                                    str(form.get("current_password") or ""), new, client)
        except SignInRefused as refused:
            message = _PASSWORD_ERRORS.get(
                refused.status, "The new password must be at least 12 characters long.")
            field = refused.field or "current_password"
            return self._account_error(request, signed_in, refused.status, field, message)
        return self.render(request, "account.html", signed_in, nav="account", title="Account",
                           done=True)

    def _account_error(self, request: Request, signed_in: SignedIn, status: int, field: str,
                       message: str) -> Response:
        return self.render(request, "account.html", signed_in, nav="account",
                           title="Account", status=status, error=message, error_field=field)

    async def logout(self, request: Request) -> Response:
        signed_in = await self._signed_in(request)
        form = await _form(request)
        if signed_in is None:
            return _redirect(request, "/login")
        if not self.sessions.csrf_ok(request, str(form.get("csrf") or ""), signed_in):
            return self._refused(request, signed_in)
        await run_in_threadpool(self.sessions.end, signed_in)
        response = _redirect(request, "/login")
        response.delete_cookie(SESSION_COOKIE, path=cookie_path(request))
        return response

    async def language(self, request: Request) -> Response:
        signed_in = await self._signed_in(request)
        form = await _form(request)
        if not self.sessions.csrf_ok(request, str(form.get("csrf") or ""), signed_in):
            return self._refused(request, signed_in)
        lang = i18n.page_language(form.get("lang"))
        response = _redirect(request, _safe_next(str(form.get("next") or "/")))
        if lang is not None:
            set_cookie(response, request, i18n.LANG_COOKIE, lang, max_age=365 * 86400)
        return response

    async def preview(self, request: Request) -> Response:
        """The editor's live preview of a trigger being typed: pure trigger math on the
        request, no stored data (the API previews only stored schedules)."""
        signed_in = await self._signed_in(request)
        if signed_in is None:
            return JSONResponse({"detail": "sign in first"}, status_code=401)
        if not self.sessions.csrf_ok(request, request.headers.get("x-csrf-token"), signed_in):
            return JSONResponse({"detail": "missing or wrong X-CSRF-Token"}, status_code=403)
        try:
            return JSONResponse(trigger_preview(loads_body(await request.body())))
        except ApiError as exc:
            return exc.response()
        except InvalidInput as exc:
            field = exc.field if exc.field.startswith("trigger") else f"trigger.{exc.field}"
            return invalid(field, exc.reason).response()
        except (ValueError, TypeError, AttributeError) as exc:
            return invalid("body", f"not valid JSON: {exc}", status=400).response()

    def _refused(self, request: Request, signed_in: SignedIn | None) -> Response:
        return self.render(request, "denied.html", signed_in, title="Not allowed",
                           status=403, reason="csrf")


def trigger_preview(body: Any) -> dict[str, Any]:
    """The preview of ``{"trigger": {...}, "n": 10, "locale": "en"}``; ApiError 422 naming
    the field when the body is not of that shape, InvalidInput when the trigger is wrong."""
    if not isinstance(body, dict):
        raise invalid("body", f"must be a JSON object, not {type(body).__name__}")
    data = body.get("trigger")
    if not isinstance(data, dict):
        raise invalid("trigger", "required: a JSON object (the trigger being edited)")
    count = body.get("n", 10)
    if isinstance(count, bool) or not isinstance(count, int):
        raise invalid("n", "must be an integer")
    n = min(max(count, 1), 100)
    locale = language_of(body.get("locale", "en"))
    if locale is None:
        raise invalid("locale", f"must be one of {ACCEPTED}")
    trigger = trigger_from_dict(data)
    tz = ZoneInfo(zone_of(data) or "UTC")
    fires = preview(trigger, time.time(), n)
    return {"description": trigger.describe(locale), "zone": tz.key,
            "fires": [{"utc": iso(f.timestamp()), "local": f.astimezone(tz).isoformat()}
                      for f in fires]}


async def _form(request: Request) -> dict[str, str]:
    """A url-encoded form (the console posts no files), bounded in size while it streams:
    past the bound, 413 (through horae.api.bodies.BodyLimit) and nothing more is read."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > FORM_LIMIT:
            raise BodyTooLarge(FORM_LIMIT)
        chunks.append(chunk)
    body = b"".join(chunks)
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


def _can(role: str | None) -> dict[str, bool]:
    level = ROLES.index(role) if role in ROLES else -1
    return {"operate": level >= 1, "edit": level >= 2, "admin": level >= 3}


def _safe_next(value: str | None) -> str:
    """Only a path on this site (never ``//host`` or a scheme)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _redirect(request: Request, to: str) -> RedirectResponse:
    """A 303 to ``to``, a path inside the console, under the prefix it is served at."""
    return RedirectResponse(root_of(request.scope) + to, status_code=303)


def console(horae_app: Any, check_token: TokenCheck, api_prefix: str = "/api/v1",
            accounts: Accounts | None = None) -> Console:
    """The console of ``horae_app``; ``check_token(token, client)`` is the API's check,
    ``accounts`` its user sign-in (None: tokens only)."""
    # Lazily: mounting the console (horae.asgi() at import) connects nothing.
    return Console(Sessions(ConsoleStore(lambda: horae_app.store)), check_token, api_prefix,
                   accounts)
