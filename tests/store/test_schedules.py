"""Schedules: add, get, list, replace, delete, and the change counter."""

from __future__ import annotations

import pytest

from horae.errors import Conflict, NotFound
from horae.models import Catchup, Overlap, Policies
from horae.store import Store
from tests.store.support import add_due, cron, interval, planner, schedule


def test_add_then_get_round_trips_every_field(store: Store) -> None:
    before = store.now()
    s = schedule("nightly", trigger=cron("0 2 * * *", tz="Asia/Shanghai").to_dict(),
                 next_fire_at=before + 3600, catchup=Catchup.ALL, overlap=Overlap.ALLOW,
                 retries=3, queue="net-a", priority=7, max_fires=5)
    s.description, s.tags, s.paused = "Nightly backup", ["ops", "db"], True
    added = store.schedule_add(s)
    got = store.schedule_get("nightly")
    assert got == added
    assert got.version == 1
    assert before - 1 <= got.created_at == got.updated_at <= store.now() + 1
    assert got.trigger == {"kind": "cron", "expr": "0 2 * * *", "tz": "Asia/Shanghai"}
    assert (got.args, got.kwargs, got.tags, got.paused) == ([1, "two"], {"k": "v"}, ["ops", "db"],
                                                            True)
    assert got.policies == s.policies
    assert got.next_fire_at == before + 3600
    assert (got.fires, got.missed, got.skipped, got.successes, got.failures) == (0, 0, 0, 0, 0)


def test_get_unknown_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.schedule_get("nope")


def test_duplicate_id_is_a_conflict_and_changes_nothing(store: Store) -> None:
    first = store.schedule_add(schedule("a", task="first", next_fire_at=store.now() + 10))
    mark = _mark(store)
    with pytest.raises(Conflict):
        store.schedule_add(schedule("a", task="second", next_fire_at=store.now() + 99))
    assert store.schedule_get("a") == first
    assert store.schedule_count() == 1
    assert _mark(store) == mark


def test_list_orders_by_id_filters_and_pages(store: Store) -> None:
    for sid, task in [("c", "mail"), ("a", "scan"), ("e", "scan"), ("b", "mail"), ("d", "scan")]:
        store.schedule_add(schedule(sid, task=task, next_fire_at=store.now() + 60))
    paused = store.schedule_get("d")
    paused.paused = True
    store.schedule_replace(paused)

    assert [s.id for s in store.schedule_list()] == ["a", "b", "c", "d", "e"]
    assert [s.id for s in store.schedule_list(task="scan")] == ["a", "d", "e"]
    assert [s.id for s in store.schedule_list(paused=True)] == ["d"]
    assert [s.id for s in store.schedule_list(paused=False, task="scan")] == ["a", "e"]
    pages, cursor = [], None
    while True:
        page = store.schedule_list(after_id=cursor, limit=2)
        if not page:
            break
        pages.append([s.id for s in page])
        cursor = page[-1].id
    assert pages == [["a", "b"], ["c", "d"], ["e"]]
    assert store.schedule_list(task="nothing") == []


def test_search_matches_id_task_and_description_alike_on_every_backend(store: Store) -> None:
    store.schedule_add(schedule("nightly-backup", task="db.dump"))
    s = schedule("scan_lan", task="scan.nmap")
    s.description = "Weekly Network scan"
    store.schedule_add(s)
    store.schedule_add(schedule("report", task="mail.send"))

    def ids(search: str) -> list[str]:
        return [x.id for x in store.schedule_list(search=search)]

    assert ids("backup") == ["nightly-backup"]
    assert ids("nmap") == ["scan_lan"]
    assert ids("network") == ["scan_lan"]  # the same answer whatever the backend's LIKE
    assert ids("NIGHTLY") == ["nightly-backup"]
    # LIKE wildcards typed by a person are plain characters
    assert ids("_") == ["scan_lan"]
    assert ids("%") == []
    assert ids("") == ["nightly-backup", "report", "scan_lan"]
    s = schedule("école")
    s.description = "Relevé Été"
    store.schedule_add(s)
    assert ids("école") == ids("Relevé") == ids("levé É") == ["école"]  # exact non-ASCII
    assert ids("!") == []


