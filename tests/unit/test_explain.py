"""horae.explain: every way a fire can go has a verdict, from the facts the store reads.

Pure: each case builds the facts (schedule, runs near the instant, recorded changes,
scheduler liveness) by hand; tests/store/test_explain.py reads them from real databases.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from horae.api.schemas import schedule_wire
from horae.errors import InvalidInput
from horae.explain import FUTURE, PAST, Explanation, explain_at, instant_of, reason_text
from horae.instants import iso
from horae.models import Policies, Run, RunState, Schedule
from horae.reasons import REASONS
from horae.store.explain_queries import ExplainFacts, Liveness, ScheduleChange
from horae.triggers import IntervalTrigger, cron

T0 = 1_800_000_000.0  # a whole minute (2027-01-15T08:00:00Z)
NOW = T0 + 3600.0
EVERY_MINUTE = cron("* * * * *").to_dict()
LIVE = Liveness(first_started=T0 - 60, seen_before=NOW, covered_until=NOW + 15,
                started_after=None, running_now=True)
SEEN: set[str] = set()


def sched(trigger: dict[str, Any] | None = None, *, paused: bool = False,
          next_fire_at: float | None = NOW + 60, fires: int = 0, **pol: Any) -> Schedule:
    return Schedule(id="s", task="job", trigger=trigger or EVERY_MINUTE,
                    policies=Policies(**pol), paused=paused, next_fire_at=next_fire_at,
                    fires=fires, created_at=T0 - 1, updated_at=T0 - 1)


def run(fire: float, state: RunState, error: str | None = None, created: float | None = None,
        run_id: int = 7) -> Run:
    return Run(id=run_id, task="job", state=state, schedule_id="s", fire_time=fire,
               origin="schedule", created_at=fire + 0.01 if created is None else created,
               error=error)


def ask(s: Schedule, at: float, *, runs: list[Run] | None = None,
        changes: list[ScheduleChange] | None = None, live: Liveness | None = LIVE,
        fired_before: int = 0, run_after: Run | None = None, now: float = NOW) -> Explanation:
    facts = ExplainFacts(now, s, runs or [], None, run_after, fired_before, 0, changes or [],
                         live)
    answer = explain_at(facts, at)
    SEEN.add(answer.verdict)
    assert answer.code in REASONS
    assert answer.reason() == REASONS[answer.code].format(**answer.params)
    return answer


def test_a_fire_with_a_run_says_fired_and_names_the_run() -> None:
    fire = T0 + 600
    e = ask(sched(), fire + 0.3, runs=[run(fire, RunState.SUCCEEDED)])
    assert (e.verdict, e.run_id, e.instant) == ("fired", 7, fire)
    assert e.reason() == "fired as run 7 (succeeded)"
    zh = e.reason("zh")  # the run state is translated too
    assert zh.startswith("已触发，为运行 7（") and "succeeded" not in zh


def test_skipped_and_missed_fires_carry_the_reason_of_their_run_row() -> None:
    fire = T0 + 600
    why = "overlap=skip: 1 earlier run of this schedule still running"
    e = ask(sched(), fire, runs=[run(fire, RunState.SKIPPED, why)])
    assert e.verdict == "skipped" and why in e.reason()
    late = "400.0 s late, beyond misfire_grace=60 s (catchup=none)"
    e = ask(sched(), fire, runs=[run(fire, RunState.MISSED, late, created=fire + 400)])
    assert e.verdict == "missed" and late in e.reason()
    assert e.details["made_late_by"] == pytest.approx(400, abs=0.01)


def test_a_missed_fire_names_the_window_when_no_scheduler_ran() -> None:
    fire = T0 + 600
    live = Liveness(first_started=T0 - 60, seen_before=fire - 100, covered_until=fire - 100,
                    started_after=fire + 400, running_now=True)
    e = ask(sched(), fire, runs=[run(fire, RunState.MISSED, "late", created=fire + 401)],
            live=live)
    assert e.verdict == "missed"
    assert e.details["scheduler_down"] == {"from": iso(fire - 100), "until": iso(fire + 400)}
    assert f"from {iso(fire - 100)} to {iso(fire + 400)}" in e.reason()
    late = ask(sched(), fire, runs=[run(fire, RunState.SUCCEEDED, created=fire + 401)],
               live=live)  # caught up once a scheduler was back (catchup=latest)
    assert late.verdict == "fired" and late.details["made_late_by"] == pytest.approx(401)
    assert late.details["scheduler_down"]["until"] == iso(fire + 400)


def test_a_run_missed_by_expire_after_says_expired() -> None:
    fire = T0 + 600
    why = "expire_after=10 s: not started within 10 s of when it was due"
    e = ask(sched(), fire, runs=[run(fire, RunState.MISSED, why)])
    assert e.verdict == "expired" and why in e.reason()


def _change(ts: float, paused: bool | None, version: int, *, kind: str = "changed",
            actor: str | None = None, before: Schedule | None = None) -> ScheduleChange:
    return ScheduleChange(ts, kind, version, paused, actor, None,
                          None if before is None else schedule_wire(before), None)


def test_an_instant_inside_a_pause_says_when_it_was_paused_and_resumed() -> None:
    changes = [_change(T0 - 1, False, 1, kind="created"), _change(T0 + 100, True, 2),
               _change(T0 + 500, False, 3)]
    e = ask(sched(), T0 + 240, changes=changes)
    assert e.verdict == "paused"
    assert e.params == {"since": iso(T0 + 100), "until": iso(T0 + 500)}
    e = ask(sched(), T0 + 600, changes=changes, runs=[])  # after the resume: not paused
    assert e.verdict != "paused"
    still = ask(sched(paused=True), T0 + 600, changes=changes[:2])
    assert (still.verdict, still.code) == ("paused", "explain.paused_still")
    unknown = ask(sched(paused=True), T0 + 600)  # nothing recorded: only "paused now"
    assert (unknown.verdict, unknown.code) == ("paused", "explain.paused_now")


def test_an_instant_between_fires_names_the_fires_around_it() -> None:
    e = ask(sched(), T0 + 630)
    assert e.verdict == "not_a_fire_time"
    assert e.params == {"before": iso(T0 + 600), "after": iso(T0 + 660)}


def test_fires_outside_start_and_end_say_so() -> None:
    e = ask(sched(start_at=T0 + 1200), T0 + 600)
    assert e.verdict == "before_start" and iso(T0 + 1200) in e.reason()
    e = ask(sched(end_at=T0 + 300), T0 + 600)
    assert e.verdict == "after_end" and iso(T0 + 300) in e.reason()


def test_a_fire_after_max_fires_says_the_limit_was_reached() -> None:
    e = ask(sched(max_fires=3, next_fire_at=None, fires=3), T0 + 600, fired_before=3)
    assert e.verdict == "max_fires_reached" and "max_fires=3" in e.reason()
    # Its runs deleted by retention: the exhausted schedule's counter still says so.
    e = ask(sched(max_fires=3, next_fire_at=None, fires=3), T0 + 600, fired_before=0)
    assert e.verdict == "max_fires_reached"
    assert ask(sched(max_fires=3, fires=2), T0 + 600, fired_before=2).verdict == "no_record"


def test_an_unaudited_change_before_an_instant_is_named_beside_not_a_fire_time() -> None:
    e = ask(sched(), T0 + 630, changes=[_change(T0 + 200, False, 2)])
    assert e.verdict == "not_a_fire_time"
    assert (e.details["changed_at"], e.details["version"]) == (iso(T0 + 200), 2)


def test_an_edit_that_moved_the_trigger_supersedes_the_old_fires() -> None:
    old = sched(IntervalTrigger(60, anchor=T0).to_dict())
    new = sched(IntervalTrigger(60, anchor=T0 + 30).to_dict())
    changes = [_change(T0 + 200, False, 2, actor="cli:ops", before=old)]
    e = ask(new, T0 + 300, changes=changes)
    assert e.verdict == "superseded"
    assert e.params == {"at": iso(T0 + 200), "actor": "cli:ops", "version": "2"}
    assert e.reason("zh").startswith("该计划于")
    before_edit = ask(new, T0 + 120, changes=changes)  # the old one was in force then
    assert before_edit.verdict == "no_record"


def test_an_edit_made_while_a_fire_was_due_supersedes_it() -> None:
    changes = [_change(T0 + 900, False, 2, actor="token:deploy", before=sched())]
    live = Liveness(T0 - 60, T0 + 500, T0 + 500, T0 + 1000, True)
    e = ask(sched(), T0 + 600, changes=changes, live=live)
    assert (e.verdict, e.code) == ("superseded", "explain.superseded_due")
    assert e.details["scheduler_down"]["from"] == iso(T0 + 500)
    # A later fire made before that edit: the edit did not take this one away.
    made = run(T0 + 660, RunState.SUCCEEDED)
    assert ask(sched(), T0 + 600, changes=changes, live=live, run_after=made).verdict \
        == "scheduler_down"


def test_a_fire_without_a_run_while_no_scheduler_ran_names_the_window() -> None:
    live = Liveness(T0 - 60, T0 + 500, T0 + 500, T0 + 1000, True)
    e = ask(sched(), T0 + 600, live=live)
    assert e.verdict == "scheduler_down"
    assert e.params == {"since": iso(T0 + 500), "until": iso(T0 + 1000)}
    # Still down and the fire not made: since when.
    down = Liveness(T0 - 60, T0 + 500, T0 + 500, None, False)
    e = ask(sched(next_fire_at=T0 + 540), T0 + 600, live=down)
    assert (e.verdict, e.code) == ("scheduler_down", "explain.scheduler_down_still")
    never = ask(sched(next_fire_at=T0 + 540), T0 + 600, live=Liveness(None, None, None, None,
                                                                     False))
    assert (never.verdict, never.code) == ("scheduler_down", "explain.no_scheduler")


def test_before_creation_due_and_unrecorded_fires() -> None:
    assert ask(sched(), T0 - 600).verdict == "not_created"
    due = ask(sched(next_fire_at=NOW - 0.2), NOW - 0.2)
    assert due.verdict == "due"
    assert ask(sched(), T0 + 600).verdict == "no_record"


def test_future_instants_say_whether_and_when_it_will_fire() -> None:
    e = ask(sched(), NOW + 120.2)
    assert e.verdict == "will_fire" and e.instant == NOW + 120
    assert e.params == {"fire": iso(NOW + 120), "next": iso(NOW + 180)}
    assert ask(sched(), NOW + 130).verdict == "not_a_fire_time"
    assert ask(sched(paused=True), NOW + 120).details == {"why": "paused"}
    assert ask(sched(end_at=NOW), NOW + 120).details == {"why": "after_end"}
    assert ask(sched(start_at=NOW + 600), NOW + 120).details == {"why": "before_start"}
    limited = ask(sched(max_fires=3, fires=1, next_fire_at=NOW + 60), NOW + 180)
    assert limited.details == {"why": "max_fires"} and "1 fires so far" in limited.reason()
    assert ask(sched(max_fires=3, fires=1, next_fire_at=NOW + 60), NOW + 120).verdict \
        == "will_fire"  # the second and the third fire
    assert ask(sched(next_fire_at=None), NOW + 120).details == {"why": "never"}
    down = Liveness(T0, NOW - 100, NOW - 100, None, False)
    assert ask(sched(), NOW + 120, live=down).code == "explain.will_fire_no_scheduler"


def test_every_verdict_is_reached() -> None:
    """Runs last in this file (pytest keeps the order): the cases above reach them all."""
    assert set(PAST) | set(FUTURE) <= SEEN, sorted(set(PAST) | set(FUTURE) - SEEN)


def test_every_explanation_has_a_chinese_sentence_with_the_same_placeholders() -> None:
    for code, template in REASONS.items():
        if not code.startswith("explain."):
            continue
        params = {name: f"<{name}>" for name in re.findall(r"\{(\w+)\}", template)}
        zh = reason_text(code, params, "zh")
        assert zh != template.format(**params), code
        assert all(value in zh for value in params.values()), code


def test_instants_are_iso_with_a_zone_epoch_or_relative_to_now() -> None:
    assert instant_of("-1h", NOW) == NOW - 3600
    assert instant_of("+1h30m", NOW) == NOW + 5400
    assert instant_of("now", NOW) == NOW
    assert instant_of("2027-01-15T08:00:00Z", NOW) == T0
    assert instant_of(T0, NOW) == T0
    for bad in ("yesterday", "-1x", "2027-01-15T08:00:00", "", "+"):
        with pytest.raises(InvalidInput) as caught:
            instant_of(bad, NOW)
        assert caught.value.field == "at"
