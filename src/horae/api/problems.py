"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error the API returns has ``type``, ``title``, ``status`` and ``detail``; input errors
add ``errors``: a list of ``{"field": "trigger.expr", "reason": "..."}``, the dotted path of
each offending value in the request and what is wrong with it, plus ``code`` and ``params``
when the reason is one of :data:`horae.reasons.REASONS` (so a console can translate it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from pydantic import ValidationError
from starlette.responses import Response

from horae.errors import InvalidInput
from horae.reasons import code_of, coded
from horae.schedules import POLICY_NAMES

PROBLEM_TYPE = "https://horae.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
_TRIGGER_KINDS = {"cron", "interval", "date", "any"}


class ApiError(Exception):
    """An HTTP error the API answers with a problem document."""

    def __init__(self, status: int, detail: str, *, errors: list[dict[str, str]] | None = None,
                 headers: Mapping[str, str] | None = None, slug: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = dict(headers or {})
        self.slug = slug or HTTPStatus(status).phrase.lower().replace(" ", "-")

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": PROBLEM_TYPE + self.slug,
                                "title": HTTPStatus(self.status).phrase,
                                "status": self.status, "detail": self.detail}
        if self.errors is not None:
            # code + params beside each English reason: the console words it in its language
            data["errors"] = [coded(e) for e in self.errors]
        elif (found := code_of(self.detail)) is not None:
            data["code"], data["params"] = found
        return data

    def response(self) -> Response:
        return Response(json.dumps(self.body(), ensure_ascii=False), status_code=self.status,
                        headers=self.headers, media_type=PROBLEM_MEDIA_TYPE)


def invalid(field: str, reason: str, status: int = 422) -> ApiError:
    return ApiError(status, f"{field}: {reason}", errors=[{"field": field, "reason": reason}],
                    slug="invalid-input")


def api_field(field: str) -> str:
    """A Python-API field name as the request names it (policies live under ``policies``)."""
    root = field.split(".", 1)[0]
    if root in POLICY_NAMES:
        return f"policies.{field}"
    return field


def from_invalid_input(exc: InvalidInput) -> ApiError:
    return invalid(api_field(exc.field), exc.reason)


def from_validation_error(exc: ValidationError, prefix: str = "") -> ApiError:
    """A pydantic error as field/reason pairs; the first one is the detail."""
    errors = []
    for err in exc.errors(include_url=False):
        parts = [str(p) for p in err["loc"] if not _is_noise(p)]
        field = ".".join(([prefix] if prefix else []) + parts) or (prefix or "body")
        errors.append({"field": field, "reason": err["msg"]})
    first = errors[0] if errors else {"field": prefix or "body", "reason": "invalid"}
    return ApiError(422, f"{first['field']}: {first['reason']}", errors=errors,
                    slug="invalid-input")


def _is_noise(part: object) -> bool:
    """Union branch names pydantic puts in error locations (``cron``, ``function-after``)."""
    if not isinstance(part, str):
        return False
    return part in _TRIGGER_KINDS or "[" in part or part.startswith(("function-", "json-"))


#: What SQLite says when the database cannot take a write now: another connection held the
#: write lock past the busy timeout, the disk is full, or the file cannot be written.
_SQLITE_UNAVAILABLE = ("database is locked", "database table is locked", "disk i/o error",
                       "database or disk is full", "unable to open database",
                       "readonly database")


def database_unavailable(exc: BaseException) -> ApiError | None:
    """503 with Retry-After when ``exc`` says the database is unavailable (locked past the
    busy timeout, full, unreadable, unreachable); None for any other error."""
    import sqlite3

    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        if not any(part in text for part in _SQLITE_UNAVAILABLE):
            return None
        locked = "locked" in text
        reason = ("locked (another connection held its write lock past the busy timeout)"
                  if locked else f"failing ({exc})")
        return _unavailable(f"the database is {reason}; retry later", 1 if locked else 5)
    if _is_psycopg_unavailable(exc):
        return _unavailable(f"the database is unreachable ({type(exc).__name__}); retry later",
                            5)
    return None


def _is_psycopg_unavailable(exc: BaseException) -> bool:
    module = type(exc).__module__
    if not module.startswith("psycopg"):
        return False
    import psycopg

    # Connection lost or refused, the server shutting down, out of disk (DiskFull is one).
    return isinstance(exc, psycopg.OperationalError)


def _unavailable(detail: str, retry_after: int) -> ApiError:
    return ApiError(503, detail, headers={"Retry-After": str(retry_after)},
                    slug="database-unavailable")
