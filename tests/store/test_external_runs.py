"""Runs executed elsewhere (store/external_runs.py): the publish intent, its confirmation,
and what a later attempt does with them (publish anew, or re-attach)."""

from __future__ import annotations

from horae.models import Run, RunState
from horae.store import Finish, Store
from tests.store.support import add_runs, raw_run


def claim(store: Store, worker: str = "w1") -> Run:
    [run] = store.runs_claim(worker, ["default"], 1, 30)
    return run


def lose(store: Store, worker: str) -> None:
    """The worker died: its lease is taken back (a rescue), the attempt ends ``lost``."""
    assert store.runs_rescue(owner=worker)


def test_a_first_attempt_publishes_and_the_intent_is_fenced(store: Store) -> None:
    [run] = add_runs(store, 1, max_attempts=3)
    run = claim(store)
    assert store.run_external_plan(run.id, run.attempt).action == "publish"
    assert not store.run_external_intent(run.id, run.attempt, "someone-else", "horae-x")
    assert raw_run(store, run.id)["external_id"] is None, "a refused intent writes nothing"
    assert store.run_external_intent(run.id, run.attempt, "w1", "horae-1-1")
    row = raw_run(store, run.id)
    assert (row["external_id"], row["external_attempt"]) == ("horae-1-1", 1)
    assert row["external_published_at"] is None
    plan = store.run_external_plan(run.id, run.attempt)
    assert (plan.action, plan.external_id, plan.published) == ("attach", "horae-1-1", False)
    assert store.run_external_published(run.id, run.attempt, "w1", "horae-1-1")
    assert raw_run(store, run.id)["external_published_at"] is not None
    assert store.run_external_id(run.id) == "horae-1-1"


def test_an_attempt_after_lost_ones_reattaches(store: Store) -> None:
    [run] = add_runs(store, 1, max_attempts=4, retry_backoff=0)
    run = claim(store, "w1")
    store.run_external_intent(run.id, run.attempt, "w1", "horae-a")
    store.run_external_published(run.id, run.attempt, "w1", "horae-a")
    lose(store, "w1")
    run = claim(store, "w2")
    assert run.attempt == 2
    plan = store.run_external_plan(run.id, run.attempt)
    assert (plan.action, plan.external_id, plan.published) == ("attach", "horae-a", True)
    lose(store, "w2")  # lost again while re-attached: still the same message
    run = claim(store, "w3")
    plan = store.run_external_plan(run.id, run.attempt)
    assert (plan.action, plan.external_id) == ("attach", "horae-a")


def test_an_unconfirmed_send_is_reported_as_such(store: Store) -> None:
    [run] = add_runs(store, 1, max_attempts=2, retry_backoff=0)
    run = claim(store, "w1")
    store.run_external_intent(run.id, run.attempt, "w1", "horae-b")
    lose(store, "w1")  # died between the intent and the confirmation
    run = claim(store, "w2")
    plan = store.run_external_plan(run.id, run.attempt)
    assert (plan.action, plan.external_id, plan.published) == ("attach", "horae-b", False)
    assert store.run_external_published(run.id, run.attempt, "w2", "horae-b"), \
        "the attempt that re-sent it confirms it"
    assert store.run_external_plan(run.id, run.attempt).published


def test_an_attempt_after_an_outcome_publishes_a_new_message(store: Store) -> None:
    [run] = add_runs(store, 1, max_attempts=3, retry_backoff=0)
    run = claim(store, "w1")
    store.run_external_intent(run.id, run.attempt, "w1", "horae-c-1")
    store.run_external_published(run.id, run.attempt, "w1", "horae-c-1")
    assert store.runs_finish("w1", [Finish(run, RunState.RETRYING, error="ValueError: no")])
    run = claim(store, "w1")
    assert store.run_external_plan(run.id, run.attempt).action == "publish"


def test_a_lost_attempt_after_an_outcome_does_not_reattach_to_the_old_message(
        store: Store) -> None:
    """Attempt 1 published and failed; attempt 2 died before its intent: attempt 3 must
    not re-attach to attempt 1's message (its outcome was recorded already)."""
    [run] = add_runs(store, 1, max_attempts=3, retry_backoff=0)
    run = claim(store, "w1")
    store.run_external_intent(run.id, run.attempt, "w1", "horae-d-1")
    store.runs_finish("w1", [Finish(run, RunState.RETRYING, error="ValueError: no")])
    run = claim(store, "w2")
    lose(store, "w2")
    run = claim(store, "w3")
    assert run.attempt == 3
    assert store.run_external_plan(run.id, run.attempt).action == "publish"
