"""What each step of a workflow run will run: its task, arguments and run policies,
resolved once when the workflow run starts (the run keeps them, whatever changes later)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from horae.errors import InvalidInput
from horae.models import TaskInfo
from horae.schedules import validate_policies
from horae.tasks import validate_arguments
from horae.workflows.model import CALLBACKS, Step, Workflow


def run_specs(workflow: Workflow, kwargs: dict[str, Any],
              task_info: Callable[[str], TaskInfo]) -> dict[str, dict[str, Any]]:
    """Step id (and callback name) -> the run fields its runs get (see
    ``store.workflow_runs.SPEC_FIELDS``). ``kwargs`` go to every root step, over its own;
    InvalidInput (field ``kwargs``) when a root's task does not take them."""
    out: dict[str, dict[str, Any]] = {}
    for step in workflow.steps:
        info = task_info(step.task)
        step_kwargs = dict(step.kwargs)
        if not step.after:
            step_kwargs |= kwargs
            _check_root(step, info, step_kwargs)
        pol = validate_policies({
            "queue": step.queue if step.queue is not None else info.queue,
            "retries": step.retries if step.retries is not None else info.retries,
            "timeout": step.timeout if step.timeout is not None else info.timeout,
            "priority": step.priority if step.priority is not None else 0})
        out[step.id] = {
            "task": step.task, "args": list(step.args), "kwargs": step_kwargs,
            "queue": pol.queue, "priority": pol.priority, "max_attempts": pol.retries + 1,
            "retry_backoff": pol.retry_backoff, "retry_backoff_max": pol.retry_backoff_max,
            "timeout": pol.timeout}
    for name in CALLBACKS:
        callback = getattr(workflow, name)
        if callback is None:
            continue
        info = task_info(callback.task)
        pol = validate_policies({"queue": info.queue, "retries": info.retries,
                                 "timeout": info.timeout})
        out[name] = {
            "task": callback.task, "args": [], "kwargs": dict(callback.kwargs),
            "queue": pol.queue, "priority": pol.priority, "max_attempts": pol.retries + 1,
            "retry_backoff": pol.retry_backoff, "retry_backoff_max": pol.retry_backoff_max,
            "timeout": pol.timeout}
    return out


def _check_root(step: Step, info: TaskInfo, kwargs: dict[str, Any]) -> None:
    sample = kwargs
    if isinstance(step.map, list) and step.map:
        sample = kwargs | {"item": step.map[0]}
    elif step.map is not None:
        return
    try:
        validate_arguments(step.task, info.schema, list(step.args), sample)
    except InvalidInput as exc:
        field = exc.field if exc.field.startswith("kwargs") else "kwargs"
        raise InvalidInput(field, f"(step {step.id!r}) {exc.reason}") from None