def test_replace_bumps_version_and_keeps_counters(store: Store) -> None:
    add_due(store, "s", overlap=Overlap.ALLOW)
    store.schedules_fire_due(planner)
    fired = store.schedule_get("s")
    assert fired.fires == 1

    edit = store.schedule_get("s")
    edit.task, edit.kwargs, edit.description = "other", {"x": 2}, "edited"
    edit.trigger = interval(5).to_dict()
    edit.policies = Policies(retries=2)
    edit.fires, edit.successes = 99, 99  # counters are not editable
    edit.next_fire_at = fired.next_fire_at + 1
    out = store.schedule_replace(edit, expected_version=fired.version)
    assert out == store.schedule_get("s")
    assert out.version == fired.version + 1
    assert (out.task, out.kwargs, out.description) == ("other", {"x": 2}, "edited")
    assert out.trigger == interval(5).to_dict()
    assert out.policies == Policies(retries=2)
    assert out.next_fire_at == fired.next_fire_at + 1
    assert (out.fires, out.successes) == (1, 0)
    assert out.created_at == fired.created_at
    assert out.updated_at >= fired.updated_at


def test_replace_with_a_stale_version_is_a_conflict_and_changes_nothing(store: Store) -> None:
    store.schedule_add(schedule("s"))
    first = store.schedule_get("s")
    first.description = "one"
    store.schedule_replace(first, expected_version=1)
    stored = store.schedule_get("s")
    mark = _mark(store)
    stale = store.schedule_get("s")
    stale.description = "lost update"
    with pytest.raises(Conflict):
        store.schedule_replace(stale, expected_version=1)
    assert store.schedule_get("s") == stored
    assert _mark(store) == mark


def test_replace_unknown_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.schedule_replace(schedule("ghost"))
    with pytest.raises(NotFound):
        store.schedule_replace(schedule("ghost"), expected_version=1)
    assert store.schedule_count() == 0


def test_delete_removes_the_schedule_and_keeps_its_runs(store: Store) -> None:
    add_due(store, "s")
    store.schedules_fire_due(planner)
    store.schedule_add(schedule("keep"))
    store.schedule_delete("s")
    with pytest.raises(NotFound):
        store.schedule_get("s")
    assert [s.id for s in store.schedule_list()] == ["keep"]
    assert [r.schedule_id for r in store.run_list()] == ["s"]
    with pytest.raises(NotFound):
        store.schedule_delete("s")


def _mark(store: Store) -> int | None:
    """The SQLite change counter; PostgreSQL has none (NOTIFY carries changes)."""
    return None if store.dialect == "postgres" else store.schedules_changed_mark()


def test_change_mark_grows_on_every_schedule_write_and_not_on_fires(store: Store) -> None:
    if store.dialect == "postgres":
        with pytest.raises(NotImplementedError):
            store.schedules_changed_mark()
        pytest.skip("PostgreSQL keeps no change counter: schedule writes notify instead")
    marks = [store.schedules_changed_mark()]
    add_due(store, "s", overlap=Overlap.ALLOW)
    marks.append(store.schedules_changed_mark())
    s = store.schedule_get("s")
    s.paused = False
    store.schedule_replace(s)
    marks.append(store.schedules_changed_mark())
    store.schedule_add(schedule("t"))
    marks.append(store.schedules_changed_mark())
    assert marks == sorted(set(marks)), marks  # strictly growing

    assert store.schedules_fire_due(planner).fires == 1
    assert store.schedules_changed_mark() == marks[-1]

    store.schedule_delete("t")
    assert store.schedules_changed_mark() > marks[-1]


def test_next_due_is_the_earliest_unpaused_fire(store: Store) -> None:
    assert store.schedules_next_due() is None
    now = store.now()
    store.schedule_add(schedule("late", next_fire_at=now + 50))
    store.schedule_add(schedule("soon", next_fire_at=now + 20))
    paused = schedule("paused", next_fire_at=now + 1)
    paused.paused = True
    store.schedule_add(paused)
    store.schedule_add(schedule("never", next_fire_at=None))
    assert store.schedules_next_due() == now + 20
