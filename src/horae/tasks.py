"""Tasks: code a worker may run, registered by name on an app; their argument schemas.

Only registered tasks can be scheduled or run. A task's JSON Schema is derived from its
signature once, advertised by workers, and used to validate arguments before any write,
also in processes that do not have the task's code.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import jsonschema
from pydantic import TypeAdapter
from pydantic.errors import PydanticSchemaGenerationError, PydanticUserError

from horae.errors import InvalidInput
from horae.models import TaskInfo

if TYPE_CHECKING:
    from horae.app import Horae
    from horae.models import Run
    from horae.workflows.builders import Signature

Mode = Literal["async", "thread", "process"]
MODES: tuple[Mode, ...] = ("async", "thread", "process")


@dataclass(eq=False)
class Task:
    """A registered task. Calling it runs the function here and now, like a plain call."""

    name: str
    func: Callable[..., Any]
    app: Horae | None = None
    queue: str = "default"
    retries: int = 0
    retry_backoff: float = 1.0
    timeout: float | None = None
    mode: Mode = "thread"
    priority: int = 0
    schema: dict[str, Any] = field(default_factory=dict)
    wants_ctx: bool = False
    concurrency: int | None = None
    #: Where ``ctx`` is among the positional parameters (``def f(ctx, *targets)``), for a
    #: call that passes arguments by position; ``None`` when it is not one of them.
    ctx_position: int | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    @property
    def doc(self) -> str:
        return inspect.getdoc(self.func) or ""

    def info(self) -> TaskInfo:
        return TaskInfo(self.name, self.schema, self.queue, self.mode, self.doc, self.retries,
                        self.timeout, self.concurrency)

    def run_now(self, *args: Any, **kwargs: Any) -> Run:
        """Queue one run of this task now; returns the run record."""
        return self._app().runs.create(self.name, args=list(args), kwargs=kwargs)

    def run_at(self, when: Any, *args: Any, **kwargs: Any) -> Run:
        """Queue one run at ``when`` (aware datetime, epoch seconds or ISO-8601 string)."""
        return self._app().runs.create(self.name, args=list(args), kwargs=kwargs, at=when)

    def s(self, *args: Any, **kwargs: Any) -> Signature:
        """A workflow step running this task with these arguments (Celery's ``.s()``):
        compose with ``chain``, ``group``, ``chord`` and ``dag`` (horae.workflows)."""
        from horae.workflows.builders import Signature

        return Signature(self.name, list(args), dict(kwargs))

    def map(self, items: Any = None, *, concurrency: int | None = None,
            **kwargs: Any) -> Signature:
        """A mapped workflow step: one run of this task per item, each given ``item=``.

        ``items``: a list, or the signature (or id) of an upstream step whose result list
        it maps over; left out inside a chain, the previous step's result.
        """
        from horae.workflows.builders import PREVIOUS, map_signature

        return map_signature(self.name, PREVIOUS if items is None else items,
                             concurrency=concurrency, **kwargs)

    def _app(self) -> Horae:
        if self.app is None:
            raise RuntimeError(f"task {self.name!r} is not registered on an app")
        return self.app


class TaskRegistry:
    """The tasks of one app, by name."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}

    def add(self, task: Task) -> Task:
        if task.name in self._tasks and self._tasks[task.name].func is not task.func:
            raise ValueError(f"a different task is already registered as {task.name!r}")
        if task.concurrency is not None and (
            not isinstance(task.concurrency, int) or task.concurrency < 1
        ):
            raise InvalidInput("concurrency", "must be a whole number >= 1, or None")
        if task.mode not in MODES:
            raise InvalidInput("mode", f"must be one of {', '.join(MODES)}, not {task.mode!r}")
        if task.mode == "async" and not inspect.iscoroutinefunction(task.func):
            raise InvalidInput("mode", f"task {task.name!r} is not a coroutine function")
        if task.mode != "async" and inspect.iscoroutinefunction(task.func):
            raise InvalidInput("mode", f"coroutine task {task.name!r} must use mode='async'")
        self._tasks[task.name] = task
        return task

    def get(self, name: str) -> Task | None:
        return self._tasks.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    def __iter__(self) -> Any:
        return iter(sorted(self._tasks.values(), key=lambda t: t.name))

    def __len__(self) -> int:
        return len(self._tasks)


def make_task(
    func: Callable[..., Any],
    *,
    name: str | None = None,
    mode: Mode | None = None,
    **options: Any,
) -> Task:
    """Build a Task from a function: its name, mode and argument schema."""
    schema, wants_ctx = signature_schema(func)
    if mode is None:
        mode = "async" if inspect.iscoroutinefunction(func) else "thread"
    task_name = name or f"{func.__module__}.{func.__qualname__}"
    return Task(task_name, func, mode=mode, schema=schema, wants_ctx=wants_ctx,
                ctx_position=_ctx_position(func), **options)


#: Schema keys for signatures that are not "every parameter by name": the names that may
#: be given by position, in order (present when the function has ``*args`` or keyword-only
#: parameters), and the schema of each extra positional argument (``*args``).
POSITIONAL = "x-horae-positional"
REST = "x-horae-rest"


def _signature(func: Callable[..., Any]) -> inspect.Signature:
    try:
        # Modules with ``from __future__ import annotations`` hold annotations as strings.
        return inspect.signature(func, eval_str=True)
    except (NameError, TypeError, SyntaxError):
        return inspect.signature(func)


def _ctx_position(func: Callable[..., Any]) -> int | None:
    positional = [p for p in _signature(func).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for i, p in enumerate(positional):
        if p.name == "ctx" or _is_context(p.annotation):
            return i
    return None


def signature_schema(func: Callable[..., Any]) -> tuple[dict[str, Any], bool]:
    """JSON Schema of a function's keyword arguments, and whether it takes ``ctx``.

    ``*args`` (``def test(*targets)``) and keyword-only parameters are described by the
    ``x-horae-positional`` and ``x-horae-rest`` keys (see :data:`POSITIONAL`).
    """
    props: dict[str, Any] = {}
    required: list[str] = []
    positional: list[str] = []
    extra = False
    wants_ctx = False
    rest: dict[str, Any] | None = None
    keyword_only = False
    for p in _signature(func).parameters.values():
        if p.name == "ctx" or _is_context(p.annotation):
            wants_ctx = True
            continue
        if p.kind is p.VAR_KEYWORD:
            extra = True
            continue
        if p.kind is p.VAR_POSITIONAL:
            rest = _annotation_schema(p.annotation)
            continue
        if p.kind is p.KEYWORD_ONLY:
            keyword_only = True
        else:
            positional.append(p.name)
        props[p.name] = _annotation_schema(p.annotation)
        if p.default is p.empty:
            required.append(p.name)
        else:
            default = p.default
            if _is_json(default):
                props[p.name]["default"] = default
    schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": extra}
    if required:
        schema["required"] = required
    if rest is not None or keyword_only:
        schema[POSITIONAL] = positional
    if rest is not None:
        schema[REST] = rest
    return schema, wants_ctx


def _is_context(annotation: Any) -> bool:
    from horae.worker.context import Context

    return annotation is Context or annotation == "Context" or annotation == "horae.Context"


def _annotation_schema(annotation: Any) -> dict[str, Any]:
    if annotation is inspect.Parameter.empty or isinstance(annotation, str):
        return {}
    try:
        schema = TypeAdapter(annotation).json_schema()
    except (PydanticSchemaGenerationError, PydanticUserError, TypeError):
        return {}
    schema.pop("title", None)
    return dict(schema)


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def bind_arguments(
    schema: Mapping[str, Any], args: Sequence[Any], kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """Name positional ``args`` after the schema's properties, in order (the ones beyond
    the named parameters of a task with ``*args`` are left out: see :func:`rest_of`)."""
    names = list(schema.get(POSITIONAL, schema.get("properties", {})))
    if len(args) > len(names) and REST not in schema:
        raise InvalidInput(
            "args", f"takes at most {len(names)} positional arguments, got {len(args)}"
        )
    bound = dict(zip(names, args, strict=False))
    for key in kwargs:
        if key in bound:
            raise InvalidInput(f"kwargs.{key}", "given both by position and by name")
    return bound | dict(kwargs)


@functools.lru_cache(maxsize=1024)
def _validator(schema_json: str) -> jsonschema.Draft202012Validator:
    """Building a validator costs more than validating: many schedules share a task."""
    return jsonschema.Draft202012Validator(json.loads(schema_json))


def validate_arguments(
    task_name: str, schema: Mapping[str, Any], args: Sequence[Any], kwargs: Mapping[str, Any]
) -> None:
    """Raise InvalidInput unless the arguments are JSON and fit the task's schema."""
    for where, value in (("args", args), ("kwargs", kwargs)):
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(where, f"must be JSON (numbers, strings, lists, objects): {exc}") \
                from None
        if where == "args" and not isinstance(value, list | tuple):
            raise InvalidInput("args", "must be a list")
        if where == "kwargs" and not isinstance(value, Mapping):
            raise InvalidInput("kwargs", "must be an object")
    bound = bind_arguments(schema, args, kwargs)
    _check_rest(task_name, schema, args)
    validator = _validator(json.dumps(schema, sort_keys=True))
    error = jsonschema.exceptions.best_match(validator.iter_errors(bound))
    if error is not None:
        path = ".".join(str(p) for p in error.absolute_path)
        if error.validator == "required" or error.validator == "additionalProperties":
            path = ""
        raise InvalidInput(f"kwargs{'.' + path if path else ''}",
                           f"{error.message} (task {task_name!r})")


def rest_of(schema: Mapping[str, Any], args: Sequence[Any]) -> list[Any]:
    """The positional arguments a task with ``*args`` takes beyond its named ones."""
    if REST not in schema:
        return []
    return list(args[len(schema.get(POSITIONAL, ())):])


def call_arguments(task: Task, args: Sequence[Any], kwargs: Mapping[str, Any],
                   ctx: Any = None) -> tuple[list[Any], dict[str, Any]]:
    """How to call ``task.func`` with a run's arguments: every argument by name (so
    ``ctx`` may be any parameter), except for a function with ``*args``, which gets its
    positional arguments by position (``ctx`` at its place among them)."""
    if REST not in task.schema:
        named = bind_arguments(task.schema, args, kwargs)
        if task.wants_ctx:
            named["ctx"] = ctx
        return [], named
    from horae.worker.context import place_context

    positional, named = list(args), dict(kwargs)
    if task.wants_ctx:
        place_context(positional, named, task.ctx_position, ctx)
    return positional, named


def _check_rest(task_name: str, schema: Mapping[str, Any], args: Sequence[Any]) -> None:
    rest = rest_of(schema, args)
    if not rest or not schema[REST]:
        return
    validator = _validator(json.dumps(schema[REST], sort_keys=True))
    first = len(args) - len(rest)
    for i, value in enumerate(rest, start=first):
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
        if error is not None:
            raise InvalidInput(f"args[{i}]", f"{error.message} (task {task_name!r})")
