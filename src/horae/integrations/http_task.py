"""The built-in ``horae.http`` task: one HTTP request to an allow-listed host.

Registered only when an admin lists hosts (``http_allow_hosts``, see
:class:`horae.config.IntegrationSettings`); :mod:`horae.integrations.hosts` decides what
may be reached. Secrets are named in the arguments (``{"secret": "NAME"}`` as a header
value) and resolved by the worker from its environment when the run starts, so the value
is never in a schedule, a run's arguments, its log, its result or its error.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import os
from collections.abc import Mapping
from typing import Any

import httpx

from horae.config import IntegrationSettings
from horae.integrations.hosts import HostPolicy, HostRefused, guarded_client
from horae.tasks import Task, make_task
from horae.worker.context import Context

TASK_NAME = "horae.http"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
#: Response headers kept in the result: enough to act on, never cookies or auth.
KEPT_HEADERS = ("content-type", "content-length", "etag", "last-modified", "location",
                "retry-after")
MAX_REDIRECTS = 5
MAX_RESPONSE_BYTES = 1 << 20
#: Bytes of an unexpected response's body quoted in the run's error.
ERROR_BODY_BYTES = 200

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "url": {"type": "string", "minLength": 1, "maxLength": 4096},
        "method": {"enum": list(METHODS), "default": "GET"},
        "headers": {
            "type": "object", "default": {},
            "additionalProperties": {"anyOf": [
                {"type": "string"},
                {"type": "object", "required": ["secret"], "additionalProperties": False,
                 "properties": {"secret": {"type": "string", "minLength": 1},
                                "prefix": {"type": "string"}}},
            ]},
        },
        "json": {"description": "a JSON body (sent with Content-Type: application/json)"},
        "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600, "default": 30},
        "expected_status": {"anyOf": [
            {"type": "array", "minItems": 1,
             "items": {"type": "integer", "minimum": 100, "maximum": 599}},
            {"type": "null"}], "default": None},
        "max_response_bytes": {"type": "integer", "minimum": 0,
                               "maximum": MAX_RESPONSE_BYTES, "default": 65536},
    },
    "required": ["url"],
    "additionalProperties": False,
}

_REDIRECTS = (301, 302, 303, 307, 308)


class HttpTaskError(Exception):
    """Why a request was refused or failed; the run's error (secrets already masked)."""


class HttpCaller:
    """Makes the requests of ``horae.http`` under one app's settings."""

    def __init__(self, settings: IntegrationSettings) -> None:
        self.policy = HostPolicy(settings.http_allow_hosts)
        self.secrets = settings.secrets

    def secret(self, name: str) -> str:
        """The value of secret ``name``, from the worker's environment, now."""
        variable = self.secrets.get(name)
        value = os.environ.get(variable) if variable else None
        if not value:
            raise HttpTaskError(f"secret {name!r} is not configured")
        return value

    def call(self, url: str, method: str = "GET", headers: Mapping[str, Any] | None = None,
             json: Any = None, timeout: float = 30.0,
             expected_status: list[int] | None = None, max_response_bytes: int = 65536,
             ctx: Context | None = None) -> dict[str, Any]:
        """Send the request, follow redirects within the allow-list, return the result."""
        plain, secret_headers, masks = self._headers(headers or {})
        try:
            return self._call(httpx.URL(url), method.upper(), plain, secret_headers, json,
                              timeout, expected_status, max_response_bytes, ctx, masks)
        except HostRefused as exc:
            raise HttpTaskError(f"refused, nothing was sent: {exc}") from None
        except httpx.TimeoutException:
            raise TimeoutError(f"the request timed out after {timeout:g}s") from None
        except httpx.InvalidURL as exc:
            raise HttpTaskError(f"invalid URL: {exc}") from None
        except httpx.HTTPError as exc:
            raise HttpTaskError(_mask(f"{type(exc).__name__}: {exc}", masks)) from None

    def _headers(self, given: Mapping[str, Any]
                 ) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        plain: dict[str, str] = {}
        secret: dict[str, str] = {}
        masks: dict[str, str] = {}  # value -> what is shown instead
        for key, value in given.items():
            if isinstance(value, Mapping):
                name = str(value["secret"])
                resolved = self.secret(name)
                secret[key] = str(value.get("prefix", "")) + resolved
                masks[resolved] = f"[secret {name}]"
            else:
                plain[key] = str(value)
        return plain, secret, masks

    def _call(self, url: httpx.URL, method: str, plain: dict[str, str],
              secret: dict[str, str], body: Any, timeout: float,
              expected: list[int] | None, limit: int, ctx: Context | None,
              masks: dict[str, str]) -> dict[str, Any]:
        origin = (url.scheme, url.host, url.port)
        with guarded_client(self.policy, timeout) as client:
            for _ in range(MAX_REDIRECTS + 1):
                self.policy.check_url(url)
                if ctx is not None:
                    ctx.check_cancelled()
                    ctx.logger.info("%s %s", method, url.copy_with(query=None))
                same_origin = (url.scheme, url.host, url.port) == origin
                request = client.build_request(
                    method, url, headers=plain | (secret if same_origin else {}),
                    content=None if body is None else jsonlib.dumps(body).encode(),
                )
                if body is not None:
                    request.headers["Content-Type"] = "application/json"
                response = client.send(request, stream=True)
                try:
                    location = response.headers.get("location")
                    if response.status_code in _REDIRECTS and location:
                        url = url.join(location)
                        if response.status_code == 303 or (
                                response.status_code in (301, 302) and method == "POST"):
                            method, body = "GET", None
                        continue
                    raw, truncated = _read(response, limit)
                finally:
                    response.close()
                return self._result(response, raw, truncated, expected, masks)
        raise HttpTaskError(f"more than {MAX_REDIRECTS} redirects")

    @staticmethod
    def _result(response: httpx.Response, raw: bytes, truncated: bool,
                expected: list[int] | None, masks: dict[str, str]) -> dict[str, Any]:
        status = response.status_code
        text = raw.decode(response.encoding or "utf-8", errors="replace")
        if not (status in expected if expected else 200 <= status < 300):
            snippet = raw[:ERROR_BODY_BYTES].decode("utf-8", errors="replace")
            raise HttpTaskError(_mask(f"unexpected status {status}: {snippet}", masks))
        content: Any = _mask(text, masks)
        if not truncated and "json" in response.headers.get("content-type", ""):
            with contextlib.suppress(ValueError):  # not JSON after all: kept as text
                content = jsonlib.loads(content)
        headers = {k: _mask(response.headers[k], masks) for k in KEPT_HEADERS
                   if k in response.headers}
        return {"status": status, "headers": headers, "body": content, "truncated": truncated}


def _read(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of the (decoded) body, and whether more came."""
    data = bytearray()
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) > limit:
            return bytes(data[:limit]), True
    return bytes(data), False


def _mask(text: str, masks: Mapping[str, str]) -> str:
    for value, shown in masks.items():
        text = text.replace(value, shown)
    return text


def http_task(settings: IntegrationSettings) -> Task:
    """The ``horae.http`` task under ``settings`` (whose allow-list is not empty)."""
    caller = HttpCaller(settings)

    def http(ctx: Context, **arguments: Any) -> dict[str, Any]:
        """Call an HTTP endpoint of an allow-listed host; the result is the response's
        status, a few headers and its body (JSON when it is JSON), cut at
        max_response_bytes. Header values {"secret": "NAME"} are filled in by the
        worker."""
        return caller.call(**arguments, ctx=ctx)

    task = make_task(http, name=TASK_NAME, mode="thread")
    task.schema = SCHEMA
    return task
