"""app.schedules.explain on every backend: the verdicts that come from what the store keeps
(run rows and their reasons, the events and audit of schedule changes, scheduler liveness),
with fires made by the scheduler's own planner. tests/unit/test_explain.py covers each
verdict's logic from hand-made facts; tests/integration/test_explain.py a real scheduler."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from horae import Horae
from horae.api.schemas import schedule_wire
from horae.instants import iso, to_epoch
from horae.store import Store, on_change
from horae.store import explain_queries as Q
from horae.store.api_store import ApiStore
from horae.triggers import IntervalTrigger
from tests.conftest import eventually
from tests.store.support import planner, runs_of, schedule


@pytest.fixture
def app(database_url: str) -> Iterator[Horae]:
    horae = Horae(database_url)
    horae.task("job")(lambda: None)
    yield horae
    horae.stop()


def explain(app: Horae, sid: str, at: Any = None) -> dict[str, Any]:
    answers = app.schedules.explain(sid, at)["explanations"]
    assert len(answers) == 1
    found: dict[str, Any] = answers[0]
    return found


def add_past(store: Store, sid: str, *, period: float = 100, first: float = 300,
             age: float = 1000, **policies: Any) -> float:
    """A schedule every ``period`` s whose first fire was ``first`` s ago, as if created
    ``age`` s ago; returns that first fire time (fired by :func:`fire`)."""
    start = store.now() - first
    trigger = IntervalTrigger(period, anchor=start).to_dict()
    store.schedule_add(schedule(sid, trigger=trigger, next_fire_at=start, **policies))
    with store.db.write() as tx:
        tx.run("UPDATE horae_schedules SET created_at = created_at - :age WHERE id = :id",
               {"age": age, "id": sid})
    return start


def same_instant(text: str | None, epoch: float) -> bool:
    """Within 5 ms: PostgreSQL's event trigger reads the clock apart from the row's write."""
    return text is not None and abs(to_epoch(text, "t") - epoch) < 0.005


def fire(store: Store) -> None:
    store.schedules_fire_due(planner)


def test_fired_skipped_missed_and_expired_fires_come_from_their_run_rows(app: Horae) -> None:
    store = app.store
    first = add_past(store, "poll", first=250, overlap="skip", misfire_grace=120,
                     catchup="none")
    fire(store)  # -250 and -150 are missed (beyond the grace), -50 is queued
    missed, _, queued = runs_of(store, "poll")
    answer = explain(app, "poll", iso(first))
    assert (answer["verdict"], answer["run_id"]) == ("missed", missed.id)
    assert missed.error is not None and missed.error in answer["reason"]
    answer = explain(app, "poll", iso(queued.fire_time))
    assert (answer["verdict"], answer["run_id"]) == ("fired", queued.id)
    assert answer["details"]["state"] == "queued"

    with store.db.write() as tx:  # the next fire is due now; the queued run is in its way
        tx.run("UPDATE horae_schedules SET next_fire_at = :t WHERE id = 'poll'",
               {"t": store.now() - 0.01})
    fire(store)
    skipped = runs_of(store, "poll")[-1]
    answer = explain(app, "poll", skipped.fire_time)
    assert (answer["verdict"], answer["run_id"]) == ("skipped", skipped.id)
    assert "overlap=skip: 1 earlier run of this schedule still waiting" in answer["reason"]

    add_past(store, "stale", first=30, expire_after=10)
    fire(store)
    assert store.runs_expire() == 1
    [expired] = runs_of(store, "stale")
    answer = explain(app, "stale", expired.fire_time)
    assert (answer["verdict"], answer["run_id"]) == ("expired", expired.id)
    assert answer["reason"].startswith(f"fired as run {expired.id}, which was not started")


@pytest.mark.parametrize("how", ["stopped", "crashed"])
def test_a_fire_missed_while_no_scheduler_ran_names_the_window(app: Horae, how: str) -> None:
    store = app.store
    store.scheduler_started("gone", "host", 1)
    now = store.now()
    with store.db.write() as tx:  # it ran until 400 s ago, then stopped or went silent
        tx.run("UPDATE horae_schedulers SET started_at = :a, seen_at = :b, stopped_at = :s",
               {"a": now - 900, "b": now - 400, "s": now - 400 if how == "stopped" else None})
    first = add_past(store, "nightly", first=300, period=1000, misfire_grace=60,
                     catchup="none")
    store.scheduler_started("back", "host", 2)  # a scheduler starts and makes the fire
    fire(store)
    [missed] = runs_of(store, "nightly")
    answer = explain(app, "nightly", first)
    assert (answer["verdict"], answer["run_id"]) == ("missed", missed.id)
    window = answer["details"]["scheduler_down"]
    assert window["from"] == iso(now - 400)
    assert window["until"] is not None and window["until"] >= iso(now)
    assert f"no scheduler was running from {iso(now - 400)} to" in answer["reason"]


def test_pauses_come_from_the_recorded_changes(app: Horae) -> None:
    store = app.store
    app.schedules.add("report", "job", {"kind": "interval", "seconds": 3600})
    paused_at = app.schedules.pause("report").updated_at
    eventually(lambda: store.now() > paused_at + 0.01)
    inside = store.now()
    eventually(lambda: store.now() > inside + 0.01)
    resumed_at = app.schedules.resume("report").updated_at
    answer = explain(app, "report", inside)
    assert answer["verdict"] == "paused"
    assert same_instant(answer["details"]["paused_at"], paused_at)
    assert same_instant(answer["details"]["resumed_at"], resumed_at)
    app.schedules.pause("report")
    answer = explain(app, "report", "+2h")  # the future of a paused schedule
    assert (answer["verdict"], answer["details"]) == ("will_not_fire", {"why": "paused"})
    zh = app.schedules.explain("report", "+2h", locale="zh-CN")["explanations"][0]
    assert zh["reason"] == "不会触发：该计划已暂停"


def _audited_edit(app: Horae, sid: str, actor: str, **changes: Any) -> Any:
    """An edit audited as the API and the CLI audit it, in the change's transaction."""
    api = ApiStore(app.store)
    before = schedule_wire(app.schedules.get(sid))

    def write(tx: Any, result: Any) -> None:
        api.audit_in(tx, actor=actor, role="admin", action="schedule.update",
                     target_kind="schedule", target_id=sid, before=before,
                     after=schedule_wire(result))

    with on_change(write):
        return app.schedules.update(sid, **changes)


