"""Workflow runs in the store, on every backend: a step's runs are inserted in the
transaction of its last predecessor's outcome, exactly once; trigger rules, maps with a
concurrency bound, the final state from the leaves, callbacks and cancel."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any

import pytest

from horae.errors import Conflict
from horae.models import Run, RunState
from horae.store import Finish, RunFilter, Store
from horae.workflows.validate import parse_workflow
from tests.conftest import eventually

Outcome = tuple[RunState, Any]
OK = RunState.SUCCEEDED


def spec(task: str, kwargs: dict[str, Any] | None = None, retries: int = 0) -> dict[str, Any]:
    return {"task": task, "args": [], "kwargs": kwargs or {}, "queue": "default",
            "priority": 0, "max_attempts": retries + 1, "retry_backoff": 0.01,
            "retry_backoff_max": 0.01, "timeout": None}


def start(store: Store, definition: dict[str, Any], wid: str = "wf",
          retries: dict[str, int] | None = None) -> Run:
    workflow = store.workflow_add(parse_workflow(wid, definition))
    specs = {s.id: spec(s.task, s.kwargs, (retries or {}).get(s.id, 0))
             for s in workflow.steps}
    for name in ("on_success", "on_failure", "on_finish"):
        callback = getattr(workflow, name)
        if callback is not None:
            specs[name] = spec(callback.task, callback.kwargs)
    return store.workflow_run_start(workflow, {}, specs)


def children(store: Store, parent: int) -> list[Run]:
    runs = [r for r in store.run_list(RunFilter(limit=10_000)) if r.parent_id == parent]
    return sorted(runs, key=lambda r: r.id)


def by_step(store: Store, parent: int) -> dict[str, list[Run]]:
    out: dict[str, list[Run]] = {}
    for r in children(store, parent):
        assert r.step is not None
        out.setdefault(r.step, []).append(r)
    return out


def work(store: Store, outcome: Callable[[Run], Outcome] | None = None,
         seen: list[Run] | None = None, max_active: dict[str, int] | None = None) -> None:
    """Claim and finish runs one at a time until none is left (a worker, synchronously)."""
    for _ in range(1000):
        claimed = store.runs_claim("w1", ["default"], 1, 30.0)
        if not claimed:
            return
        run = claimed[0]
        if max_active is not None and run.step is not None:
            active = [r for r in store.run_list(RunFilter(states=("queued", "running"),
                                                          limit=10_000))
                      if r.step == run.step and r.parent_id == run.parent_id]
            max_active[run.step] = max(max_active.get(run.step, 0), len(active))
        if seen is not None:
            seen.append(run)
        state, result = outcome(run) if outcome else (OK, None)
        error = None if state is OK else "boom"
        assert store.runs_finish("w1", [Finish(run, state, result, error)]) == [True]
    raise AssertionError("the workflow never stopped making runs")


def test_a_chain_runs_step_after_step_and_passes_results(store: Store) -> None:
    parent = start(store, {"steps": [
        {"id": "a", "task": "t.a"}, {"id": "b", "task": "t.b", "after": ["a"]},
        {"id": "c", "task": "t.c", "after": ["b"]}]})
    assert parent.state is RunState.RUNNING and parent.fanout == "workflow"
    assert (parent.workflow_id, parent.workflow_version) == ("wf", 1)
    assert [r.step for r in children(store, parent.id)] == ["a"]  # only the root is queued
    seen: list[Run] = []
    work(store, lambda r: (OK, f"{r.step}-out"), seen)
    assert [(r.step, r.inputs) for r in seen] == [
        ("a", {}), ("b", {"a": "a-out"}), ("c", {"b": "b-out"})]
    done = store.run_get(parent.id)
    assert done.state is RunState.SUCCEEDED
    assert done.result == {"c": "c-out"}
    assert (done.progress, done.progress_message) == (1.0, "3 of 3 steps")
    assert store.workflow_run_steps(parent.id) == {"a": "succeeded", "b": "succeeded",
                                                   "c": "succeeded"}


def test_progress_counts_ended_steps(store: Store) -> None:
    parent = start(store, {"steps": [
        {"id": "a", "task": "t.a"}, {"id": "b", "task": "t.b", "after": ["a"]}]})
    run = store.runs_claim("w1", ["default"], 1, 30.0)[0]
    store.runs_finish("w1", [Finish(run, OK)])
    got = store.run_get(parent.id)
    assert (got.state, got.progress, got.progress_message) == (
        RunState.RUNNING, 0.5, "1 of 2 steps")


def test_a_chord_waits_for_every_branch(store: Store) -> None:
    parent = start(store, {"steps": [
        {"id": "a", "task": "t.a"}, {"id": "b", "task": "t.b"},
        {"id": "join", "task": "t.join", "after": ["a", "b"]}]})
    a, b = store.runs_claim("w1", ["default"], 2, 30.0)
    store.runs_finish("w1", [Finish(a, OK, 1)])
    assert "join" not in by_step(store, parent.id)
    store.runs_finish("w1", [Finish(b, OK, 2)])
    join = by_step(store, parent.id)["join"]
    assert len(join) == 1 and join[0].inputs == {"a": 1, "b": 2}
    assert join[0].state is RunState.QUEUED


def test_a_map_runs_once_per_item_within_its_concurrency(store: Store) -> None:
    parent = start(store, {"steps": [
        {"id": "find", "task": "t.find"},
        {"id": "probe", "task": "t.probe", "map": "find", "concurrency": 2},
        {"id": "report", "task": "t.report", "after": ["probe"]}]})
    seen: list[Run] = []
    peak: dict[str, int] = {}

    def outcome(run: Run) -> Outcome:
        if run.step == "find":
            return OK, ["x", "y", "z", "w", "v"]
        if run.step == "probe":
            return OK, run.kwargs["item"].upper()
        return OK, None

    work(store, outcome, seen, peak)
    probes = by_step(store, parent.id)["probe"]
    assert [(r.kwargs["item"], r.shard_index, r.shard_total) for r in probes] == [
        ("x", 0, 5), ("y", 1, 5), ("z", 2, 5), ("w", 3, 5), ("v", 4, 5)]
    assert peak["probe"] == 2
    assert probes[0].inputs == {"find": ["x", "y", "z", "w", "v"]}
    report = by_step(store, parent.id)["report"][0]
    assert report.inputs == {"probe": ["X", "Y", "Z", "W", "V"]}
    assert store.run_get(parent.id).state is RunState.SUCCEEDED


def test_a_map_over_a_literal_list_and_over_an_empty_result(store: Store) -> None:
    parent = start(store, {"steps": [
        {"id": "lit", "task": "t.p", "map": [1, 2]},
        {"id": "find", "task": "t.find"},
        {"id": "none", "task": "t.p", "map": "find"},
        {"id": "end", "task": "t.end", "after": ["lit", "none"]}]})
    work(store, lambda r: (OK, [] if r.step == "find" else r.kwargs.get("item")))
    steps = by_step(store, parent.id)
    assert [r.kwargs["item"] for r in steps["lit"]] == [1, 2]
    assert "none" not in steps  # an empty list: no run, succeeded at once
    assert steps["end"][0].inputs == {"lit": [1, 2], "none": []}
    assert store.run_get(parent.id).state is RunState.SUCCEEDED


def test_a_map_over_a_result_that_is_not_a_list_fails_the_step(store: Store) -> None:
    parent = start(store, {"steps": [
        {"id": "find", "task": "t.find"},
        {"id": "probe", "task": "t.probe", "map": "find"}]})
    work(store, lambda r: (OK, {"not": "a list"}))
    probe = by_step(store, parent.id)["probe"]
    assert len(probe) == 1 and probe[0].state is RunState.FAILED
    assert "step 'find' returned dict, not a list" in (probe[0].error or "")
    done = store.run_get(parent.id)
    assert done.state is RunState.FAILED and done.error == "step 'probe' failed"


def test_trigger_rules_after_a_failure(store: Store) -> None:
    parent = start(store, {"steps": [
        {"id": "probe", "task": "t.probe"},
        {"id": "next", "task": "t.next", "after": ["probe"]},
        {"id": "after-next", "task": "t.next", "after": ["next"]},
        {"id": "alarm", "task": "t.alarm", "after": ["probe"], "trigger_rule": "any_failed"},
        {"id": "cleanup", "task": "t.clean", "after": ["probe"], "trigger_rule": "all_done"}]})
    seen: list[Run] = []
    work(store, lambda r: (RunState.FAILED if r.step == "probe" else OK, None), seen)
    assert sorted(r.step for r in seen) == ["alarm", "cleanup", "probe"]  # type: ignore[type-var]
    steps = by_step(store, parent.id)
    assert steps["next"][0].state is RunState.SKIPPED
    assert steps["next"][0].error == "upstream step 'probe' failed"
    assert steps["after-next"][0].state is RunState.SKIPPED
    assert steps["after-next"][0].error == "upstream step 'next' was skipped: its upstream failed"
    assert store.workflow_run_steps(parent.id)["after-next"] == "upstream_failed"
    # a leaf skipped because an upstream failed fails the workflow run
    done = store.run_get(parent.id)
    assert done.state is RunState.FAILED
    assert done.error == "step 'after-next' was skipped: its upstream failed"
    assert set(done.result) == {"after-next", "alarm", "cleanup"}


def test_an_error_branch_that_is_not_needed_is_skipped_and_the_run_succeeds(
        store: Store) -> None:
    parent = start(store, {"steps": [
        {"id": "probe", "task": "t.probe"},
        {"id": "alarm", "task": "t.alarm", "after": ["probe"], "trigger_rule": "any_failed"},
        {"id": "report", "task": "t.report", "after": ["probe"]}]})
    work(store)
    alarm = by_step(store, parent.id)["alarm"][0]
    assert (alarm.state, alarm.error) == (RunState.SKIPPED, "no upstream step failed")
    assert store.run_get(parent.id).state is RunState.SUCCEEDED


def test_a_handled_failure_ends_succeeded(store: Store) -> None:
    """The leaves decide: the failed step has a successor (its handler), which succeeded."""
    parent = start(store, {"steps": [
        {"id": "probe", "task": "t.probe"},
        {"id": "handle", "task": "t.h", "after": ["probe"], "trigger_rule": "any_failed"}]})
    work(store, lambda r: (RunState.FAILED if r.step == "probe" else OK, "handled"))
    done = store.run_get(parent.id)
    assert (done.state, done.result) == (RunState.SUCCEEDED, {"handle": "handled"})


def test_a_retrying_step_is_not_an_outcome(store: Store) -> None:
    parent = start(store, {"steps": [
        {"id": "a", "task": "t.a"}, {"id": "b", "task": "t.b", "after": ["a"]}]},
        retries={"a": 1})
    run = store.runs_claim("w1", ["default"], 1, 30.0)[0]
    store.runs_finish("w1", [Finish(run, RunState.RETRYING, None, "flaky")])
    assert set(by_step(store, parent.id)) == {"a"}
    assert store.workflow_run_steps(parent.id)["a"] == "active"
    seen: list[Run] = []
    for _ in range(500):  # the retry's backoff is 10 ms
        work(store, lambda r: (OK, 7), seen)
        if seen and seen[-1].step == "b":
            break
    assert [r.step for r in seen] == ["a", "b"]
    assert seen[1].inputs == {"a": 7}
    assert store.run_get(parent.id).state is RunState.SUCCEEDED


def test_callbacks_get_every_result(store: Store) -> None:
    parent = start(store, {"steps": [
        {"id": "a", "task": "t.a"}, {"id": "b", "task": "t.b", "after": ["a"]}],
        "on_failure": {"task": "ops.alert", "kwargs": {"channel": "x"}},
        "on_success": {"task": "ops.ok"}, "on_finish": {"task": "ops.fin"}})
    work(store, lambda r: (RunState.FAILED, None) if r.step == "b" else (OK, r.step))
    done = store.run_get(parent.id)
    assert done.state is RunState.FAILED
    steps = by_step(store, parent.id)
    assert "on_success" not in steps
    alert, fin = steps["on_failure"][0], steps["on_finish"][0]
    assert (alert.task, alert.kwargs) == ("ops.alert", {"channel": "x"})
    assert alert.inputs == fin.inputs == {"a": "a", "b": None}
    assert alert.state is fin.state is RunState.SUCCEEDED  # they ran (and changed nothing)
    assert store.run_get(parent.id).state is RunState.FAILED


def test_cancel_reaches_every_step_and_nothing_starts_after(store: Store) -> None:
    parent = start(store, {"steps": [
        {"id": "a", "task": "t.a"}, {"id": "b", "task": "t.b"},
        {"id": "m", "task": "t.m", "map": [1, 2, 3], "concurrency": 1},
        {"id": "join", "task": "t.join", "after": ["a", "b", "m"]}],
        "on_finish": {"task": "ops.fin"}})
    running = store.runs_claim("w1", ["default"], 2, 30.0)  # a and b run; m[0] waits
    store.run_cancel(parent.id)
    steps = by_step(store, parent.id)
    assert steps["m"][0].state is RunState.CANCELLED
    assert all(store.run_get(r.id).cancel_requested for r in running)
    assert store.run_get(parent.id).state is RunState.RUNNING  # two steps still run
    store.runs_finish("w1", [Finish(running[0], OK), Finish(running[1], RunState.CANCELLED)])
    done = store.run_get(parent.id)
    assert done.state is RunState.CANCELLED
    assert set(by_step(store, parent.id)) == {"a", "b", "m"}  # no join, no callback
    assert len(by_step(store, parent.id)["m"]) == 1
    assert store.workflow_run_steps(parent.id)["join"] == "cancelled"


def test_cancel_of_a_waiting_step_run_is_its_outcome(store: Store) -> None:
    parent = start(store, {"steps": [
        {"id": "a", "task": "t.a"}, {"id": "b", "task": "t.b", "after": ["a"]}]})
    store.run_cancel(by_step(store, parent.id)["a"][0].id)
    b = by_step(store, parent.id)["b"][0]
    assert (b.state, b.error) == (RunState.SKIPPED, "upstream step 'a' was cancelled")
    assert store.run_get(parent.id).state is RunState.FAILED


@pytest.mark.parametrize("attempt", range(8))
def test_concurrent_finishes_queue_the_join_step_once(database_url: str, attempt: int) -> None:
    """The last two predecessors end at the same instant on two workers' connections."""
    stores = [Store(database_url) for _ in range(2)]
    stores[0].migrate()
    try:
        if database_url.endswith(":memory:"):
            stores[1].close()
            stores[1] = stores[0]  # one in-memory database: share it
        parent = start(stores[0], {"steps": [
            {"id": "a", "task": "t.a"}, {"id": "b", "task": "t.b"},
            {"id": "join", "task": "t.join", "after": ["a", "b"]}]})
        a = stores[0].runs_claim("w1", ["default"], 1, 30.0)[0]
        b = stores[1].runs_claim("w2", ["default"], 1, 30.0)[0]
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def finish(store: Store, worker: str, run: Run) -> None:
            try:
                barrier.wait()
                store.runs_finish(worker, [Finish(run, OK, run.step)])
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=finish, args=(stores[0], "w1", a)),
                   threading.Thread(target=finish, args=(stores[1], "w2", b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors, errors
        join = by_step(stores[0], parent.id)["join"]
        assert len(join) == 1
        assert join[0].inputs == {"a": "a", "b": "b"}
        assert stores[0].workflow_run_steps(parent.id)["join"] == "active"
    finally:
        for s in {id(s): s for s in stores}.values():
            s.close()


CROWD = {"steps": [
    {"id": "a", "task": "t.a"}, {"id": "b", "task": "t.b"}, {"id": "c", "task": "t.c"},
    {"id": "join", "task": "t.j", "after": ["a", "b", "c"]},
    {"id": "each", "task": "t.e", "map": [1, 2, 3, 4], "concurrency": 2, "after": ["join"]},
    {"id": "end", "task": "t.end", "after": ["each"]}]}


class Crowd:
    """Writers over the same workflow runs, each on its own connection: three workers
    finishing batches, a starter of 29 more workflow runs, a canceller of every fifth."""

    def __init__(self, url: str, first: Run) -> None:
        self.stores = [Store(url) for _ in range(5)]
        self.started = [first.id]
        self.problems: list[BaseException] = []
        self.stop = threading.Event()
        self.to_cancel: queue.Queue[int] = queue.Queue()
        self.to_cancel.put(first.id)
        workflow = self.stores[3].workflow_get("wf")
        self.workflow = workflow
        self.specs = {s.id: spec(s.task) for s in workflow.steps}
        loops = [self.worker(i) for i in range(3)] + [self.starter, self.canceller]
        self.threads = [threading.Thread(target=self.guard, args=(f,)) for f in loops]

    def guard(self, loop: Callable[[], None]) -> None:
        try:
            loop()
        except BaseException as exc:  # reported by the test
            self.problems.append(exc)
            self.stop.set()

    def worker(self, i: int) -> Callable[[], None]:
        store, name = self.stores[i], f"w{i}"

        def loop() -> None:
            while not self.stop.is_set():
                runs = store.runs_claim(name, ["default"], 5, 30.0)
                if runs:
                    store.runs_finish(name, [Finish(r, OK, r.step) for r in runs])
        return loop

    def starter(self) -> None:
        for i in range(1, 30):
            self.started.append(
                self.stores[3].workflow_run_start(self.workflow, {}, self.specs).id)
            if i % 5 == 0:
                self.to_cancel.put(self.started[-1])

    def canceller(self) -> None:
        for _ in range(6):
            pid = self.to_cancel.get(timeout=60)
            with contextlib.suppress(Conflict):
                self.stores[4].run_cancel(pid)

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)
        for s in self.stores:
            s.close()


def assert_each_step_ran_once(store: Store, pid: int) -> None:
    steps = by_step(store, pid)
    for name, runs in steps.items():
        keys = [(r.step, r.shard_index) for r in runs]
        assert len(keys) == len(set(keys)), (pid, name)
    if store.run_get(pid).state is RunState.SUCCEEDED:
        assert {k: len(v) for k, v in steps.items()} == {
            "a": 1, "b": 1, "c": 1, "join": 1, "each": 4, "end": 1}
        assert steps["end"][0].inputs == {"each": ["each"] * 4}


@pytest.mark.postgres
def test_workflow_runs_under_concurrent_writers_never_deadlock_or_double_start(
        pg_store: Store, pg_url: str) -> None:
    """On PostgreSQL: every workflow run settles, with no deadlock or refused duplicate
    insert in any writer, and every step of an uncancelled one ran exactly once."""
    crowd = Crowd(pg_url, start(pg_store, CROWD))
    try:
        for t in crowd.threads:
            t.start()

        def all_ended() -> bool:
            return len(crowd.started) == 30 and all(
                pg_store.run_get(i).state.value in ("succeeded", "cancelled")
                for i in crowd.started)

        eventually(lambda: all_ended() or crowd.problems, timeout=90)
    finally:
        crowd.close()
    assert not crowd.problems, crowd.problems
    for pid in crowd.started:
        assert_each_step_ran_once(pg_store, pid)
    assert any(pg_store.run_get(i).state is RunState.SUCCEEDED for i in crowd.started)
