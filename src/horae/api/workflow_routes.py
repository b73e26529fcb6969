"""``/api/v1/workflows``: workflow definitions over REST (list, create, read, replace,
change, delete, and the versions kept).

Bodies are the JSON form of docs/workflows.md. The document below describes a step and a
callback field by field, but the parser takes each as given and :mod:`horae.workflows`
decides (the same rules, the same field paths -- ``steps[2].after`` -- as the Python API
and the CLI). Writes are audited like schedule writes (``workflow.create``,
``workflow.update``, ``workflow.delete``); the ETag is the version, and ``If-Match`` makes
a change conditional on it (412 when stale).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import core_schema

from horae.api import schemas as S
from horae.api.auth import Role
from horae.api.framework import Call, Operation, Reply
from horae.api.problems import ApiError
from horae.errors import Conflict, NotFound
from horae.instants import iso
from horae.workflows.model import CALLBACKS, TriggerRule, Workflow
from horae.workflows.validate import MAX_STEPS

_STRICT = ConfigDict(extra="forbid", strict=True)
Version = Annotated[int, Field(ge=1, le=2**31 - 1)]
WorkflowIdText = Annotated[str, Field(min_length=1, max_length=200)]


# -- the shapes, for the document -----------------------------------------------------------


class StepSpec(BaseModel):
    """One step: a run of ``task`` once the steps in ``after`` allow it (docs/workflows.md).
    Fields at their default are left out of stored definitions and answers."""

    model_config = _STRICT
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]
    task: S.TaskName
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    after: list[str] = Field(default_factory=list, description="the step ids it waits for")
    map: str | list[Any] | None = Field(
        default=None, description="fan out: a step id (over its result list) or a list of "
                                  "items; each run gets the item as the keyword `item`")
    trigger_rule: TriggerRule = "all_success"
    queue: str | None = None
    retries: int | None = None
    timeout: float | None = None
    priority: int | None = None
    concurrency: int | None = Field(default=None, description="a mapped step's runs at once")


class CallbackSpec(BaseModel):
    """A task run once when the workflow run ends; a task name alone is accepted too."""

    model_config = _STRICT
    task: S.TaskName
    kwargs: dict[str, Any] = Field(default_factory=dict)


class _Given:
    """A value the parser takes as given (any JSON) for :mod:`horae.workflows` to check, so
    every error names its path as the Python API does; documented as ``documents``."""

    documents: Any = None

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any,
                                     handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.any_schema()

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return handler(core_schema.union_schema([
            d.__pydantic_core_schema__ if isinstance(d, type) and issubclass(d, BaseModel)
            else d for d in cls.documents]))


class _AStep(_Given):
    documents = (StepSpec,)


class _ACallback(_Given):
    documents = (CallbackSpec, core_schema.str_schema(), core_schema.none_schema())


def _unset() -> Any:
    return Field(default=None, json_schema_extra=S._no_default)


Steps = Annotated[list[_AStep], Field(min_length=1, max_length=MAX_STEPS)]


class WorkflowCreate(BaseModel):
    """A new workflow: its id and its definition."""

    model_config = _STRICT
    id: WorkflowIdText = Field(description="letters, digits and _ . : @ -")
    steps: Steps
    description: S.Description | None = _unset()
    on_success: _ACallback = _unset()
    on_failure: _ACallback = _unset()
    on_finish: _ACallback = _unset()


class WorkflowReplace(BaseModel):
    """The whole new definition (what it leaves out returns to its default). The workflow
    as GET answers it may be sent back: ``version`` then makes the change conditional
    (409 when the workflow moved on), and ``created_at``/``updated_at`` are ignored."""

    model_config = _STRICT
    id: WorkflowIdText | None = Field(default=None, description="if given, the path's id")
    steps: Steps
    description: S.Description | None = _unset()
    on_success: _ACallback = _unset()
    on_failure: _ACallback = _unset()
    on_finish: _ACallback = _unset()
    version: Version | None = Field(default=None, description="only if still at this version")
    created_at: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, description="ignored")
    updated_at: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, description="ignored")


class WorkflowPatch(BaseModel):
    """The parts of the definition to change; the rest stays. ``null`` removes a callback."""

    model_config = _STRICT
    steps: Steps | None = _unset()
    description: S.Description | None = _unset()
    on_success: _ACallback = _unset()
    on_failure: _ACallback = _unset()
    on_finish: _ACallback = _unset()


class WorkflowOut(BaseModel):
    """A stored workflow: its definition (defaults left out of each step), version and
    times. ``(id, version)`` names one definition forever."""

    id: str
    steps: list[StepSpec]
    description: str
    on_success: CallbackSpec | None
    on_failure: CallbackSpec | None
    on_finish: CallbackSpec | None
    version: int
    created_at: S.IsoTime
    updated_at: S.IsoTime


WorkflowPage = S.page_model(WorkflowOut, "WorkflowPage")


class WorkflowVersions(BaseModel):
    """The versions kept of a workflow id, oldest first (also after it was removed)."""

    id: str
    versions: list[int]


class WorkflowListQuery(BaseModel):
    search: Annotated[str, Field(max_length=200)] | None = Field(
        default=None, description="text in the id or description (any case)")
    cursor: Annotated[str, Field(max_length=400)] | None = Field(
        default=None, description="next_cursor of the previous page")
    limit: Annotated[int, Field(ge=1, le=1000)] = 100


class WorkflowGetQuery(BaseModel):
    version: Version | None = Field(default=None, description="a kept earlier version")


def workflow_wire(w: Workflow) -> dict[str, Any]:
    """The wire form: every field present, callbacks ``null`` when absent."""
    definition = w.definition()
    return {"id": w.id, "steps": definition["steps"], "description": w.description,
            **{name: definition.get(name) for name in CALLBACKS},
            "version": w.version, "created_at": iso(w.created_at),
            "updated_at": iso(w.updated_at)}


# -- handlers --------------------------------------------------------------------------------


def _reply(w: Workflow, status: int = 200, location: bool = False) -> Reply:
    headers = {"ETag": f'"{w.version}"'}
    if location:
        headers["Location"] = f"/api/v1/workflows/{quote(w.id, safe='')}"
    return Reply(workflow_wire(w), status, headers)


def _definition(body: BaseModel, *, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON form a request gave, for ``app.workflows`` (which validates it)."""
    return {k: v for k, v in S.given(body).items() if k not in drop}


