"""queues_stats: each queue's backlog, lag and live workers, exact, on every backend."""

from __future__ import annotations

from horae.models import WorkerInfo
from horae.store import NewRun, Store


def test_queues_count_waiting_and_running_runs_and_measure_the_lag(store: Store) -> None:
    store.runs_add([NewRun("job", queue="scans"), NewRun("job", queue="scans"),
                    NewRun("job", queue="scans", delay=3600), NewRun("job", queue="mail")])
    store.worker_register(WorkerInfo("w1", "h", 1, ["scans", "idle"], 4))
    store.worker_register(WorkerInfo("w2", "h", 2, ["scans"], 8))
    store.worker_register(WorkerInfo("w3", "h", 3, ["mail"], 2))
    store.worker_set_state("w3", "gone")
    [claimed] = store.runs_claim("w1", ["scans"], 1, 30)

    now, queues = store.queues_stats()
    by_name = {q.queue: q for q in queues}
    assert sorted(by_name) == ["idle", "mail", "scans"]  # by name; "idle" only has workers
    scans = by_name["scans"]
    assert (scans.queued, scans.scheduled, scans.retrying, scans.running) == (1, 1, 0, 1)
    assert (scans.workers, scans.slots) == (2, 12)
    waiting = [r for r in store.run_list() if r.queue == "scans" and r.state.value == "queued"]
    assert [r.id for r in waiting] != [claimed.id]
    assert scans.oldest_queued_at == waiting[0].not_before
    assert scans.lag(now) == now - waiting[0].not_before >= 0
    mail = by_name["mail"]
    assert (mail.queued, mail.workers, mail.slots) == (1, 0, 0)  # its only worker is gone
    idle = by_name["idle"]
    assert (idle.queued, idle.running, idle.oldest_queued_at, idle.lag(now)) == (0, 0, None, 0)


def test_a_finished_run_leaves_its_queue(store: Store) -> None:
    [run] = store.runs_add([NewRun("job", queue="once")])
    assert [q.queue for q in store.queues_stats()[1]] == ["once"]
    store.run_cancel(run.id)
    assert store.queues_stats()[1] == []
