""""Why didn't it fire?" against a real scheduler on each database: a scheduler stopped
for a window leaves missed fires that name the window, overlap=skip leaves skipped fires
with their run row's reason, and a pause leaves instants that say paused, then fires again
once resumed, and an audited edit supersedes the fires of the trigger it replaced."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from horae import Horae
from horae.api.schemas import schedule_wire
from horae.instants import iso, to_epoch
from horae.models import RunState
from horae.scheduler import Scheduler
from horae.store import RunFilter, on_change
from horae.store.api_store import ApiStore
from horae.triggers import IntervalTrigger, cron
from tests.conftest import eventually

EVERY_SECOND = cron("* * * * * *")


@pytest.fixture
def app(shared_db_url: str) -> Iterator[Horae]:
    horae = Horae(shared_db_url)
    horae.task("job")(lambda: None)
    yield horae
    horae.stop()


def _runs(app: Horae, sid: str, *states: RunState) -> list[Any]:
    runs = app.store.run_list(RunFilter(schedule_id=sid, limit=1000))
    return sorted((r for r in runs if not states or r.state in states),
                  key=lambda r: r.fire_time)


def _explain(app: Horae, sid: str, at: Any) -> dict[str, Any]:
    found: dict[str, Any] = app.schedules.explain(sid, at)["explanations"][0]
    return found


def test_fires_missed_while_the_scheduler_was_stopped_name_the_window(app: Horae) -> None:
    app.schedules.add("tick", "job", EVERY_SECOND, overlap="allow", misfire_grace=0.3,
                      catchup="none")
    first = Scheduler(app, max_sleep=0.2, sweep_interval=0.2)
    first.start()
    try:
        eventually(lambda: _runs(app, "tick", RunState.QUEUED))
    finally:
        first.stop()
    stopped = app.store.now()
    eventually(lambda: app.store.now() > stopped + 3.2, timeout=10)
    second = Scheduler(app, max_sleep=0.2, sweep_interval=0.2)
    second.start()
    try:
        missed = eventually(lambda: _runs(app, "tick", RunState.MISSED), timeout=10)
    finally:
        second.stop()
    gap = missed[0]
    answer = _explain(app, "tick", gap.fire_time)
    assert (answer["verdict"], answer["run_id"]) == ("missed", gap.id)
    window = answer["details"]["scheduler_down"]
    assert to_epoch(window["from"], "from") <= gap.fire_time
    assert abs(to_epoch(window["from"], "from") - stopped) < 1.0
    assert to_epoch(window["until"], "until") >= stopped + 3.2
    assert "no scheduler was running from" in answer["reason"]
    assert gap.error is not None and gap.error in answer["reason"]
    made = _runs(app, "tick", RunState.QUEUED)[0]
    assert _explain(app, "tick", iso(made.fire_time))["verdict"] == "fired"


def test_overlap_skip_and_a_pause_are_explained(app: Horae) -> None:
    app.schedules.add("poll", "job", EVERY_SECOND, overlap="skip")
    scheduler = Scheduler(app, max_sleep=0.2, sweep_interval=0.2)
    scheduler.start()
    try:
        # No worker: the first run waits in the queue, so the next fires are skipped.
        skipped = eventually(lambda: _runs(app, "poll", RunState.SKIPPED), timeout=10)[0]
        answer = _explain(app, "poll", skipped.fire_time)
        assert (answer["verdict"], answer["run_id"]) == ("skipped", skipped.id)
        assert ("overlap=skip: 1 earlier run of this schedule still waiting in the queue"
                in answer["reason"])

        paused_at = app.schedules.pause("poll").updated_at
        eventually(lambda: app.store.now() > paused_at + 2.2, timeout=10)
        resumed_at = app.schedules.resume("poll").updated_at
        inside = float(int(paused_at) + 2)  # a whole second: a fire time of the trigger
        answer = _explain(app, "poll", inside)
        assert answer["verdict"] == "paused"
        assert abs(to_epoch(answer["details"]["resumed_at"], "r") - resumed_at) < 0.01
        assert not [r for r in _runs(app, "poll") if paused_at < r.fire_time < resumed_at]
        after = eventually(lambda: [r for r in _runs(app, "poll") if r.fire_time > resumed_at],
                           timeout=10)[0]
        assert _explain(app, "poll", after.fire_time)["run_id"] == after.id
    finally:
        scheduler.stop()


def test_an_audited_edit_supersedes_the_old_trigger_while_the_new_one_fires(
        app: Horae) -> None:
    start = float(int(app.store.now()))
    app.schedules.add("sync", "job", IntervalTrigger(2, anchor=start), overlap="allow")
    scheduler = Scheduler(app, max_sleep=0.2, sweep_interval=0.2)
    scheduler.start()
    try:
        eventually(lambda: _runs(app, "sync"), timeout=10)
        before = schedule_wire(app.schedules.get("sync"))
        audit = ApiStore(app.store)

        def write(tx: Any, result: Any) -> None:  # as the API and the CLI audit an edit
            audit.audit_in(tx, actor="token:deploy", role="editor", action="schedule.update",
                           target_kind="schedule", target_id="sync", before=before,
                           after=schedule_wire(result))

        with on_change(write):
            edited = app.schedules.update("sync", trigger=IntervalTrigger(2, anchor=start + 1))
        old_fire = start + 2 * (int((edited.updated_at - start) / 2) + 1)
        made = eventually(lambda: [r for r in _runs(app, "sync")
                                   if r.fire_time > old_fire], timeout=10)[0]
    finally:
        scheduler.stop()
    answer = _explain(app, "sync", old_fire)
    assert answer["verdict"] == "superseded"
    assert (answer["params"]["actor"], answer["params"]["version"]) == ("token:deploy", "2")
    assert not [r for r in _runs(app, "sync") if r.fire_time == old_fire]
    assert _explain(app, "sync", made.fire_time)["verdict"] == "fired"