def list_workflows(c: Call) -> Reply:
    q: WorkflowListQuery = c.query
    found = c.api.horae.workflows.list(search=q.search, after=q.cursor, limit=q.limit + 1)
    cursor = None
    if len(found) > q.limit:
        found = found[:q.limit]
        cursor = found[-1].id
    return Reply({"items": [workflow_wire(w) for w in found], "next_cursor": cursor})


def create_workflow(c: Call) -> Reply:
    b: WorkflowCreate = c.body
    with c.audited("workflow.create", "workflow", target=b.id, after=workflow_wire,
                   reply=lambda w: _reply(w, 201, location=True)):
        c.api.horae.workflows.add(b.id, _definition(b, drop=("id",)))
    return c.reply


def get_workflow(c: Call) -> Reply:
    q: WorkflowGetQuery = c.query
    return _reply(c.api.horae.workflows.get(c.path["workflow_id"], q.version))


def workflow_versions(c: Call) -> Reply:
    workflow_id = c.path["workflow_id"]
    versions = c.api.horae.workflows.versions(workflow_id)
    if not versions:
        raise NotFound("workflow", workflow_id)
    return Reply({"id": workflow_id, "versions": versions})


def _current(c: Call) -> Workflow:
    """The workflow now, after checking If-Match against it (412 on a lost update)."""
    current: Workflow = c.api.horae.workflows.get(c.path["workflow_id"])
    expected = c.expected_version()
    if expected is not None and expected != current.version:
        raise _lost_update(current, expected)
    return current


def _lost_update(current: Workflow, expected: int) -> ApiError:
    return ApiError(412, f"workflow {current.id!r} is at version {current.version}, not "
                         f"{expected}: someone changed it since you read it; read it again "
                         "and retry", slug="precondition-failed")


