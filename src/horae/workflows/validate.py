"""A workflow definition from JSON-like data, validated before anything is written.

Every problem is an :class:`InvalidInput` whose field is the path to the bad value
(``steps[2].after``, ``on_failure.kwargs.channel``) and whose reason says what to change.
Rules:

- ``steps`` is a non-empty list (at most :data:`MAX_STEPS`); step ids are unique.
- ``after`` names steps of the same workflow, each once, and the graph has no cycle (the
  error names the cycle: ``a -> b -> a``).
- ``map`` is a step id (map over that step's result list) or a non-empty list of items.
  A step that maps over another step depends on it: that step is added to ``after`` when
  it is missing (implicitly, so ``{"map": "discover"}`` alone is enough; the stored
  definition lists it).
- ``concurrency`` only on a mapped step; a mapped step's task takes the keyword argument
  ``item`` and its ``kwargs`` do not give one.
- With a task catalogue, every task (steps and callbacks) is known and every step's
  arguments fit the task's JSON schema, as a schedule's do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from horae.errors import InvalidInput, text_problem
from horae.models import TaskInfo
from horae.tasks import validate_arguments
from horae.workflows.model import CALLBACKS, TRIGGER_RULES, Callback, Step, Workflow

#: ``lookup(name)`` returns the task's catalogue entry or raises InvalidInput.
TaskLookup = Callable[[str], TaskInfo]

MAX_STEPS = 1000
WORKFLOW_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,199}$")
STEP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_TOP = {"id", "steps", "description", *CALLBACKS,
        # A record printed by `horae workflows show --json` can be edited and given back.
        "version", "created_at", "updated_at"}
_STEP = {"id", "task", "args", "kwargs", "after", "map", "trigger_rule", "queue", "retries",
         "timeout", "priority", "concurrency"}
_CALLBACK = {"task", "kwargs"}


def check_workflow_id(workflow_id: Any) -> str:
    if not isinstance(workflow_id, str) or not WORKFLOW_ID.match(workflow_id):
        raise InvalidInput("id", "1-200 characters: letters, digits and _ . : @ -, "
                                 "starting with a letter or digit")
    return workflow_id


def parse_workflow(workflow_id: str, data: Any, tasks: TaskLookup | None = None) -> Workflow:
    """The workflow ``data`` (the JSON form) describes, checked against the rules above;
    ``tasks`` checks tasks and arguments (without it, only the shape and the graph)."""
    try:
        return _parse(workflow_id, data, tasks)
    except InvalidInput as exc:
        raise _naming_the_step(exc, data) from None


def _naming_the_step(exc: InvalidInput, data: Any) -> InvalidInput:
    """``steps[2].after`` says where; add the step's id, which says which to a person."""
    match = re.match(r"steps\[(\d+)\]", exc.field)
    if not match or not isinstance(data, Mapping) or not isinstance(data.get("steps"), list):
        return exc
    step = data["steps"][int(match.group(1))]
    step_id = step.get("id") if isinstance(step, Mapping) else None
    if not isinstance(step_id, str) or exc.field == f"steps[{match.group(1)}].id":
        return exc
    return InvalidInput(exc.field, f"(step {step_id!r}) {exc.reason}")


def _parse(workflow_id: str, data: Any, tasks: TaskLookup | None) -> Workflow:
    check_workflow_id(workflow_id)
    if not isinstance(data, Mapping):
        raise InvalidInput("definition", f"must be an object, not {_kind(data)}")
    unknown = sorted(set(data) - _TOP)
    if unknown:
        raise InvalidInput(unknown[0], "not a field of a workflow; known: "
                                       + ", ".join(sorted(_TOP - {"version", "created_at",
                                                                   "updated_at"})))
    if "id" in data and data["id"] != workflow_id:
        raise InvalidInput("id", f"the definition says {data['id']!r} but the workflow is "
                                 f"{workflow_id!r}; drop it or make them equal")
    description = data.get("description", "")
    if not isinstance(description, str) or text_problem(description):
        raise InvalidInput("description", "must be text")
    steps = _steps(data.get("steps"))
    callbacks: dict[str, Any] = {name: _callback(data[name], name) for name in CALLBACKS
                                 if data.get(name) is not None}
    workflow = Workflow(workflow_id, steps, description=description, **callbacks)
    check_graph(workflow)
    if tasks is not None:
        check_tasks(workflow, tasks)
    return workflow


