"""trigger_from_dict inverts to_dict, and refuses bad data naming the offending field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from horae.errors import InvalidInput
from horae.triggers import Trigger, any_of, at, cron, interval, trigger_from_dict

from .cron_strategies import ZONES, cron_expressions
from .helpers import utc, walk

EPOCHS = st.floats(utc(1990, 1, 1), utc(2090, 1, 1))


def _cron_or_fallback(text: str, zone: str) -> Trigger:
    try:
        return cron(text, zone)
    except InvalidInput:  # the generator can produce expressions that never fire
        return cron("0 0 * * *", zone)


LEAVES = st.one_of(
    st.builds(_cron_or_fallback, cron_expressions().map(lambda e: e.text), st.sampled_from(ZONES)),
    st.builds(lambda p, a: interval(p, anchor=a), st.floats(0.001, 1e8), st.none() | EPOCHS),
    EPOCHS.map(at),
)
TRIGGERS = st.recursive(
    LEAVES,
    lambda children: st.lists(children, min_size=1, max_size=3).map(lambda m: any_of(*m)),
    max_leaves=6,
)


@given(trigger=TRIGGERS, after=EPOCHS)
def test_round_trip_through_json(trigger: Trigger, after: float) -> None:
    data = json.loads(json.dumps(trigger.to_dict()))
    rebuilt = trigger_from_dict(data)
    assert rebuilt == trigger
    assert rebuilt.to_dict() == trigger.to_dict()
    assert type(rebuilt) is type(trigger)
    assert walk(rebuilt, after, 3) == walk(trigger, after, 3)


def test_cron_zone_defaults_to_utc() -> None:
    assert trigger_from_dict({"kind": "cron", "expr": "0 2 * * *"}) == cron("0 2 * * *", "UTC")


def test_interval_anchor_is_optional() -> None:
    assert trigger_from_dict({"kind": "interval", "seconds": 5}) == interval(5)


def test_date_accepts_an_iso_string() -> None:
    assert trigger_from_dict({"kind": "date", "at": "2026-12-01T09:00:00Z"}) == at(
        utc(2026, 12, 1, 9)
    )


BAD: list[tuple[Any, str, str]] = [
    ("cron", "trigger", "expected an object"),
    ({}, "trigger.kind", "expected one of cron, interval, date, any"),
    ({"kind": "weekly"}, "trigger.kind", "got 'weekly'"),
    ({"kind": 5}, "trigger.kind", "expected one of"),
    ({"kind": "cron", "expr": "* * * * *", "zone": "UTC"}, "trigger.zone", "unknown key"),
    ({"kind": "cron"}, "trigger.expr", "missing"),
    ({"kind": "cron", "expr": 5}, "trigger.expr", "expected a string"),
    ({"kind": "cron", "expr": "0 0 30 2 *"}, "trigger.expr", "never fire"),
    ({"kind": "cron", "expr": "* * * * *", "tz": 3}, "trigger.tz", "IANA"),
    ({"kind": "cron", "expr": "* * * * *", "tz": "Nowhere/City"}, "trigger.tz", "unknown"),
    ({"kind": "interval"}, "trigger.seconds", "missing"),
    ({"kind": "interval", "seconds": "5"}, "trigger.seconds", "expected a number"),
    ({"kind": "interval", "seconds": True}, "trigger.seconds", "expected a number"),
    ({"kind": "interval", "seconds": 0}, "trigger.seconds", "greater than zero"),
    ({"kind": "interval", "seconds": 5, "anchor": "x"}, "trigger.anchor", "epoch seconds"),
    ({"kind": "date"}, "trigger.at", "missing"),
    ({"kind": "date", "at": "soon"}, "trigger.at", "ISO-8601"),
    ({"kind": "date", "at": "2026-12-01T09:00:00"}, "trigger.at", "no time zone"),
    ({"kind": "date", "at": [1]}, "trigger.at", "epoch seconds"),
    ({"kind": "any"}, "trigger.triggers", "missing"),
    ({"kind": "any", "triggers": {"kind": "date", "at": 1.0}}, "trigger.triggers", "a list"),
    ({"kind": "any", "triggers": []}, "trigger.triggers", "at least one"),
    ({"kind": "any", "triggers": [5]}, "trigger.triggers.0", "expected an object"),
    (
        {"kind": "any", "triggers": [{"kind": "date", "at": 1.0}, {"kind": "cron", "expr": "x"}]},
        "trigger.triggers.1.expr",
        "expected 5 fields",
    ),
    (
        {
            "kind": "any",
            "triggers": [
                {"kind": "any", "triggers": [{"kind": "interval", "seconds": 1}, {"kind": "?"}]}
            ],
        },
        "trigger.triggers.0.triggers.1.kind",
        "expected one of",
    ),
    (
        {"kind": "any", "triggers": [{"kind": "cron", "expr": "* * * * *", "tz": "Moon/Base"}]},
        "trigger.triggers.0.tz",
        "unknown time zone",
    ),
]


@pytest.mark.parametrize(("data", "field", "in_reason"), BAD)
def test_bad_data_names_the_field(data: Any, field: str, in_reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        trigger_from_dict(data)
    assert caught.value.field == field
    assert in_reason in caught.value.reason


def test_hostile_nesting_is_refused_without_recursing_deeply() -> None:
    data: dict[str, Any] = {"kind": "interval", "seconds": 1}
    for _ in range(10_000):
        data = {"kind": "any", "triggers": [data]}
    with pytest.raises(InvalidInput) as caught:
        trigger_from_dict(data)
    assert "nest at most" in caught.value.reason
