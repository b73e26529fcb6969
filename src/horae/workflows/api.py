"""``app.workflows``: add, read, list, change and remove workflow definitions at runtime.

Every write validates first (the graph, and the tasks and arguments against this app's
tasks, else the catalogue running workers advertise), so bad input writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from horae.errors import Conflict, InvalidInput
from horae.models import Run
from horae.workflows.builders import Canvas, Signature
from horae.workflows.model import CALLBACKS, Callback, Workflow
from horae.workflows.validate import check_workflow_id, parse_workflow

if TYPE_CHECKING:
    from horae.app import Horae

Definition = Mapping[str, Any] | Canvas | Workflow


class WorkflowManager:
    """``app.workflows``."""

    def __init__(self, app: Horae) -> None:
        self._app = app

    def validate(self, id: str, definition: Definition, **fields: Any) -> Workflow:
        """The workflow :meth:`add` would write, validated; nothing is written.

        ``definition``: the JSON form (a dict), a builder (``chain(...)``, ``dag(...)``...)
        or a Workflow; ``fields`` (``description``, ``on_success``, ``on_failure``,
        ``on_finish``) override the definition's.
        """
        from horae.schedules import Inputs

        check_workflow_id(id)
        data = definition_data(definition)
        unknown = sorted(set(fields) - {"description", *CALLBACKS})
        if unknown:
            raise InvalidInput(unknown[0], "not a field of a workflow; give it in the "
                                           "definition")
        for name, value in fields.items():
            data[name] = _callback_data(value) if name in CALLBACKS else value
        return parse_workflow(id, data, Inputs(self._app).task_info)

    def add(self, id: str, definition: Definition, **fields: Any) -> Workflow:
        """Create a workflow; raises InvalidInput (nothing written) or Conflict (id taken)."""
        return self._app.store.workflow_add(self.validate(id, definition, **fields))

    def get(self, id: str, version: int | None = None) -> Workflow:
        """The workflow now, or its definition at ``version`` (kept after changes)."""
        return self._app.store.workflow_get(id, version)

    def versions(self, id: str) -> list[int]:
        return self._app.store.workflow_versions(id)

    def list(self, *, search: str | None = None, after: str | None = None,
             limit: int = 100) -> list[Workflow]:
        return self._app.store.workflow_list(search=search, after=after, limit=limit)

    def update(self, id: str, definition: Definition | None = None, *,
               expected_version: int | None = None, **fields: Any) -> Workflow:
        """Replace the definition (or, without one, change only ``fields``: description and
        callbacks); the version grows by one.

        ``expected_version`` makes the write conditional, as HTTP's If-Match: Conflict when
        the workflow changed since. Without it, the write applies to the version just read
        and is retried if another writer got in between (only the given fields change).
        """
        for attempt in range(10):
            current = self._app.store.workflow_get(id)
            base = current.definition() if definition is None else definition
            prepared = self.validate(id, base, **fields)
            version = current.version if expected_version is None else expected_version
            try:
                return self._app.store.workflow_replace(prepared, expected_version=version)
            except Conflict:
                if expected_version is not None or attempt == 9:
                    raise
        raise AssertionError("unreachable")

    def run(self, id: str, kwargs: Mapping[str, Any] | None = None, *,
            version: int | None = None) -> Run:
        """Start a workflow run of the workflow now (or of its kept ``version``) and queue
        its root steps, in one transaction; returns the workflow run (state ``running``).

        ``kwargs`` are added to every root step's keyword arguments (over the step's own),
        checked against each root's task. Each step's queue, retries, timeout and priority
        are its overrides, else its task's values, resolved now: the run keeps them.
        """
        from horae.workflows.starting import run_specs

        if kwargs is not None and not isinstance(kwargs, Mapping):
            raise InvalidInput("kwargs", "must be an object")
        workflow = self._app.store.workflow_get(id, version)
        specs = run_specs(workflow, dict(kwargs or {}), self._app.task_info)
        return self._app.store.workflow_run_start(workflow, dict(kwargs or {}), specs)

    def steps(self, run_id: int) -> dict[str, str]:
        """Each step's state in workflow run ``run_id`` (step id -> ``waiting``, ``active``,
        a run state, ``skipped``, ``upstream_failed``; a callback's is ``callback``)."""
        return self._app.store.workflow_run_steps(run_id)

    def remove(self, id: str, *, expected_version: int | None = None) -> None:
        """Remove a workflow; its versions stay readable with ``get(id, version)``."""
        self._app.store.workflow_delete(id, expected_version=expected_version)


def definition_data(definition: Any) -> dict[str, Any]:
    """The JSON form of whatever was given as a definition."""
    if isinstance(definition, Workflow):
        return definition.definition()
    if isinstance(definition, Canvas):
        return definition.definition()
    if isinstance(definition, Mapping):
        return dict(definition)
    raise InvalidInput("definition", "give the JSON form (a dict with steps), a builder "
                                     "(chain, group, chord, dag, task.s()) or a Workflow, not "
                                     f"{type(definition).__name__}")


def _callback_data(value: Any) -> Any:
    if isinstance(value, Signature):
        if value.args:
            raise InvalidInput("callback", "a callback takes keyword arguments only")
        return Callback(value.task, dict(value.kwargs)).to_dict()
    if isinstance(value, Callback):
        return value.to_dict()
    return value