def _steps(raw: Any) -> list[Step]:
    if raw is None:
        raise InvalidInput("steps", "a workflow needs at least one step")
    if not isinstance(raw, list):
        raise InvalidInput("steps", f"must be a list of steps, not {_kind(raw)}")
    if not raw:
        raise InvalidInput("steps", "a workflow needs at least one step")
    if len(raw) > MAX_STEPS:
        raise InvalidInput("steps", f"at most {MAX_STEPS} steps, got {len(raw)}")
    steps = [_step(item, f"steps[{i}]") for i, item in enumerate(raw)]
    seen: dict[str, int] = {}
    for i, s in enumerate(steps):
        if s.id in seen:
            raise InvalidInput(f"steps[{i}].id", f"step id {s.id!r} is already used by "
                                                 f"steps[{seen[s.id]}]; step ids are unique")
        seen[s.id] = i
    return steps


def _step(raw: Any, where: str) -> Step:
    if not isinstance(raw, Mapping):
        raise InvalidInput(where, f"a step must be an object, not {_kind(raw)}")
    unknown = sorted(set(raw) - _STEP)
    if unknown:
        raise InvalidInput(f"{where}.{unknown[0]}", "not a field of a step; known: "
                                                    + ", ".join(sorted(_STEP)))
    step_id = raw.get("id")
    if not isinstance(step_id, str) or not STEP_ID.match(step_id):
        raise InvalidInput(f"{where}.id", "required: 1-100 characters, letters, digits and "
                                          "_ . -, starting with a letter or digit")
    task = _task_name(raw.get("task"), f"{where}.task")
    args = raw.get("args", [])
    if not isinstance(args, list):
        raise InvalidInput(f"{where}.args", "must be a list")
    _json(args, f"{where}.args")
    kwargs = _kwargs(raw.get("kwargs", {}), f"{where}.kwargs")
    after = raw.get("after", [])
    if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
        raise InvalidInput(f"{where}.after", "must be a list of step ids")
    if len(set(after)) != len(after):
        twice = next(a for n, a in enumerate(after) if a in after[:n])
        raise InvalidInput(f"{where}.after", f"names {twice!r} twice")
    mapped = _map(raw.get("map"), kwargs, where)
    if isinstance(mapped, str) and mapped not in after:
        after = [*after, mapped]  # mapping over a step depends on it
    rule = raw.get("trigger_rule", "all_success")
    if rule not in TRIGGER_RULES:
        raise InvalidInput(f"{where}.trigger_rule", f"must be one of {', '.join(TRIGGER_RULES)}"
                                                    f", not {rule!r}")
    queue, retries, timeout, priority, concurrency = _run_options(raw, where)
    if concurrency is not None and mapped is None:
        raise InvalidInput(f"{where}.concurrency", "bounds the runs of a mapped step; this "
                                                   "step has no map")
    if rule != "all_success" and not after:
        raise InvalidInput(f"{where}.trigger_rule", f"{rule} looks at the steps in `after`; "
                                                    "this step has none")
    return Step(step_id, task, list(args), dict(kwargs), list(after), mapped, rule, queue,
                retries, timeout, priority, concurrency)


def _map(mapped: Any, kwargs: Mapping[str, Any], where: str) -> str | list[Any] | None:
    if mapped is None:
        return None
    if isinstance(mapped, list):
        if not mapped:
            raise InvalidInput(f"{where}.map", "an empty list maps to no run; give items "
                                               "or a step id")
        _json(mapped, f"{where}.map")
    elif not isinstance(mapped, str):
        raise InvalidInput(f"{where}.map", "must be a step id (map over its result list) "
                                           "or a list of items")
    if "item" in kwargs:
        raise InvalidInput(f"{where}.kwargs.item", "a mapped step's runs get `item` "
                                                   "from map; do not give it")
    return mapped if isinstance(mapped, str) else list(mapped)


def _run_options(raw: Mapping[str, Any], where: str) -> tuple[
        str | None, int | None, float | None, int | None, int | None]:
    """queue, retries, timeout, priority, concurrency: None means the task's own."""
    queue = raw.get("queue")
    if queue is not None and (not isinstance(queue, str) or not queue.strip()
                              or text_problem(queue)):
        raise InvalidInput(f"{where}.queue", "must be a queue name")
    retries = _whole(raw.get("retries"), f"{where}.retries", low=0)
    priority = _whole(raw.get("priority"), f"{where}.priority", low=None)
    concurrency = _whole(raw.get("concurrency"), f"{where}.concurrency", low=1)
    timeout = raw.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)
                                or not timeout > 0 or timeout != timeout):
        raise InvalidInput(f"{where}.timeout", "must be a number of seconds > 0")
    return queue, retries, None if timeout is None else float(timeout), priority, concurrency


