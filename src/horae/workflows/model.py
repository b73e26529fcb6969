"""A workflow as data: a named, versioned DAG of steps, each step a task with its arguments.

The JSON form (``Workflow.definition()``) is what the store keeps, what the CLI reads from a
file and what the builders produce; the issue's form is accepted as written::

    {"steps": [{"id": "discover", "task": "scan.discover", "kwargs": {...}},
               {"id": "probe", "task": "scan.probe", "after": ["discover"], "map": "discover"},
               {"id": "report", "task": "scan.report", "after": ["probe"],
                "trigger_rule": "all_done"}],
     "on_failure": {"task": "ops.alert"}}

A definition leaves out every field at its default, so the same workflow always has the
same JSON, whichever way it was written. Fields a step leaves as ``None`` (queue, retries,
timeout, priority) take the task's own values when the step runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

TriggerRule = Literal["all_success", "all_done", "any_failed"]
#: When a step may start, from its predecessors' outcomes: ``all_success`` (default) when
#: every one succeeded, ``all_done`` when every one ended (a finally-step), ``any_failed``
#: when at least one failed (an error branch).
TRIGGER_RULES: tuple[TriggerRule, ...] = ("all_success", "all_done", "any_failed")
DEFAULT_TRIGGER_RULE: TriggerRule = "all_success"
CALLBACKS = ("on_success", "on_failure", "on_finish")


@dataclass
class Callback:
    """A task run once when the workflow run ends (``on_success``, ``on_failure``,
    ``on_finish``), with these keyword arguments."""

    task: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"task": self.task}
        if self.kwargs:
            out["kwargs"] = self.kwargs
        return out


@dataclass
class Step:
    """One node of the DAG: a run of ``task`` once the steps in ``after`` allow it.

    ``map``: the step fans out into one run per item, each given the item as the keyword
    argument ``item``: over the result list of an upstream step (its id, a string) or over
    a literal list. ``concurrency`` bounds how many of a mapped step's runs go at once.
    """

    id: str
    task: str
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    after: list[str] = field(default_factory=list)
    map: str | list[Any] | None = None
    trigger_rule: TriggerRule = DEFAULT_TRIGGER_RULE
    queue: str | None = None
    retries: int | None = None
    timeout: float | None = None
    priority: int | None = None
    concurrency: int | None = None

    @property
    def map_step(self) -> str | None:
        """The upstream step whose result list this step maps over, if any."""
        return self.map if isinstance(self.map, str) else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "task": self.task}
        if self.args:
            out["args"] = self.args
        if self.kwargs:
            out["kwargs"] = self.kwargs
        if self.after:
            out["after"] = self.after
        if self.map is not None:
            out["map"] = self.map
        if self.trigger_rule != DEFAULT_TRIGGER_RULE:
            out["trigger_rule"] = self.trigger_rule
        for name in ("queue", "retries", "timeout", "priority", "concurrency"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


@dataclass
class Workflow:
    """A stored workflow. ``version`` starts at 1 and grows by one at each change; an
    ``(id, version)`` pair names one definition forever (kept in the version history), so
    a workflow run can always find the definition it started from."""

    id: str
    steps: list[Step]
    on_success: Callback | None = None
    on_failure: Callback | None = None
    on_finish: Callback | None = None
    description: str = ""
    version: int = 0
    created_at: float | None = None
    updated_at: float | None = None

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def downstream(self) -> dict[str, list[str]]:
        """Step id -> the steps that list it in ``after``, in definition order: what a
        step's outcome may unblock."""
        out: dict[str, list[str]] = {s.id: [] for s in self.steps}
        for s in self.steps:
            for dep in s.after:
                out[dep].append(s.id)
        return out

    def roots(self) -> list[str]:
        """The steps that wait for nothing: the first to run."""
        return [s.id for s in self.steps if not s.after]

    def order(self) -> list[str]:
        """Every step id, each after all of its ``after`` (definition order among steps
        ready together); the order to draw or start them in. Assumes no cycle (validated)."""
        waiting = {s.id: len(s.after) for s in self.steps}
        below = self.downstream()
        ready = [s.id for s in self.steps if not s.after]
        position = {s.id: i for i, s in enumerate(self.steps)}
        out: list[str] = []
        while ready:
            step_id = ready.pop(0)
            out.append(step_id)
            for nxt in below[step_id]:
                waiting[nxt] -= 1
                if waiting[nxt] == 0:
                    ready.append(nxt)
                    ready.sort(key=position.__getitem__)
        return out

    def tasks(self) -> list[str]:
        """Every task the workflow names (steps, then callbacks), each once, in order."""
        names = [s.task for s in self.steps] + [
            c.task for c in (self.on_success, self.on_failure, self.on_finish) if c is not None]
        return list(dict.fromkeys(names))

    def definition(self) -> dict[str, Any]:
        """The JSON form: what the store keeps and ``horae workflows add --file`` reads."""
        out: dict[str, Any] = {"steps": [s.to_dict() for s in self.steps]}
        for name in CALLBACKS:
            callback = getattr(self, name)
            if callback is not None:
                out[name] = callback.to_dict()
        if self.description:
            out["description"] = self.description
        return out

    @classmethod
    def from_definition(cls, workflow_id: str, data: dict[str, Any], **record: Any) -> Workflow:
        """A workflow from a JSON form already validated (as the store keeps it); input from
        people goes through :func:`horae.workflows.validate.parse_workflow` instead."""
        steps = [Step(**s) for s in data["steps"]]
        callbacks: dict[str, Any] = {name: Callback(**data[name]) for name in CALLBACKS
                                     if data.get(name)}
        return cls(workflow_id, steps, description=data.get("description", ""), **callbacks,
                   **record)

    def to_dict(self) -> dict[str, Any]:
        """The definition with the record's identity: id, version and times."""
        return {"id": self.id, **self.definition(), "description": self.description,
                "version": self.version, "created_at": self.created_at,
                "updated_at": self.updated_at}