def _write(c: Call, current: Workflow, data: dict[str, Any], expected: int | None,
           action: str) -> Reply:
    """Replace ``current``'s definition with ``data`` at ``expected`` (default: the version
    just read, so a change in between is a 409, or a 412 when the client sent If-Match)."""
    try:
        with c.audited(action, "workflow", target=current.id, before=workflow_wire(current),
                       after=workflow_wire):
            w = c.api.horae.workflows.update(
                current.id, data,
                expected_version=current.version if expected is None else expected)
    except Conflict:
        if expected is None and c.request.headers.get("if-match") is not None:
            raise _lost_update(c.api.horae.workflows.get(current.id), current.version) \
                from None
        raise
    return _reply(w)


def replace_workflow(c: Call) -> Reply:
    b: WorkflowReplace = c.body
    current = _current(c)
    data = _definition(b, drop=("version", "created_at", "updated_at"))
    return _write(c, current, data, b.version, "workflow.replace")


def patch_workflow(c: Call) -> Reply:
    b: WorkflowPatch = c.body
    current = _current(c)
    changes = _definition(b)
    if not changes:
        return _reply(current)
    data = current.definition() | changes
    if data.get("description") is None:
        data.pop("description", None)
    return _write(c, current, data, None, "workflow.update")


def delete_workflow(c: Call) -> Reply:
    current = _current(c)
    try:
        with c.audited("workflow.delete", "workflow", target=current.id,
                       before=workflow_wire(current)):
            c.api.horae.workflows.remove(current.id, expected_version=current.version)
    except Conflict:
        if c.request.headers.get("if-match") is not None:
            raise _lost_update(c.api.horae.workflows.get(current.id), current.version) \
                from None
        raise
    return Reply(None, 204)


E_WRITE = (400, 404, 409, 413, 415, 422)

WORKFLOW_OPERATIONS: list[Operation] = [
    Operation("GET", "/workflows", "listWorkflows",
              "List workflows by id, with a search and a cursor", "workflows", Role.VIEWER,
              list_workflows, query=WorkflowListQuery, response=WorkflowPage, errors=(422,)),
    Operation("POST", "/workflows", "createWorkflow", "Create a workflow", "workflows",
              Role.EDITOR, create_workflow, body=WorkflowCreate, response=WorkflowOut,
              status=201, errors=E_WRITE, idempotent=True, etag=True, location=True,
              description="Validated as a whole first (graph, tasks, arguments): a bad "
                          "definition is a 422 naming the field, e.g. `steps[2].after`, "
                          "and nothing is written."),
    Operation("GET", "/workflows/{workflow_id}", "getWorkflow",
              "One workflow, now or at a kept version", "workflows", Role.VIEWER,
              get_workflow, query=WorkflowGetQuery, response=WorkflowOut,
              errors=(404, 422), etag=True),
    Operation("PUT", "/workflows/{workflow_id}", "replaceWorkflow",
              "Replace a workflow's definition (the next version)", "workflows",
              Role.EDITOR, replace_workflow, body=WorkflowReplace, response=WorkflowOut,
              errors=(*E_WRITE, 412), if_match=True, etag=True),
    Operation("PATCH", "/workflows/{workflow_id}", "patchWorkflow",
              "Change parts of a workflow's definition (the next version)", "workflows",
              Role.EDITOR, patch_workflow, body=WorkflowPatch, response=WorkflowOut,
              errors=(*E_WRITE, 412), if_match=True, etag=True),
    Operation("DELETE", "/workflows/{workflow_id}", "deleteWorkflow",
              "Delete a workflow (its versions stay readable)", "workflows", Role.EDITOR,
              delete_workflow, status=204, errors=(404, 409, 412), if_match=True),
    Operation("GET", "/workflows/{workflow_id}/versions", "listWorkflowVersions",
              "The versions kept of a workflow", "workflows", Role.VIEWER, workflow_versions,
              response=WorkflowVersions, errors=(404,)),
]
