"""Python builders for workflows, in the shape of Celery's canvas; each produces the same
data as the JSON form (:class:`~horae.workflows.model.Workflow`).

- ``task.s(*args, **kwargs)`` (or ``signature("name", ...)``): one step.
  ``.set(id=..., queue=..., retries=..., timeout=..., priority=..., trigger_rule=...)``
  sets its step options; ``.after(*steps)`` adds explicit dependencies.
- ``chain(a, b, c)`` (or ``a | b | c``): each part starts after the previous one ended.
- ``group(a, b, ...)``: the parts run side by side.
- ``chord(group(...), callback)``: the callback runs after every part of the group.
- ``task.map(items, concurrency=N)``: one run per item, each given ``item=...``; ``items``
  is a list, or the signature of an upstream step whose result list it maps over; with no
  ``items`` inside a chain, it maps over the previous step's result.
- ``dag(a, b, c)``: the explicit form: the steps as given, dependencies only as set with
  ``.after(...)`` or ``.set(after=[...])``.

Unlike Celery, a step is not handed its predecessor's result as an argument: it reads
every predecessor's result from ``ctx.inputs`` (step id -> result). A step's id defaults to
the last part of its task's name (``scan.probe`` -> ``probe``), numbered when taken.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from horae.errors import InvalidInput
from horae.workflows.model import CALLBACKS, Callback, Step, Workflow

_OPTIONS = {"id", "queue", "retries", "timeout", "priority", "trigger_rule", "after",
            "concurrency"}


class Canvas:
    """Something that becomes steps: a signature, chain, group, chord or dag."""

    def __or__(self, other: Canvas) -> Chain:
        return chain(self, other)

    def _parts(self) -> list[Signature]:
        raise NotImplementedError

    def _wire(self, steps: _Build, previous: list[Signature]) -> list[Signature]:
        """Add this part's steps, each first step after ``previous``; its last steps."""
        raise NotImplementedError

    def workflow(self, id: str = "workflow", *, description: str = "",
                 on_success: Signature | Callback | None = None,
                 on_failure: Signature | Callback | None = None,
                 on_finish: Signature | Callback | None = None) -> Workflow:
        """The workflow this canvas describes (not validated against tasks: see
        ``app.workflows.add``)."""
        build = _Build()
        self._wire(build, [])
        callbacks: dict[str, Any] = {name: _as_callback(value) for name, value in
                     zip(CALLBACKS, (on_success, on_failure, on_finish), strict=True)
                     if value is not None}
        return Workflow(id, build.steps(), description=description, **callbacks)

    def definition(self, **options: Any) -> dict[str, Any]:
        """The JSON form of :meth:`workflow`."""
        return self.workflow(**options).definition()


@dataclass(eq=False)
class Signature(Canvas):
    """One step: a task, its arguments and step options."""

    task: str
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    deps: list[Signature | str] = field(default_factory=list)
    #: ``map``: a list of items, an upstream signature or step id, or ``PREVIOUS``.
    items: Any = None

    def set(self, **options: Any) -> Signature:
        """Step options (``id``, ``queue``, ``retries``, ``timeout``, ``priority``,
        ``trigger_rule``, ``concurrency``, ``after``); returns the signature."""
        unknown = sorted(set(options) - _OPTIONS)
        if unknown:
            raise InvalidInput(unknown[0], "not a step option; known: " + ", ".join(
                sorted(_OPTIONS)))
        after = options.pop("after", None)
        if after is not None:
            self.after(*([after] if isinstance(after, str | Signature) else after))
        self.options.update(options)
        return self

    def after(self, *steps: Signature | str) -> Signature:
        """Run after these steps (signatures of the same workflow, or step ids)."""
        self.deps.extend(steps)
        return self

    def _parts(self) -> list[Signature]:
        return [self]

    def _wire(self, steps: _Build, previous: list[Signature]) -> list[Signature]:
        if self.items is PREVIOUS:
            if len(previous) != 1:
                raise InvalidInput("map", f"{self.task}.map() with no items maps over the "
                                          "previous step's result: it needs exactly one "
                                          f"previous step, not {len(previous)}")
            steps.add(self, previous, previous[0])
        else:
            steps.add(self, previous, self.items)
        return [self]


class _Previous:
    def __repr__(self) -> str:
        return "PREVIOUS"


PREVIOUS: Any = _Previous()


def signature(task: str, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None,
              **options: Any) -> Signature:
    """A step by task name, for tasks whose code this process does not have."""
    return Signature(task, list(args), dict(kwargs or {})).set(**options)


