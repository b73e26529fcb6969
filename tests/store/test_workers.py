"""Workers, the task catalogue and the database clock."""

from __future__ import annotations

import time

from horae.models import TaskInfo, WorkerInfo
from horae.store import Store
from tests.store.support import schedule


def test_register_inserts_then_refreshes_a_worker(store: Store) -> None:
    before = store.now()
    store.worker_register(WorkerInfo("w1", "host-a", 11, ["q1"], 4, {"zone": "a"}))
    [w] = store.workers_list()
    assert (w.id, w.host, w.pid, w.queues, w.concurrency, w.labels) == (
        "w1", "host-a", 11, ["q1"], 4, {"zone": "a"})
    assert (w.state, w.running) == ("active", 0)
    assert before - 1 <= w.started_at == w.heartbeat_at <= store.now() + 1

    store.worker_set_state("w1", "gone")
    store.worker_register(WorkerInfo("w1", "host-b", 22, ["q1", "q2"], 8, {}))
    store.worker_register(WorkerInfo("w0", "host-c", 33, ["default"], 1))
    w0, w1 = store.workers_list()
    assert w0.id == "w0"
    assert (w1.host, w1.pid, w1.queues, w1.concurrency, w1.labels, w1.state) == (
        "host-b", 22, ["q1", "q2"], 8, {}, "active")


def test_task_catalogue_is_upserted_and_listed_by_name(store: Store) -> None:
    scan = TaskInfo("scan.nmap", {"type": "object", "properties": {"host": {"type": "string"}}},
                    queue="net", mode="process", doc="Scan a host.", retries=2, timeout=60.0)
    store.worker_register(WorkerInfo("w1", "h", 1, ["net"], 1), [scan, TaskInfo("a.first", {})])
    assert store.tasks_list() == [TaskInfo("a.first", {}), scan]

    changed = TaskInfo("scan.nmap", {"type": "object"}, doc="Scan.", timeout=None)
    store.worker_register(WorkerInfo("w2", "h", 2, ["net"], 1), [changed])
    assert store.tasks_list() == [TaskInfo("a.first", {}), changed]


def test_silent_workers_are_marked_gone_and_come_back_on_heartbeat(store: Store) -> None:
    store.worker_register(WorkerInfo("w1", "h", 1, ["default"], 1))
    assert store.workers_mark_gone(3600) == []
    registered = store.workers_list()[0].heartbeat_at
    deadline = store.now() + 15
    while store.now() <= registered:  # the database clock must move past the heartbeat
        assert store.now() < deadline
    assert store.workers_mark_gone(0.0) == ["w1"]
    assert store.workers_list()[0].state == "gone"
    assert store.workers_mark_gone(0.0) == []  # already gone

    store.runs_heartbeat("w1", 30, running=3)
    [w] = store.workers_list()
    assert (w.state, w.running) == ("active", 3)
    assert w.heartbeat_at > registered


def test_worker_set_state(store: Store) -> None:
    store.worker_register(WorkerInfo("w1", "h", 1, ["default"], 1))
    store.worker_set_state("w1", "draining")
    assert store.workers_list()[0].state == "draining"
    store.runs_heartbeat("w1", 30)
    assert store.workers_list()[0].state == "draining"  # only "gone" is revived


def test_now_is_the_database_clock_in_epoch_seconds(store: Store) -> None:
    a, host, b = store.now(), time.time(), store.now()
    assert abs(a - host) < 2.0
    assert a <= b
    s = store.schedule_add(schedule("s"))
    assert a <= s.created_at <= store.now()


def test_a_worker_records_its_version(store: Store) -> None:
    store.worker_register(WorkerInfo("w-v", "h", 1, ["default"], 2, version="9.8.7"))
    [w] = [w for w in store.workers_list() if w.id == "w-v"]
    assert w.version == "9.8.7"
    store.worker_register(WorkerInfo("w-v", "h", 1, ["default"], 2, version="9.8.8"))
    [w] = [w for w in store.workers_list() if w.id == "w-v"]
    assert w.version == "9.8.8"   # a restarted worker reports its new version