def _callback(raw: Any, where: str) -> Callback:
    if isinstance(raw, str):
        raw = {"task": raw}
    if not isinstance(raw, Mapping):
        raise InvalidInput(where, f"must be an object {{task, kwargs}}, not {_kind(raw)}")
    unknown = sorted(set(raw) - _CALLBACK)
    if unknown:
        raise InvalidInput(f"{where}.{unknown[0]}", "not a field of a callback; known: "
                                                    "task, kwargs")
    return Callback(_task_name(raw.get("task"), f"{where}.task"),
                    dict(_kwargs(raw.get("kwargs", {}), f"{where}.kwargs")))


def check_graph(workflow: Workflow) -> None:
    """Every ``after`` and ``map`` names a step of the workflow, and there is no cycle."""
    index = {s.id: i for i, s in enumerate(workflow.steps)}
    for i, s in enumerate(workflow.steps):
        for dep in s.after:
            if dep not in index:
                raise InvalidInput(f"steps[{i}].after", f"unknown step {dep!r}; steps: "
                                                        + ", ".join(index))
        if s.map_step is not None and s.map_step not in index:
            raise InvalidInput(f"steps[{i}].map", f"unknown step {s.map_step!r}; steps: "
                                                  + ", ".join(index))
        if s.map_step == s.id:
            raise InvalidInput(f"steps[{i}].map", "a step cannot map over its own result")
    cycle = find_cycle(workflow)
    if cycle:
        raise InvalidInput(f"steps[{index[cycle[0]]}].after",
                           "the steps form a cycle: " + " -> ".join([*cycle, cycle[0]]))


def find_cycle(workflow: Workflow) -> list[str]:
    """One cycle of the ``after`` graph as step ids (empty when it is a DAG); iterative, so
    a long chain does not hit the recursion limit."""
    after = {s.id: s.after for s in workflow.steps}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in after:
        if state.get(root):
            continue
        path: list[str] = [root]
        todo: list[list[str]] = [list(after[root])]
        state[root] = 1
        while path:
            if not todo[-1]:
                state[path.pop()] = 2
                todo.pop()
                continue
            nxt = todo[-1].pop()
            if state.get(nxt) == 1:
                return path[path.index(nxt):]
            if not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                todo.append(list(after.get(nxt, [])))
    return []


def check_tasks(workflow: Workflow, tasks: TaskLookup) -> None:
    """Every task is known and every step's (and callback's) arguments fit its schema."""
    for i, s in enumerate(workflow.steps):
        where = f"steps[{i}]"
        info = _lookup(tasks, s.task, f"{where}.task")
        _fit(info, s.args, s.kwargs, where, s)
    for name in CALLBACKS:
        callback = getattr(workflow, name)
        if callback is not None:
            info = _lookup(tasks, callback.task, f"{name}.task")
            _fit(info, [], callback.kwargs, name, None)


def _lookup(tasks: TaskLookup, name: str, where: str) -> TaskInfo:
    try:
        return tasks(name)
    except InvalidInput as exc:
        raise InvalidInput(where, exc.reason) from None


def _fit(info: TaskInfo, args: list[Any], kwargs: dict[str, Any], where: str,
         step: Step | None) -> None:
    schema: Mapping[str, Any] = info.schema
    if step is not None and step.map is not None:
        props = dict(schema.get("properties", {}))
        if "item" not in props and not schema.get("additionalProperties", True):
            raise InvalidInput(f"{where}.map", f"task {info.name!r} takes no `item` argument: "
                                               "each run of a mapped step gets its item so")
        # Each run gets `item`; its value is known only when the step runs (a step's result)
        # or is checked per item below (a literal list).
        items = step.map if isinstance(step.map, list) else [None]
        if isinstance(step.map, str) and "item" in props:
            schema = dict(schema, properties=dict(props, item={}))
        for n, item in enumerate(items):
            try:
                validate_arguments(info.name, schema, args, {**kwargs, "item": item})
            except InvalidInput as exc:
                field = exc.field.replace("kwargs.item", f"map[{n}]", 1) \
                    if exc.field.startswith("kwargs.item") else exc.field
                raise InvalidInput(f"{where}.{field}", exc.reason) from None
        return
    try:
        validate_arguments(info.name, schema, args, kwargs)
    except InvalidInput as exc:
        raise InvalidInput(f"{where}.{exc.field}", exc.reason) from None


def _task_name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or text_problem(value):
        raise InvalidInput(where, "required: the name of a registered task")
    return value


def _kwargs(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidInput(where, "must be an object")
    _json(value, where)
    return value


def _whole(value: Any, where: str, *, low: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(where, f"must be a whole number, not {value!r}")
    if low is not None and value < low:
        raise InvalidInput(where, f"must be at least {low}")
    return value


def _json(value: Any, where: str) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(where, f"must be JSON (numbers, strings, lists, objects): {exc}") \
            from None


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), type(value).__name__)