def map_signature(task: str, items: Any = PREVIOUS, *, concurrency: int | None = None,
                  **kwargs: Any) -> Signature:
    """``task.map(...)``: see the module's docstring."""
    sig = Signature(task, [], dict(kwargs), items=items)
    if concurrency is not None:
        sig.options["concurrency"] = concurrency
    return sig


@dataclass(eq=False)
class Chain(Canvas):
    tasks: list[Canvas]

    def _parts(self) -> list[Signature]:
        return [s for t in self.tasks for s in t._parts()]

    def _wire(self, steps: _Build, previous: list[Signature]) -> list[Signature]:
        for part in self.tasks:
            previous = part._wire(steps, previous)
        return previous


@dataclass(eq=False)
class Group(Canvas):
    tasks: list[Canvas]

    def _parts(self) -> list[Signature]:
        return [s for t in self.tasks for s in t._parts()]

    def _wire(self, steps: _Build, previous: list[Signature]) -> list[Signature]:
        return [last for part in self.tasks for last in part._wire(steps, previous)]


@dataclass(eq=False)
class Dag(Canvas):
    tasks: list[Signature]

    def _parts(self) -> list[Signature]:
        return list(self.tasks)

    def _wire(self, steps: _Build, previous: list[Signature]) -> list[Signature]:
        for part in self.tasks:
            part._wire(steps, previous)
        return list(self.tasks)


def chain(*tasks: Canvas) -> Chain:
    if not tasks:
        raise InvalidInput("chain", "give at least one signature")
    return Chain([_canvas(t, "chain") for t in tasks])


def group(*tasks: Canvas | Sequence[Canvas]) -> Group:
    flat = [t for item in tasks for t in (item if isinstance(item, list | tuple) else [item])]
    if not flat:
        raise InvalidInput("group", "give at least one signature")
    return Group([_canvas(t, "group") for t in flat])


def chord(header: Canvas | Sequence[Canvas], body: Canvas) -> Chain:
    """The ``body`` (a callback) after every part of ``header`` (a group or a list)."""
    head = header if isinstance(header, Canvas) else group(*header)
    return chain(head, body)


def dag(*tasks: Signature) -> Dag:
    if not tasks or not all(isinstance(t, Signature) for t in tasks):
        raise InvalidInput("dag", "give the steps as signatures (task.s(...)) with their "
                                  ".after(...)")
    return Dag(list(tasks))


class _Build:
    """Steps in the order added; ids given to signatures, then dependencies resolved."""

    def __init__(self) -> None:
        self._order: list[tuple[Signature, list[Signature], Any]] = []
        self._ids: dict[int, str] = {}

    def add(self, sig: Signature, previous: list[Signature], items: Any) -> None:
        if id(sig) in self._ids:
            raise InvalidInput("steps", f"the same signature of {sig.task!r} appears twice; "
                                        "make one per step with .s()")
        self._ids[id(sig)] = ""
        self._order.append((sig, previous, items))

    def _name(self, sig: Signature, taken: set[str]) -> str:
        wanted = sig.options.get("id")
        if isinstance(wanted, str):
            return wanted
        base = sig.task.rsplit(".", 1)[-1] or "step"
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        return name

    def _ref(self, ref: Signature | str) -> str:
        if isinstance(ref, str):
            return ref
        found = self._ids.get(id(ref))
        if not found:
            raise InvalidInput("after", f"a step after {ref.task!r}, which is not part of "
                                        "this workflow")
        return found

    def steps(self) -> list[Step]:
        explicit = {s.options["id"] for s, _, _ in self._order if "id" in s.options}
        taken: set[str] = set(explicit)
        for sig, _, _ in self._order:
            name = self._name(sig, taken)
            taken.add(name)
            self._ids[id(sig)] = name
        out = []
        for sig, previous, items in self._order:
            after = [self._ref(p) for p in previous] + [self._ref(d) for d in sig.deps]
            mapped = items
            if isinstance(items, Signature | str):
                mapped = self._ref(items)
                after.append(mapped)
            opts = {k: v for k, v in sig.options.items() if k != "id"}
            out.append(Step(self._ids[id(sig)], sig.task, list(sig.args), dict(sig.kwargs),
                            list(dict.fromkeys(after)), mapped, **opts))
        return out


def _canvas(value: Any, where: str) -> Canvas:
    if not isinstance(value, Canvas):
        raise InvalidInput(where, f"parts are signatures (task.s(...)) or canvases, not "
                                  f"{type(value).__name__}")
    return value


def _as_callback(value: Signature | Callback) -> Callback:
    if isinstance(value, Callback):
        return value
    if value.args:
        raise InvalidInput("callback", "a callback takes keyword arguments only")
    return Callback(value.task, dict(value.kwargs))
