"""POST /api/v1/workflows/{id}/runs: start a workflow run (``app.workflows.run``).

The answer is the workflow run (201, ``Location`` its run): a run with ``fanout``
``"workflow"`` whose steps become its children (``GET /runs?parent=ID``). Like every change
it is audited (``workflow.run``) and may carry an Idempotency-Key.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from horae.api import schemas as S
from horae.api.auth import Role
from horae.api.framework import Call, Operation, Reply
from horae.models import Run


class WorkflowRunArguments(BaseModel):
    """What a workflow run starts with (optional)."""

    model_config = ConfigDict(extra="forbid")
    kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="Keyword arguments added to every root step's (over the step's own).")
    version: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="A kept earlier version of the workflow to run.")


def _created(run: Run) -> Reply:
    return Reply(S.run_wire(run) | {"warnings": []}, 201, {"Location": f"/api/v1/runs/{run.id}"})


def run_workflow(c: Call) -> Reply:
    workflow_id = c.path["workflow_id"]
    b: WorkflowRunArguments | None = c.body
    with c.audited("workflow.run", "workflow", target=workflow_id, after=S.run_wire,
                   reply=_created):
        c.api.horae.workflows.run(workflow_id, None if b is None else b.kwargs,
                                  version=None if b is None else b.version)
    return c.reply


WORKFLOW_RUN_OPERATIONS: list[Operation] = [
    Operation("POST", "/workflows/{workflow_id}/runs", "runWorkflow",
              "Start a workflow run", "workflows", Role.OPERATOR, run_workflow,
              body=WorkflowRunArguments, body_optional=True, response=S.RunCreated,
              status=201, errors=(404, 422), idempotent=True, location=True,
              description="The root steps are queued at once; each step's runs are children "
                          "of the answered run (`GET /runs?parent=ID`). `kwargs` go to every "
                          "root step and are checked against its task (422 names the field, "
                          "nothing is started)."),
]
