"""Consumers of the event log (store/hook_queries.py): cursor, lease, pages, holes."""

from __future__ import annotations

import pytest

from horae.models import WorkerInfo
from horae.store import Store
from tests.store.support import add_runs, schedule


def test_a_new_consumer_starts_at_the_newest_event_and_keeps_its_cursor(store: Store) -> None:
    store.schedule_add(schedule("s1"))
    [before] = store.consumer_events(0, 10)
    assert store.consumer_open("hooks") == before.id
    store.schedule_add(schedule("s2"))
    assert store.consumer_open("hooks") == before.id  # an existing cursor never moves
    assert [e.schedule_id for e in store.consumer_events(before.id)] == ["s2"]
    assert store.consumer_open("alerts") == before.id + 1


def test_one_owner_at_a_time_until_its_lease_expires_or_it_lets_go(store: Store) -> None:
    start = store.consumer_open("hooks")
    assert store.consumer_lease("hooks", "a", 30) == start
    assert store.consumer_lease("hooks", "b", 30) is None
    assert store.consumer_lease("hooks", "a", 30) == start  # a renewal
    store.consumer_release("hooks", "b")  # not b's to give
    assert store.consumer_lease("hooks", "b", 30) is None
    store.consumer_release("hooks", "a")
    assert store.consumer_lease("hooks", "b", -1) == start  # b's lease has already expired
    assert store.consumer_lease("hooks", "a", 30) == start
    assert store.consumer_get("hooks")["lease_owner"] == "a"


def test_the_cursor_moves_forward_only_and_only_for_the_lease_holder(store: Store) -> None:
    start = store.consumer_open("hooks")
    store.consumer_lease("hooks", "a", -1)  # expired at once: b may take it
    assert store.consumer_advance("hooks", "a", start + 5, -1)
    assert store.consumer_advance("hooks", "a", start + 3, -1)
    assert store.consumer_get("hooks")["cursor"] == start + 5  # never back
    assert store.consumer_lease("hooks", "b", 30) == start + 5
    assert not store.consumer_advance("hooks", "a", start + 9, 30)  # a lost the lease
    assert store.consumer_get("hooks")["cursor"] == start + 5
    assert store.consumer_advance("hooks", "b", start + 6, 30)
    assert store.consumer_get("hooks")["cursor"] == start + 6


def test_events_come_in_id_order_with_every_id_and_the_runs_attempt_fields(
        store: Store) -> None:
    start = store.consumer_open("hooks")
    store.schedule_add(schedule("s1"))
    [run] = add_runs(store, max_attempts=3)
    events = store.consumer_events(start, 100)
    assert [e.id for e in events] == list(range(start + 1, start + 1 + len(events)))
    created, queued = events[0], events[1]
    assert (created.kind, created.schedule_id, created.data["paused"]) == (
        "schedule.created", "s1", 0)
    assert (queued.kind, queued.run_id, queued.data["state"], queued.data["task"]) == (
        "run.state", run.id, "queued", "job")
    assert queued.max_attempts == 3
    assert store.consumer_events(start, 1) == events[:1]  # pages
    assert store.consumer_events(events[-1].id, 100) == []


def test_a_schedule_change_says_whether_it_was_paused(store: Store) -> None:
    start = store.consumer_open("hooks")
    s = store.schedule_add(schedule("s1"))
    s.paused = True
    store.schedule_replace(s)
    s.paused = False
    store.schedule_replace(s)
    changes = [(e.data["was_paused"], e.data["paused"]) for e in
               store.consumer_events(start) if e.kind == "schedule.changed"]
    assert [(bool(a), bool(b)) for a, b in changes] == [(False, True), (True, False)]


def test_a_worker_marked_gone_writes_a_worker_gone_event(store: Store) -> None:
    store.worker_register(WorkerInfo("w1", "host-a", 1, ["default"], 1))
    start = store.consumer_open("hooks")
    registered = store.workers_list()[0].heartbeat_at
    deadline = store.now() + 15
    while store.now() <= registered:  # the database clock must move past the heartbeat
        assert store.now() < deadline
    assert store.workers_mark_gone(0.0) == ["w1"]
    [gone] = [e for e in store.consumer_events(start) if e.kind == "worker.gone"]
    assert (gone.data["worker_id"], gone.data["host"]) == ("w1", "host-a")
    assert store.workers_mark_gone(0.0) == []
    assert [e.kind for e in store.consumer_events(gone.id)] == []  # once


@pytest.mark.postgres
def test_a_hole_is_held_by_a_transaction_running_when_it_was_seen(pg_store: Store) -> None:
    """An id taken by a transaction still open is invisible while later ids are visible;
    that transaction is among those running then, and is no longer once it ended."""
    import psycopg

    start = pg_store.consumer_open("hooks")
    assert pg_store.consumer_running() is not None
    with psycopg.connect(pg_store.db.url) as slow:  # a transaction of its own, left open
        slow.execute("INSERT INTO horae_runs (task, state, queue, origin, args, kwargs,"
                     " created_at, not_before)"
                     " VALUES ('slow', 'queued', 'default', 'manual', '[]', '{}', 0, 0)")
        row = slow.execute("SELECT pg_current_xact_id()::text").fetchone()
        assert row is not None
        xid = row[0]
        [later] = add_runs(pg_store)
        seen = pg_store.consumer_events(start)
        assert [e.run_id for e in seen] == [later.id]
        hole = start + 1
        assert seen[0].id > hole
        suspects = pg_store.consumer_running()
        assert suspects is not None and int(xid) in suspects  # the hole may still fill
        slow.commit()
    running = pg_store.consumer_running()
    assert running is not None and int(xid) not in running  # ended: the hole is final
    assert pg_store.consumer_events(start)[0].id == hole  # filled
