"""Properties of cron fires over generated expressions, zones and start instants (1990..2090).

The oracle in ``cron_strategies`` decides matches independently of the implementation; cronsim
and croniter serve as second opinions where their dialect and DST handling coincide with ours.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter  # type: ignore[import-untyped]
from cronsim import CronSim
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from horae.errors import InvalidInput
from horae.triggers import CronTrigger, cron

from .cron_strategies import (
    ZONES,
    GeneratedCron,
    cron_expressions,
    dense_cron_expressions,
    instants_near_transitions,
    near_transition,
    start_instants,
)
from .helpers import walk

PROPERTY_SETTINGS = settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def never_matches(expr: GeneratedCron) -> bool:
    """Oracle: no day in 2000..2027 matches. Those 28 years hold every shape a month can take
    (each length with each weekday of the 1st), so this is "never" for all years."""
    day = date(2000, 1, 1)
    while day.year < 2028:
        if expr.matches_day(day):
            return False
        day += timedelta(days=1)
    return True


def build(expr: GeneratedCron, zone: str) -> CronTrigger:
    """The trigger, or a skipped example if the expression can never fire (checked by oracle)."""
    try:
        return cron(expr.text, zone)
    except InvalidInput as error:
        assert error.field == "trigger.expr"
        assert "never fire" in error.reason, error.reason
        assert never_matches(expr), f"{expr.text!r} was rejected but can fire"
        assume(False)
        raise


def assert_fire_obeys_rules(expr: GeneratedCron, zone: str, fire: float) -> None:
    tz = ZoneInfo(zone)
    assert fire == math.floor(fire)
    local = datetime.fromtimestamp(fire, tz)
    # Repeated hour: a wall time fires at its first occurrence, never in the second pass.
    assert local.fold == 0, f"{expr.text!r} fired in a repeated hour's second pass: {local}"
    if datetime.fromtimestamp(fire, tz).replace(fold=1).utcoffset() != local.utcoffset():
        event("fire at the first occurrence of a repeated wall time")
    wall = local.replace(tzinfo=None)
    # The wall time shown for a fire exists, i.e. no fire sits inside a gap.
    assert wall.replace(tzinfo=tz).timestamp() == fire
    if expr.matches(wall):
        return
    event("fire shifted to a gap's end")
    # Otherwise it must be a gap end: the offset jumps forward exactly at this instant, and
    # some wall time inside the skipped range matches the expression.
    offset_before = datetime.fromtimestamp(fire - 1, tz).utcoffset()
    offset_after = local.utcoffset()
    assert offset_before is not None and offset_after is not None
    assert offset_after > offset_before, f"{expr.text!r} fired at non-matching {local}"
    candidate = wall - (offset_after - offset_before)
    while candidate < wall:
        if expr.matches_minute(candidate):
            return
        candidate += timedelta(minutes=1)
    raise AssertionError(f"{expr.text!r} fired at gap end {local} but nothing in the gap matches")


@PROPERTY_SETTINGS
@given(
    expr=st.one_of(cron_expressions(), dense_cron_expressions()),
    zone=st.sampled_from(ZONES),
    data=st.data(),
)
def test_fires_strictly_increase_and_match_the_fields(
    expr: GeneratedCron, zone: str, data: st.DataObject
) -> None:
    trigger = build(expr, zone)
    start = data.draw(st.one_of(start_instants, instants_near_transitions(zone)), label="start")
    fires = walk(trigger, start, 6)
    assert len(fires) == 6  # a valid expression keeps firing
    assert all(a < b for a, b in zip([start, *fires], fires, strict=False))
    for fire in fires:
        assert_fire_obeys_rules(expr, zone, fire)


@PROPERTY_SETTINGS
@given(expr=dense_cron_expressions(), zone=st.sampled_from(ZONES[1:]), data=st.data())
def test_no_matching_instant_is_skipped_near_transitions(
    expr: GeneratedCron, zone: str, data: st.DataObject
) -> None:
    """Every instant whose wall time matches (first pass) is a fire: none fall between fires."""
    trigger = build(expr, zone)
    tz = ZoneInfo(zone)
    start = data.draw(instants_near_transitions(zone), label="start")
    previous = start
    for fire in walk(trigger, start, 8):
        assert_fire_obeys_rules(expr, zone, fire)
        if fire - previous <= 3 * 3600:
            minute = math.floor(previous / 60 + 1) * 60  # zone offsets are whole minutes
            while minute < fire:
                local = datetime.fromtimestamp(minute, tz)
                missed = local.fold == 0 and expr.matches(local.replace(tzinfo=None))
                assert not missed, f"{expr.text!r} skipped {local} between {previous} and {fire}"
                minute += 60
        previous = fire


def reference_fires(expr: str, zone: str, after: float, library: str) -> float:
    start = datetime.fromtimestamp(math.floor(after), ZoneInfo(zone))
    if library == "cronsim":
        return next(CronSim(expr, start)).timestamp()
    six_fields = len(expr.split()) == 6
    return float(croniter(expr, start, second_at_beginning=six_fields).get_next(float))


def compare_with_reference(expr: GeneratedCron, zone: str, start: float, library: str) -> int:
    """Walk 5 fires; compare each step the reference is trusted on. Returns steps compared."""
    trigger = build(expr, zone)
    compared = 0
    after = start
    for fire in walk(trigger, start, 5):
        quiet = zone == "UTC" or not (near_transition(zone, after) or near_transition(zone, fire))
        if quiet:
            assert fire == reference_fires(expr.text, zone, after, library), (expr.text, after)
            compared += 1
        after = fire
    return compared


@PROPERTY_SETTINGS
@given(expr=cron_expressions(portable=True), zone=st.sampled_from(ZONES), start=start_instants)
def test_agrees_with_cronsim_in_utc_and_away_from_transitions(
    expr: GeneratedCron, zone: str, start: float
) -> None:
    compare_with_reference(expr, zone, start, "cronsim")


def croniter_compatible(expr: GeneratedCron) -> bool:
    """croniter lacks LW and nL, fails on n#k next to a restricted day-of-month, and treats
    '*/n' in a day field as restricted for the OR rule (Vixie cron does not)."""
    if any(item[0] in ("lw", "lastdow") for item in expr.day_items):
        return False
    if any(item[0] == "nth" for item in expr.dow_items) and not expr.dom_star:
        return False
    fields = expr.text.split()
    return all(fields[i] == "*" or not fields[i].startswith("*") for i in (-3, -1))


@PROPERTY_SETTINGS
@given(expr=cron_expressions(portable=True).filter(croniter_compatible), start=start_instants)
def test_agrees_with_croniter_in_utc(expr: GeneratedCron, start: float) -> None:
    assert compare_with_reference(expr, "UTC", start, "croniter") == 5
