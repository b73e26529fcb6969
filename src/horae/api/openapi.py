"""The OpenAPI 3.1 document, generated from the operations and their pydantic models, and a
human page rendered from the same document."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from horae import __version__
from horae.api import schemas as S
from horae.api.framework import MAX_ID, Operation
from horae.api.problems import PROBLEM_MEDIA_TYPE

REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"{(\w+)(?::(\w+))?}")
_COMMON = {401: "No valid token", 403: "The token's role does not allow this",
           429: "Too many failed authentications from this address"}
_DESCRIPTIONS = {200: "OK", 201: "Created", 204: "No content", 400: "Malformed JSON",
                 404: "Not found", 406: "Not acceptable", 409: "Conflict with the current state",
                 412: "If-Match names an old version (lost update)", 413: "Body too large",
                 415: "Not application/json", 422: "Invalid input: see errors[].field",
                 503: "The database is unavailable (locked, full or unreachable); see "
                      "Retry-After"}


def openapi_path(path: str) -> str:
    return "/api/v1" + _PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def build_openapi(operations: Sequence[Operation]) -> dict[str, Any]:
    models: list[tuple[type[BaseModel], Any]] = [(S.Problem, "serialization")]
    for op in operations:
        for model, mode in ((op.body, "validation"), (op.query, "validation"),
                            (op.response, "serialization")):
            if model is not None and (model, mode) not in models:
                models.append((model, mode))
        for _, other, _ in op.also:
            if (other, "serialization") not in models:
                models.append((other, "serialization"))
    keys, defs = models_json_schema(models, ref_template=REF)
    schemas: dict[str, Any] = defs.get("$defs", {})

    def ref(model: type[BaseModel], mode: str) -> dict[str, Any]:
        return dict(keys[(model, mode)])  # type: ignore[index]

    paths: dict[str, Any] = {}
    for op in operations:
        item = _operation(op, ref, schemas)
        paths.setdefault(openapi_path(op.path), {})[op.method.lower()] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": "Horae", "version": __version__,
                 "description": "Schedules, runs, tasks, workers, audit and events of a "
                                "Horae scheduler. Send 'Authorization: Bearer <token>'."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "hor_... tokens; `horae tokens "
                                                          "create --role viewer`"}},
        },
    }


def _operation(op: Operation, ref: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary,
                            "tags": [op.tag]}
    role = "open to everyone" if op.role is None else f"needs the {op.role.label} role"
    item["description"] = (op.description + "\n\n" if op.description else "") + role.capitalize()
    if op.role is None:
        item["security"] = []
    params = _path_parameters(op.path) + _query_parameters(op, ref, schemas)
    if op.if_match:
        params.append({"name": "If-Match", "in": "header", "required": False,
                       "description": "The ETag of your last read: the change happens only "
                                      "if nobody changed the resource since (else 412).",
                       "schema": {"type": "string"}})
    if op.idempotent:
        params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                       "description": "Repeat the request with the same key and get the "
                                      "first answer again instead of a second creation.",
                       "schema": {"type": "string", "minLength": 1, "maxLength": 255}})
    if op.sse:
        params.append({"name": "Last-Event-ID", "in": "header", "required": False,
                       "description": "Resume a stream after this event id.",
                       "schema": {"type": "string"}})
    if params:
        item["parameters"] = params
    if op.body is not None:
        item["requestBody"] = {"required": not op.body_optional, "content": {
            "application/json": {"schema": ref(op.body, "validation")}}}
    item["responses"] = _responses(op, ref)
    return item


def _path_parameters(path: str) -> list[dict[str, Any]]:
    out = []
    for name, conv in _PARAM.findall(path):
        schema: dict[str, Any] = ({"type": "integer", "minimum": 1, "maximum": MAX_ID}
                                  if conv == "int" else {"type": "string", "minLength": 1})
        out.append({"name": name, "in": "path", "required": True, "schema": schema})
    return out


def _query_parameters(op: Operation, ref: Any, schemas: dict[str, Any]) -> list[dict[str, Any]]:
    if op.query is None:
        return []
    target = ref(op.query, "validation")["$ref"].rsplit("/", 1)[-1]
    model_schema = schemas[target]
    out = []
    for name, prop in model_schema.get("properties", {}).items():
        prop = {k: v for k, v in prop.items() if k != "title"}
        param: dict[str, Any] = {"name": name, "in": "query", "required": False,
                                 "schema": prop}
        if _is_array(prop):
            param |= {"style": "form", "explode": True}
        out.append(param)
    return out


def _is_array(prop: dict[str, Any]) -> bool:
    if prop.get("type") == "array":
        return True
    return any(p.get("type") == "array" for p in prop.get("anyOf", []))


def _problem() -> dict[str, Any]:
    return {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": REF.format(model="Problem")}}}


def _responses(op: Operation, ref: Any) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": _DESCRIPTIONS.get(op.status, "OK")}
    if op.response is not None and op.status != 204:
        ok["content"] = {"application/json": {"schema": ref(op.response, "serialization")}}
    if op.sse:
        ok.setdefault("content", {})["text/event-stream"] = {"schema": {"type": "string"}}
    headers: dict[str, Any] = {}
    if op.etag:
        headers["ETag"] = {"description": "The resource's version, for If-Match",
                           "required": True, "schema": {"type": "string"}}
    if op.location:
        headers["Location"] = {"description": "Where the created resource lives",
                               "required": True, "schema": {"type": "string"}}
    if headers:
        ok["headers"] = headers
    out: dict[str, Any] = {str(op.status): ok}
    for status, model, description in op.also:
        out[str(status)] = {"description": description, "content": {
            "application/json": {"schema": ref(model, "serialization")}}}
    codes = set(op.errors) | (set(_COMMON) | {503} if op.role is not None else set())
    for code in sorted(codes):
        out[str(code)] = {"description": _COMMON.get(code) or _DESCRIPTIONS.get(code, "Error"),
                          "content": _problem()}
    if op.unavailable is not None:
        out["503"] = {"description": "Not ready: the body names the failing check",
                      "content": {"application/json": {
                          "schema": ref(op.unavailable, "serialization")}}}
    out["default"] = {"description": "An error, as a problem document", "content": _problem()}
    return out


def docs_html(doc: dict[str, Any]) -> str:
    """A self-contained page for people: every operation, its role and its parameters."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Horae API "
             f"{html.escape(doc['info']['version'])}</title><style>body{{font-family:sans-serif;"
             "max-width:60em;margin:2em auto;line-height:1.4}code,pre{background:#f4f4f4}"
             "h3{margin-bottom:.2em}.m{font-weight:bold;display:inline-block;width:4.5em}"
             "</style></head><body><h1>Horae REST API</h1>",
             f"<p>{html.escape(doc['info']['description'])} The machine-readable document is "
             "<a href='/api/v1/openapi.json'><code>/api/v1/openapi.json</code></a>; errors are "
             "<code>application/problem+json</code>.</p>"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            parts.append(f"<h3><span class='m'>{method.upper()}</span><code>"
                         f"{html.escape(path)}</code></h3><p>{html.escape(op['summary'])}. "
                         f"{html.escape(op['description'])}.</p>")
            params = op.get("parameters", [])
            if params:
                parts.append("<ul>" + "".join(
                    f"<li><code>{html.escape(p['name'])}</code> ({p['in']})</li>"
                    for p in params) + "</ul>")
            body = op.get("requestBody")
            if body:
                name = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
                schema = json.dumps(doc["components"]["schemas"][name], indent=1)[:4000]
                parts.append(f"<details><summary>body: {html.escape(name)}</summary><pre>"
                             f"{html.escape(schema)}</pre></details>")
    parts.append("</body></html>")
    return "".join(parts)
