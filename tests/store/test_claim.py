"""runs_claim: eligibility, order, limit, attempt and lease; runs_add and runs_release."""

from __future__ import annotations

from horae.models import RunState
from horae.store import NewRun, RunFilter, Store
from tests.store.support import add_runs


def test_runs_add_queues_now_or_schedules_later(store: Store) -> None:
    now = store.now()
    queued, later = store.runs_add([
        NewRun("a", args=[1], kwargs={"x": [1, {"y": None}]}, queue="q", priority=2,
               max_attempts=3, timeout=5.0),
        NewRun("b", delay=60),
    ])
    assert queued.state is RunState.QUEUED and queued.origin == "manual"
    assert (queued.args, queued.kwargs) == ([1], {"x": [1, {"y": None}]})
    assert (queued.queue, queued.priority, queued.max_attempts, queued.timeout) == ("q", 2, 3, 5.0)
    assert now - 1 <= queued.not_before <= store.now() + 1
    assert queued.attempt == 0 and queued.fire_time is None
    assert later.state is RunState.SCHEDULED
    assert later.not_before >= now + 59
    assert store.run_get(queued.id) == queued


def test_only_eligible_runs_are_claimed(store: Store) -> None:
    [ok] = add_runs(store, task="scan", queue="q1")
    [other_queue] = add_runs(store, task="scan", queue="q9")
    [later] = add_runs(store, task="scan", queue="q1", delay=60)
    [other_task] = add_runs(store, task="mail", queue="q1")
    [cancelled] = add_runs(store, task="scan", queue="q1")
    store.run_cancel(cancelled.id)

    claimed = store.runs_claim("w", ["q1", "q2"], 10, 30, tasks=["scan"])
    assert [r.id for r in claimed] == [ok.id]
    assert store.runs_claim("w", ["q1", "q2"], 10, 30, tasks=["scan"]) == []  # running now
    assert store.runs_claim("w", ["q1"], 10, 30, tasks=[]) == []
    assert [r.id for r in store.runs_claim("w", ["q1"], 10, 30)] == [other_task.id]
    for run in (other_queue, later):
        assert store.run_get(run.id).state in (RunState.QUEUED, RunState.SCHEDULED)
        assert store.run_get(run.id).attempt == 0


def test_a_scheduled_run_becomes_eligible_when_not_before_passes(store: Store) -> None:
    [run] = add_runs(store, delay=0.2)
    assert store.runs_claim("w", ["default"], 1, 30) == []
    deadline = store.now() + 15
    while not (claimed := store.runs_claim("w", ["default"], 1, 30)):
        assert store.now() < deadline
    assert claimed[0].id == run.id
    assert claimed[0].started_at >= run.not_before


def test_claim_order_is_priority_then_not_before_then_id(store: Store) -> None:
    low = add_runs(store, priority=-1)[0]
    mid_a, mid_b = add_runs(store, 2, priority=0)
    high_a = add_runs(store, priority=5)[0]
    high_b = add_runs(store, priority=5)[0]
    claimed = store.runs_claim("w", ["default"], 3, 30)
    assert [r.id for r in claimed] == [high_a.id, high_b.id, mid_a.id]
    claimed = store.runs_claim("w", ["default"], 10, 30)
    assert [r.id for r in claimed] == [mid_b.id, low.id]


def test_claim_respects_limit(store: Store) -> None:
    add_runs(store, 7)
    assert len(store.runs_claim("w", ["default"], 3, 30)) == 3
    assert len(store.runs_claim("w", ["default"], 3, 30)) == 3
    assert len(store.runs_claim("w", ["default"], 3, 30)) == 1
    assert store.runs_claim("w", ["default"], 3, 30) == []


