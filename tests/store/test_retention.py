"""Retention (store/retention.py): which finished runs, log lines and events go, in batches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from horae.models import LogLine, Run, RunState
from horae.store import NewRun, Store
from horae.store.retention import Pruned
from tests.store.support import add_due, add_runs, backdate, make_due, planner, runs_of

DAY = 86400.0


def finish_all(store: Store, state: RunState = RunState.SUCCEEDED) -> list[Run]:
    """Claim every waiting run and finish it with one log line each."""
    done = []
    while claimed := store.runs_claim("w", ["default"], 100, 30):
        for run in claimed:
            assert store.run_finish(run, "w", state,
                                    logs=[LogLine(run.id, store.now(), "INFO", f"line {run.id}")])
            done.append(run)
    return done


def fired(store: Store, sid: str, n: int) -> list[Run]:
    """A schedule that fired ``n`` times, every run finished; its runs, oldest first."""
    add_due(store, sid)
    store.schedules_fire_due(planner)
    finish_all(store)
    for _ in range(n - 1):
        make_due(store, sid)
        store.schedules_fire_due(planner)
        finish_all(store)  # before the next fire, or it would be skipped (overlap)
    runs = runs_of(store, sid)
    assert len(runs) == n and all(r.fire_time is not None for r in runs)
    assert all(r.state is RunState.SUCCEEDED for r in runs)
    return runs


def ids(store: Store) -> set[int]:
    with store.db.read() as tx:
        return {int(r["id"]) for r in tx.all("SELECT id FROM horae_runs")}


def prune_all(store: Store, older_than: float, keep: int = 0, batch: int = 1000,
              dry_run: bool = False) -> Pruned:
    total, cursor = Pruned(), None
    while True:
        got = store.runs_prune_batch(older_than, keep_per_schedule=keep, batch=batch,
                                     after=cursor, dry_run=dry_run)
        total.add(got)
        if got.cursor is None:
            return total
        assert got.cursor != cursor, "the cursor moves on at every batch"
        cursor = got.cursor


def test_age_rule_deletes_old_finished_runs_with_their_logs_only(store: Store) -> None:
    old = add_runs(store, 3)
    recent = add_runs(store, 2)
    finish_all(store)
    backdate(store, [r.id for r in old], 2 * DAY)
    [waiting] = add_runs(store)
    got = prune_all(store, DAY)
    assert (got.runs, got.logs) == (3, 3)
    assert ids(store) == {r.id for r in recent} | {waiting.id}
    for r in old:
        assert store.run_logs(r.id) == []
    for r in recent:
        assert [x.message for x in store.run_logs(r.id)] == [f"line {r.id}"]


def test_active_runs_are_never_deleted_whatever_their_timestamps(store: Store) -> None:
    runs = add_runs(store, 4)
    running, retrying, queued, done = runs
    store.runs_claim("w", ["default"], 1, 30)  # the first is running now
    with store.db.write() as tx:  # every active state, with an old finished_at (by hand)
        tx.run("UPDATE horae_runs SET state = 'retrying' WHERE id = :id", {"id": retrying.id})
        tx.run("UPDATE horae_runs SET finished_at = :t WHERE id IN (:a, :b, :c)",
               {"t": store.now() - 9 * DAY, "a": running.id, "b": retrying.id, "c": queued.id})
    store.run_cancel(done.id)
    backdate(store, [done.id], 9 * DAY)
    assert prune_all(store, DAY).runs == 1
    assert ids(store) == {running.id, retrying.id, queued.id}


def test_keep_per_schedule_keeps_the_newest_fires_of_a_schedule_whatever_their_age(
        store: Store) -> None:
    runs = fired(store, "weekly", 5)
    [manual_old] = add_runs(store, schedule_id="weekly")  # "run now" between fires...
    finish_all(store)
    backdate(store, [r.id for r in runs] + [manual_old.id], 100 * DAY)
    assert runs[1].fire_time is not None and runs[2].fire_time is not None
    # ...created before the third newest fire (midway: fires may be a millisecond apart)
    between = (runs[1].fire_time + runs[2].fire_time) / 2
    assert runs[1].fire_time < between < runs[2].fire_time
    with store.db.write() as tx:
        tx.run("UPDATE horae_runs SET created_at = :t WHERE id = :id",
               {"t": between, "id": manual_old.id})
    [manual_new] = add_runs(store, schedule_id="weekly")  # after the newest fires
    finish_all(store)
    backdate(store, [manual_new.id], 100 * DAY)

    got = prune_all(store, DAY, keep=3)
    assert got.runs == 3  # the two oldest fires, and the run made before the 3rd newest
    assert ids(store) == {runs[2].id, runs[3].id, runs[4].id, manual_new.id}
    # a new fire makes the oldest kept one go: still the newest three
    newer = fired_again(store, "weekly")
    backdate(store, [newer.id], 100 * DAY)
    assert prune_all(store, DAY, keep=3).runs == 1
    assert ids(store) == {runs[3].id, runs[4].id, newer.id, manual_new.id}


def fired_again(store: Store, sid: str) -> Run:
    make_due(store, sid)
    store.schedules_fire_due(planner)
    [run] = finish_all(store)
    return run


def test_a_schedule_with_fewer_fires_than_kept_keeps_them_all(store: Store) -> None:
    runs = fired(store, "monthly", 2)
    backdate(store, [r.id for r in runs], 400 * DAY)
    assert prune_all(store, DAY, keep=3).runs == 0
    assert prune_all(store, DAY, keep=0).runs == 2  # without the rule: age alone


def test_ad_hoc_runs_and_runs_of_deleted_schedules_follow_the_age_rule_only(
        store: Store) -> None:
    gone = fired(store, "polling", 3)
    store.schedule_delete("polling")
    adhoc = add_runs(store, 2)
    finish_all(store)
    backdate(store, [r.id for r in gone + adhoc], 2 * DAY)
    kept = fired(store, "alive", 2)
    backdate(store, [r.id for r in kept], 2 * DAY)
    got = prune_all(store, DAY, keep=20)
    assert (got.runs, got.logs) == (5, 5)
    assert ids(store) == {r.id for r in kept}


def shard_family(store: Store, **kw: Any) -> tuple[Run, list[Run]]:
    """A finished shard parent and its two finished children."""
    [parent] = store.runs_add([NewRun(task="job", fanout="shard", shard_total=2, **kw)])
    assert store.runs_expand() == 2
    children = finish_all(store)
    assert store.run_get(parent.id).state is RunState.SUCCEEDED
    return parent, children


def test_a_fan_out_family_goes_together_never_split(store: Store) -> None:
    parent, _children = shard_family(store)
    backdate(store, [parent.id], 2 * DAY)  # the children ended recently: they go with it
    got = prune_all(store, DAY)
    assert (got.runs, got.logs) == (3, 2)
    assert ids(store) == set()


def test_children_stay_while_their_parent_is_kept(store: Store) -> None:
    sched = fired(store, "fan", 1)
    parent, children = shard_family(store, schedule_id="fan")
    family = [parent.id, *(c.id for c in children)]
    backdate(store, [sched[0].id, *family], 2 * DAY)
    assert prune_all(store, DAY, keep=5).runs == 0  # the parent is one of the newest 5
    assert ids(store) == {sched[0].id, *family}


def test_a_parent_with_an_active_child_stays(store: Store) -> None:
    parent, children = shard_family(store)
    with store.db.write() as tx:  # by hand: a child active under a finished parent
        tx.run("UPDATE horae_runs SET state = 'queued', finished_at = NULL WHERE id = :id",
               {"id": children[0].id})
    backdate(store, [parent.id, children[1].id], 2 * DAY)
    assert prune_all(store, DAY).runs == 0
    assert ids(store) == {parent.id, *(c.id for c in children)}


def test_an_orphaned_child_follows_the_age_rule(store: Store) -> None:
    parent, children = shard_family(store)
    with store.db.write() as tx:  # pruned by an older Horae that split families
        tx.run("DELETE FROM horae_runs WHERE id = :id", {"id": parent.id})
    backdate(store, [c.id for c in children], 2 * DAY)
    assert prune_all(store, DAY).runs == 2


def test_each_batch_examines_the_next_batch_of_runs_and_the_cursor_passes_kept_ones(
        store: Store) -> None:
    kept = fired(store, "weekly", 3)  # the oldest: kept, at the head of the scan
    adhoc = add_runs(store, 5)
    finish_all(store)
    backdate(store, [r.id for r in kept], 30 * DAY)
    for i, r in enumerate(adhoc):  # distinct finished times: a window never ends in a tie
        backdate(store, [r.id], 20 * DAY - i)
    first = store.runs_prune_batch(DAY, keep_per_schedule=3, batch=2)
    assert first.runs == 0 and first.cursor is not None  # two kept runs examined
    second = store.runs_prune_batch(DAY, keep_per_schedule=3, batch=2, after=first.cursor)
    assert second.runs == 1  # the third kept run and the first ad-hoc one
    assert prune_all(store, DAY, keep=3, batch=2).runs == 4
    assert ids(store) == {r.id for r in kept}


def test_dry_run_counts_what_a_prune_deletes_and_changes_nothing(store: Store) -> None:
    gone = fired(store, "s", 4) + add_runs(store, 3)
    finish_all(store)
    backdate(store, [r.id for r in gone], 2 * DAY)
    before = ids(store)
    dry = prune_all(store, DAY, keep=2, batch=2, dry_run=True)
    assert ids(store) == before
    real = prune_all(store, DAY, keep=2, batch=2)
    assert (dry.runs, dry.logs) == (real.runs, real.logs) == (5, 5)


def test_events_go_by_age_and_by_count_oldest_first(store: Store) -> None:
    add_runs(store, 10)  # ten events (one per inserted run)
    with store.db.read() as tx:
        first = [int(r["id"]) for r in tx.all("SELECT id FROM horae_events ORDER BY id")]
    assert len(first) >= 10
    with store.db.write() as tx:
        tx.run("UPDATE horae_events SET ts = ts - 7200 WHERE id <= :id", {"id": first[3]})
    assert store.events_prune_batch(3600, batch=100, dry_run=True) == (4, None)
    assert store.events_prune_batch(3600, batch=100) == (4, None)
    assert store.events_prune_batch(None, keep_max=4, batch=100) == (len(first) - 8, None)
    with store.db.read() as tx:
        left = [int(r["id"]) for r in tx.all("SELECT id FROM horae_events ORDER BY id")]
    assert left == first[-4:]
    n, after = store.events_prune_batch(None, keep_max=1, batch=2)  # full: more may remain
    assert n == 2 and after is not None


def test_events_are_no_longer_pruned_inside_the_writes_of_runs(store: Store) -> None:
    """Migration 0009 dropped the trigger that deleted old events in every 1000th insert
    (inside a fire pass or a batch of outcomes): retention alone deletes them now."""
    add_runs(store, 5)
    with store.db.write() as tx:
        tx.run("UPDATE horae_events SET ts = ts - 10 * 86400")
    add_runs(store, 1000)
    with store.db.read() as tx:
        row = tx.one("SELECT count(*) AS n FROM horae_events")
    assert row is not None and int(row["n"]) >= 1005


def test_a_new_sqlite_file_gives_freed_pages_back_and_new_connections_never_wait(
        tmp_path: Path) -> None:
    import sqlite3
    import threading

    path = tmp_path / "av.db"
    store = Store(f"sqlite:///{path}")
    try:
        store.migrate()
        with store.db.read() as tx:
            row = tx.one("PRAGMA auto_vacuum")
        assert row is not None and list(dict(row).values()) == [2]  # incremental
        # A writer elsewhere holds the write lock: a connection opened now (a new thread's)
        # still reads at once instead of waiting for it.
        holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        counted: list[int] = []
        store.db.busy_timeout = 0.5  # type: ignore[attr-defined]
        thread = threading.Thread(target=lambda: counted.append(store.schedule_count()))
        thread.start()
        thread.join(10)
        holder.execute("ROLLBACK")
        holder.close()
        assert counted == [0]
    finally:
        store.close()
