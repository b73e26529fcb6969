"""Hook events from rows of the event log, and which hooks an event calls (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from horae.errors import InvalidInput
from horae.hooks.events import EVENT_NAMES, RUN_EVENTS, hook_event
from horae.hooks.registry import HookRegistry
from horae.store.hook_queries import LoggedEvent


def row(kind: str, data: dict[str, Any], **kw: Any) -> LoggedEvent:
    return LoggedEvent(7, 100.0, kind, kw.pop("run_id", None), kw.pop("schedule_id", None),
                       data, **kw)


@pytest.mark.parametrize("state", ["succeeded", "failed", "timed_out", "lost", "cancelled",
                                   "skipped", "missed", "retrying"])
def test_each_end_state_is_its_run_event(state: str) -> None:
    event = hook_event(row("run.state", {"state": state, "task": "t", "attempt": 2,
                                         "error": "why"}, run_id=5, schedule_id="s",
                           max_attempts=3, started_at=10.0, finished_at=12.5))
    assert event is not None
    assert (event.kind, event.run_id, event.schedule_id, event.task, event.state) == (
        f"run.{state}", 5, "s", "t", state)
    assert (event.attempt, event.max_attempts, event.error, event.at) == (2, 3, "why", 100.0)
    assert event.duration == 2.5


def test_a_start_is_run_started_without_a_duration_and_waiting_states_are_no_event() -> None:
    started = hook_event(row("run.state", {"state": "running", "attempt": 1}, run_id=5,
                             started_at=10.0, finished_at=12.0))
    assert started is not None and (started.kind, started.duration) == ("run.started", None)
    for state in ("queued", "scheduled"):
        assert hook_event(row("run.state", {"state": state}, run_id=5)) is None
    assert hook_event(row("run.progress", {"progress": 0.5}, run_id=5)) is None
    assert hook_event(row("run.log", {}, run_id=5)) is None


@pytest.mark.parametrize(("kind", "data", "change"), [
    ("schedule.created", {"paused": 0}, "created"),
    ("schedule.changed", {"paused": 1, "was_paused": 0}, "paused"),
    ("schedule.changed", {"paused": False, "was_paused": True}, "resumed"),
    ("schedule.changed", {"paused": 0, "was_paused": 0}, "updated"),
    ("schedule.changed", {"paused": 1}, "updated"),  # written before migration 0015
    ("schedule.deleted", {"version": 3}, "removed"),
])
def test_schedule_events_say_what_changed(kind: str, data: dict[str, Any],
                                          change: str) -> None:
    event = hook_event(row(kind, data, schedule_id="nightly"))
    assert event is not None
    assert (event.kind, event.schedule_id, event.change) == ("schedule.changed", "nightly",
                                                             change)


def test_a_worker_gone_names_the_worker() -> None:
    event = hook_event(row("worker.gone", {"worker_id": "w1", "host": "h"}))
    assert event is not None and (event.kind, event.worker_id) == ("worker.gone", "w1")


def test_the_run_is_fetched_once_on_first_use() -> None:
    fetched: list[int] = []

    def fetch(run_id: int) -> Any:
        fetched.append(run_id)
        return object()

    event = hook_event(row("run.state", {"state": "failed"}, run_id=9), fetch)
    assert event is not None and fetched == []
    assert event.run is event.run
    assert fetched == [9]


def test_hooks_match_their_event_and_wildcards_in_registration_order() -> None:
    hooks = HookRegistry()
    calls = {name: (lambda e: None) for name in ("all", "runs", "failed", "schedules")}
    hooks.add("*", calls["all"], "all")
    hooks.add("run.*", calls["runs"], "runs")
    hooks.add("run.failed", calls["failed"], "failed")
    hooks.add("schedule.changed", calls["schedules"], "schedules")
    assert [h.name for h in hooks.for_kind("run.failed")] == ["all", "runs", "failed"]
    assert [h.name for h in hooks.for_kind("run.succeeded")] == ["all", "runs"]
    assert [h.name for h in hooks.for_kind("schedule.changed")] == ["all", "schedules"]
    assert [h.name for h in hooks.for_kind("worker.gone")] == ["all"]
    assert set(RUN_EVENTS) <= set(EVENT_NAMES)


@pytest.mark.parametrize("bad", ["run", "run.failure", "schedule.*", "", None, 3])
def test_an_unknown_event_is_invalid_input_naming_event(bad: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        HookRegistry().add(bad, print)
    assert caught.value.field == "event"


def test_a_hook_must_be_callable() -> None:
    with pytest.raises(InvalidInput) as caught:
        HookRegistry().add("run.failed", "notify")  # type: ignore[arg-type]
    assert caught.value.field == "func"
