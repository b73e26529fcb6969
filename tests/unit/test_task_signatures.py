"""Task signatures → argument schemas: ``*args``, keyword-only parameters, ``ctx``."""

from __future__ import annotations

from typing import Any

import pytest

from horae import Context
from horae.errors import InvalidInput
from horae.tasks import call_arguments, make_task, validate_arguments


def check(func: Any, args: list[Any], kwargs: dict[str, Any] | None = None) -> None:
    task = make_task(func)
    validate_arguments(task.name, task.schema, args, kwargs or {})


def test_a_task_with_only_star_args_accepts_any_number_of_positional_arguments() -> None:
    def test(*args):  # type: ignore[no-untyped-def]
        return args

    for args in ([], [1], ["a", {"b": 2}, [3]]):
        check(test, args)
    task = make_task(test)
    assert call_arguments(task, [1, 2], {}) == ([1, 2], {})


def test_star_args_items_are_checked_against_their_annotation() -> None:
    def probe(host: str, *ports: int) -> None:
        pass

    check(probe, ["db", 5432, 6379])
    with pytest.raises(InvalidInput) as bad:
        check(probe, ["db", 5432, "redis"])
    assert bad.value.field == "args[2]"
    assert "integer" in bad.value.reason
    with pytest.raises(InvalidInput) as missing:
        check(probe, [])
    assert "host" in missing.value.reason


def test_keyword_only_parameters_cannot_be_given_by_position() -> None:
    def report(region: str, *, full: bool = False) -> None:
        pass

    check(report, ["eu"], {"full": True})
    with pytest.raises(InvalidInput) as bad:
        check(report, ["eu", True])
    assert bad.value.field == "args"
    assert "at most 1" in bad.value.reason


def test_a_named_argument_given_twice_is_refused_with_star_args() -> None:
    def probe(host: str, *ports: int) -> None:
        pass

    with pytest.raises(InvalidInput) as bad:
        check(probe, ["db", 1], {"host": "other"})
    assert bad.value.field == "kwargs.host"


def test_ctx_goes_to_its_place_among_positional_arguments() -> None:
    def first(ctx: Context, *targets: str) -> None:
        pass

    def named(*targets: str, ctx: Context) -> None:
        pass

    marker = object()
    assert call_arguments(make_task(first), ["a", "b"], {}, marker) == (
        [marker, "a", "b"], {})
    assert call_arguments(make_task(first), [], {}, marker) == ([], {"ctx": marker})
    assert call_arguments(make_task(named), ["a"], {}, marker) == (["a"], {"ctx": marker})


def test_plain_signatures_keep_their_schema_and_are_called_by_name() -> None:
    def add(a: int, b: int = 1) -> int:
        return a + b

    task = make_task(add)
    assert set(task.schema) == {"type", "properties", "additionalProperties", "required"}
    assert call_arguments(task, [2], {"b": 3}) == ([], {"a": 2, "b": 3})