def test_an_audited_edit_supersedes_the_fires_of_the_old_trigger(app: Horae) -> None:
    store = app.store
    start = float(int(store.now()))
    app.schedules.add("sync", "job", IntervalTrigger(2, anchor=start))
    edited = _audited_edit(app, "sync", "cli:ops",
                           trigger=IntervalTrigger(2, anchor=start + 1))
    old_fire = start + 2 * (int((edited.updated_at - start) / 2) + 1)  # first old one after
    eventually(lambda: store.now() > old_fire + 0.6)
    answer = explain(app, "sync", old_fire)
    assert answer["verdict"] == "superseded"
    assert (answer["params"]["actor"], answer["params"]["version"]) == ("cli:ops", "2")
    assert same_instant(answer["params"]["at"], edited.updated_at)
    assert answer["details"]["edited_by"] == "cli:ops"


def test_a_due_fire_without_a_scheduler_says_no_scheduler_runs(app: Horae) -> None:
    store = app.store
    first = add_past(store, "orphan", first=30)
    answer = explain(app, "orphan", first)
    assert (answer["verdict"], answer["code"]) == ("scheduler_down", "explain.no_scheduler")
    store.scheduler_started("s1", "host", 1)
    assert explain(app, "orphan", first)["verdict"] == "due"


def test_window_limits_max_fires_creation_and_other_instants(app: Horae) -> None:
    store = app.store
    first = add_past(store, "window", first=300, start_at=store.now() - 150,
                     end_at=store.now() - 50, catchup="all", catchup_window=3600,
                     overlap="allow")
    assert explain(app, "window", first)["verdict"] == "before_start"
    assert explain(app, "window", first + 300)["verdict"] == "after_end"
    answer = explain(app, "window", first + 175)
    assert answer["verdict"] == "not_a_fire_time"
    assert answer["details"]["fire_after"] == iso(first + 200)
    assert explain(app, "window", first - 5000)["verdict"] == "not_created"

    limited = add_past(store, "limited", first=300, max_fires=1, catchup="all",
                       catchup_window=3600, overlap="allow")
    fire(store)
    assert len(runs_of(store, "limited")) == 1
    assert explain(app, "limited", limited)["verdict"] == "fired"
    answer = explain(app, "limited", limited + 100)
    assert (answer["verdict"], answer["params"]) == ("max_fires_reached", {"max_fires": "1"})


def test_without_an_instant_the_last_and_the_next_fire_are_explained(app: Horae) -> None:
    store = app.store
    add_past(store, "daily", first=150)
    fire(store)  # -150 and -50: the newest runs (catchup=latest), the other is missed
    result = app.schedules.explain("daily")
    last, upcoming = result["explanations"]
    assert (last["label"], last["verdict"]) == ("last", "fired")
    assert last["run_id"] == runs_of(store, "daily")[-1].id
    assert (upcoming["label"], upcoming["verdict"]) == ("next", "will_fire")
    assert upcoming["instant"] == iso(store.schedule_get("daily").next_fire_at)


def test_liveness_is_written_at_start_and_stop_and_stays_bounded(
        app: Horae, monkeypatch: pytest.MonkeyPatch) -> None:
    store = app.store
    store.scheduler_started("old", "host", 1)
    with store.db.write() as tx:
        tx.run("UPDATE horae_schedulers SET started_at = 0, seen_at = 1")
    store.scheduler_started("a", "host", 2)
    assert store.schedulers_prune() == 1  # the one last seen in 1970
    store.scheduler_seen("a", "host", 2, stopped=True)
    store.scheduler_seen("b", "host", 3)  # its start was never written: written now
    with store.db.read() as tx:
        rows = tx.all("SELECT id, started_at, stopped_at FROM horae_schedulers ORDER BY id")
    assert [r["id"] for r in rows] == ["a", "b"]
    assert rows[0]["stopped_at"] is not None and rows[1]["stopped_at"] is None
    assert rows[1]["started_at"] is not None
    monkeypatch.setattr(Q, "KEEP_ROWS", 3)
    for n in range(5):
        store.scheduler_started(f"s{n}", "host", n)
    assert store.schedulers_prune() == 4
    with store.db.read() as tx:
        count = tx.one("SELECT count(*) AS n FROM horae_schedulers")
    assert count is not None and int(count["n"]) == 3