def test_claim_sets_the_lease_and_counts_the_attempt(store: Store) -> None:
    [run] = add_runs(store)
    before = store.now()
    [claimed] = store.runs_claim("w1", ["default"], 1, 30)
    after = store.now()
    assert claimed.state is RunState.RUNNING
    assert claimed.attempt == 1
    assert claimed.lease_owner == claimed.worker_id == "w1"
    assert before <= claimed.started_at <= after
    assert before + 30 <= claimed.lease_expires_at <= after + 30
    assert store.run_get(run.id) == claimed


def test_release_gives_unstarted_work_back(store: Store) -> None:
    runs = add_runs(store, 3)
    claimed = store.runs_claim("w1", ["default"], 3, 30)
    assert store.runs_release("w2", [r.id for r in claimed]) == 0  # not w2's to give
    assert store.runs_release("w1", [claimed[0].id, claimed[1].id]) == 2
    assert store.runs_release("w1", []) == 0
    back = store.run_get(runs[0].id)
    assert back.state is RunState.QUEUED
    assert (back.attempt, back.lease_owner, back.lease_expires_at, back.started_at) == (
        0, None, None, None)
    again = store.runs_claim("w2", ["default"], 10, 30)
    assert sorted(r.id for r in again) == [runs[0].id, runs[1].id]
    assert all(r.attempt == 1 for r in again)


def test_run_list_filters_and_pages_newest_first(store: Store) -> None:
    a = add_runs(store, 3, task="a", queue="q1")
    b = add_runs(store, 2, task="b", queue="q2")
    store.run_cancel(a[0].id)
    assert [r.id for r in store.run_list()] == [r.id for r in reversed(a + b)]
    assert [r.id for r in store.run_list(RunFilter(task="a"))] == [r.id for r in reversed(a)]
    assert [r.id for r in store.run_list(RunFilter(queue="q2"))] == [r.id for r in reversed(b)]
    assert [r.id for r in store.run_list(RunFilter(states=["cancelled"]))] == [a[0].id]
    page1 = store.run_list(RunFilter(limit=2))
    page2 = store.run_list(RunFilter(limit=2, before_id=page1[-1].id))
    assert [r.id for r in page1 + page2] == [r.id for r in reversed(a + b)][:4]
    future = store.now() + 60
    assert store.run_list(RunFilter(since=future)) == []
    assert len(store.run_list(RunFilter(until=future))) == 5
    assert store.run_counts() == {"queued": 4, "cancelled": 1}


def test_runs_take_is_the_claim_with_only_what_a_worker_needs(store: Store) -> None:
    """The worker's claim: the same runs in the same order as runs_claim, each carrying
    the fields the worker reads (arguments decoded), and started like runs_claim's."""
    a, b, c = store.runs_add([
        NewRun("a", args=[1, "x"], kwargs={"k": {"n": None}}, priority=1, max_attempts=3,
               retry_backoff=2.0, retry_backoff_max=9.0, timeout=4.5),
        NewRun("b", priority=5),
        NewRun("a", priority=1),
    ])
    taken = store.runs_take("w", ["default"], 10, 30, tasks=["a", "b"], start_claimed=2)
    assert [t.id for t in taken] == [b.id, a.id, c.id]
    first = taken[1]
    assert (first.task, first.attempt, first.max_attempts, first.retry_backoff,
            first.retry_backoff_max, first.timeout) == ("a", 1, 3, 2.0, 9.0, 4.5)
    assert (first.args, first.kwargs) == ([1, "x"], {"k": {"n": None}})
    assert (taken[0].args, taken[0].kwargs, taken[0].timeout) == ([], {}, None)
    assert (first.schedule_id, first.fire_time, first.shard_index) == (None, None, None)
    assert (first.priority, first.not_before) == (1, a.not_before)
    rows = {t.id: store.run_get(t.id) for t in taken}
    assert all(r.state is RunState.RUNNING and r.lease_owner == "w" for r in rows.values())
    # the first two start at once; the third is held ahead, its start not written yet
    assert rows[b.id].started_at is not None and rows[a.id].started_at is not None
    assert rows[c.id].started_at is None
    assert store.runs_take("w", ["default"], 10, 30) == []
