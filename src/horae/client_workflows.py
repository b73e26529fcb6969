"""``RemoteHorae.workflows``: ``app.workflows`` over ``/api/v1/workflows``.

The methods of :class:`horae.workflows.api.WorkflowManager` that the API serves, with the
same arguments, return types and errors: ``add``, ``get``, ``versions``, ``list``,
``update`` (``expected_version`` is sent as ``If-Match``: a stale one raises Conflict) and
``remove``. The server validates (its tasks, else its workers' catalogue), so a bad
definition raises ``InvalidInput`` with the same field path as a local call
(``steps[2].after``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from horae.errors import InvalidInput, NotFound
from horae.instants import to_epoch
from horae.workflows.api import Definition, definition_data
from horae.workflows.builders import Signature
from horae.workflows.model import CALLBACKS, Callback, Workflow

if TYPE_CHECKING:
    from horae.client import RemoteHorae

PAGE = 1000  # workflows per request, the API's largest page


def workflow_from_wire(data: Mapping[str, Any]) -> Workflow:
    """A :class:`Workflow` from the API's JSON (instants back to epoch seconds)."""
    definition: dict[str, Any] = {"steps": data["steps"],
                                  "description": data.get("description") or ""}
    for name in CALLBACKS:
        if data.get(name) is not None:
            definition[name] = {"kwargs": {}, **data[name]}
    return Workflow.from_definition(
        data["id"], definition, version=int(data["version"]),
        created_at=to_epoch(data["created_at"], "created_at"),
        updated_at=to_epoch(data["updated_at"], "updated_at"))


def _fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``description`` and callbacks as the JSON form has them (a builder's ``alert.s()``
    is a callback too); other names go to the server, which names them in its 422."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, Signature):
            if value.args:
                raise InvalidInput(name, "a callback takes keyword arguments only")
            value = Callback(value.task, dict(value.kwargs))
        out[name] = value.to_dict() if isinstance(value, Callback) else value
    return out


def _wid(id: str) -> str:
    if not isinstance(id, str) or not id:
        raise InvalidInput("id", "must be a non-empty string")
    return quote(id, safe="")


def _if_match(expected_version: int | None) -> dict[str, str] | None:
    return None if expected_version is None else {"If-Match": f'"{int(expected_version)}"'}


class RemoteWorkflows:
    """``app.workflows`` over the API."""

    def __init__(self, client: RemoteHorae) -> None:
        self._c = client

    def add(self, id: str, definition: Definition, **fields: Any) -> Workflow:
        """Create a workflow; InvalidInput (nothing written) or Conflict (id taken)."""
        body = {"id": id, **definition_data(definition), **_fields(fields)}
        return workflow_from_wire(self._c.request("POST", "/workflows", json=body))

    def get(self, id: str, version: int | None = None) -> Workflow:
        """The workflow now, or its definition at ``version`` (kept after changes)."""
        params = None if version is None else {"version": version}
        return workflow_from_wire(self._c.request("GET", f"/workflows/{_wid(id)}",
                                                  params=params))

    def versions(self, id: str) -> list[int]:
        """The versions kept of ``id``, oldest first (empty: never written)."""
        try:
            data = self._c.request("GET", f"/workflows/{_wid(id)}/versions")
        except NotFound:
            return []
        return [int(v) for v in data["versions"]]

    def list(self, *, search: str | None = None, after: str | None = None,
             limit: int = 100) -> list[Workflow]:
        """Workflows by id, after the id ``after``; fetched a page at a time up to
        ``limit``."""
        out: list[Workflow] = []
        cursor = after
        while len(out) < limit:
            params: dict[str, Any] = {"limit": min(PAGE, limit - len(out))}
            if search:
                params["search"] = search
            if cursor is not None:
                params["cursor"] = cursor
            page = self._c.request("GET", "/workflows", params=params)
            out += [workflow_from_wire(w) for w in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        return out

    def update(self, id: str, definition: Definition | None = None, *,
               expected_version: int | None = None, **fields: Any) -> Workflow:
        """Replace the definition (``PUT``), or without one change only ``fields``
        (``PATCH``); the version grows by one. ``expected_version``: only at that version
        (Conflict otherwise)."""
        path, headers = f"/workflows/{_wid(id)}", _if_match(expected_version)
        if definition is None:
            data = self._c.request("PATCH", path, json=_fields(fields), headers=headers)
        else:
            body = {**definition_data(definition), **_fields(fields)}
            for record in ("version", "created_at", "updated_at"):
                body.pop(record, None)  # a Workflow's record: the condition is If-Match
            data = self._c.request("PUT", path, json=body, headers=headers)
        return workflow_from_wire(data)

    def remove(self, id: str, *, expected_version: int | None = None) -> None:
        """Remove a workflow; its versions stay readable with ``get(id, version)``."""
        self._c.request("DELETE", f"/workflows/{_wid(id)}",
                        headers=_if_match(expected_version))
