"""The console's lists over the API: schedule filters (queue, tag, failing), next-fire
order and its cursor, each schedule's last run and its duration, and GET /stats."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from horae.models import RunState
from horae.store import Finish
from tests.api.conftest import Clients


def _add(clients: Clients, sid: str, **extra: Any) -> None:
    clients.horae.schedules.add(sid, "scan", {"kind": "cron", "expr": "0 2 * * *",
                                              "tz": "Europe/Berlin"},
                                kwargs={"targets": ["a"]}, **extra)


def _walk(clients: Clients, limit: int, **params: Any) -> list[str]:
    """Every id of a listing, page by page."""
    seen: list[str] = []
    cursor = None
    for _ in range(100):
        page = clients["viewer"].get(
            "/api/v1/schedules", params=params | {"limit": limit}
            | ({"cursor": cursor} if cursor else {})).json()
        seen += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("the cursor never ended")


def _run_to_end(clients: Clients, sid: str, state: RunState) -> int:
    """One run of ``sid`` through a real claim and finish; returns its id."""
    store = clients.horae.store
    run = clients.horae.schedules.trigger_now(sid)
    claimed = store.runs_claim("w1", [run.queue], 10, 30.0)
    assert [r.id for r in claimed] == [run.id]
    assert store.runs_finish("w1", [Finish(claimed[0], state, error="boom"
                                            if state is not RunState.SUCCEEDED else None)])
    return run.id


def test_queue_tag_and_failing_filters(clients: Clients) -> None:
    _add(clients, "a", queue="reports", tags=["nightly", "team-x"])
    _add(clients, "b", queue="reports", tags=["nightly-2"])
    _add(clients, "c", tags=["team-x"])
    _add(clients, "d", queue="reports", paused=True, tags=['quote"d', "team-x"])
    ok = _run_to_end(clients, "a", RunState.SUCCEEDED)
    bad = _run_to_end(clients, "c", RunState.FAILED)
    viewer = clients["viewer"]

    def ids(**params: Any) -> list[str]:
        r = viewer.get("/api/v1/schedules", params=params)
        assert r.status_code == 200, r.text
        return [s["id"] for s in r.json()["items"]]

    assert ids(queue="reports") == ["a", "b", "d"]
    assert ids(queue="default") == ["c"]
    assert ids(tag="nightly") == ["a"], "a tag matches whole, not as a prefix"
    assert ids(tag="team-x") == ["a", "c", "d"]
    assert ids(tag='quote"d') == ["d"]
    assert ids(tag="team") == []
    assert ids(failing="true") == ["c"]
    assert ids(failing="false") == ["a", "b", "d"]
    assert ids(queue="reports", tag="team-x", paused="false") == ["a"]
    assert ids(tag="team-x", failing="true", order="next_fire") == ["c"]
    assert _walk(clients, 1, tag="team-x") == ["a", "c", "d"]

    items = {s["id"]: s for s in viewer.get("/api/v1/schedules").json()["items"]}
    assert items["a"]["last_run_id"] == ok and items["a"]["last_state"] == "succeeded"
    assert items["c"]["last_run_id"] == bad and items["c"]["last_state"] == "failed"
    assert items["b"]["last_run_id"] is None and items["b"]["last_duration"] is None
    run = viewer.get(f"/api/v1/runs/{bad}").json()
    assert items["c"]["last_duration"] == pytest.approx(run["duration"], abs=1e-3)
    assert items["c"]["last_run_at"] == run["finished_at"]
    assert 0 <= items["c"]["last_duration"] < 10


def test_last_run_is_the_latest_outcome_even_among_many_runs(clients: Clients) -> None:
    _add(clients, "many")
    ids = [_run_to_end(clients, "many", st) for st in
           (RunState.FAILED, RunState.SUCCEEDED, RunState.FAILED)]
    cancelled = clients.horae.schedules.trigger_now("many")
    clients.horae.runs.cancel(cancelled.id)
    item = clients["viewer"].get("/api/v1/schedules").json()["items"][0]
    assert (item["last_run_id"], item["last_state"]) == (cancelled.id, "cancelled")
    assert item["last_duration"] is None, "it never started"
    assert ids[-1] < cancelled.id
    assert clients["viewer"].get("/api/v1/schedules", params={"failing": "true"}).json()[
        "items"] == []


def test_next_fire_order_pages_through_every_schedule_once(clients: Clients) -> None:
    h = clients.horae
    # Ties on the same instant, different instants, paused, and no next fire (a date past).
    for i in range(5):
        h.schedules.add(f"t{i}", "scan", {"kind": "cron", "expr": "0 3 * * *"},
                        kwargs={"targets": []})
    h.schedules.add("soon", "scan", {"kind": "interval", "seconds": 60}, kwargs={"targets": []})
    h.schedules.add("later", "scan", {"kind": "interval", "seconds": 86400 * 3},
                    kwargs={"targets": []})
    h.schedules.add("p1", "scan", {"kind": "interval", "seconds": 30}, kwargs={"targets": []},
                    paused=True)
    h.schedules.add("p0", "scan", {"kind": "interval", "seconds": 30}, kwargs={"targets": []},
                    paused=True)
    with h.store.db.write() as tx:  # a schedule whose trigger is exhausted
        tx.run("UPDATE horae_schedules SET next_fire_at = NULL WHERE id = 't4'")
    everything = h.store.schedule_list(limit=100)
    active = sorted((s for s in everything if not s.paused and s.next_fire_at is not None),
                    key=lambda s: (s.next_fire_at, s.id))
    expected = [s.id for s in active] + ["t4", "p0", "p1"]
    assert expected[0] == "soon"
    for limit in (1, 2, 3, 100):
        assert _walk(clients, limit, order="next_fire") == expected, limit
    assert _walk(clients, 2, order="next_fire", paused="true") == ["p0", "p1"]
    assert _walk(clients, 2, order="next_fire", paused="false") == expected[:-2]
    first = clients["viewer"].get("/api/v1/schedules",
                                  params={"order": "next_fire", "limit": 1}).json()
    fires = [datetime.fromisoformat(s["next_fire_at"]) for s in first["items"]]
    assert fires == sorted(fires)


@pytest.mark.parametrize(("params", "field"), [
    ({"order": "soonest"}, "order"),
    ({"failing": "maybe"}, "failing"),
    ({"queue": "q" * 101}, "queue"),
    ({"tag": "t" * 101}, "tag"),
    ({"order": "next_fire", "cursor": "not-a-cursor"}, "cursor"),
    ({"order": "next_fire", "cursor": "WzMsbnVsbCwiYSJd"}, "cursor"),  # [3,null,"a"]
    ({"order": "next_fire", "cursor": "WzAsbnVsbCwiYSJd"}, "cursor"),  # [0,null,"a"]
    ({"cursor": "c" * 401}, "cursor"),
])
def test_bad_list_parameters_are_422_naming_the_field(clients: Clients, params: dict[str, Any],
                                                      field: str) -> None:
    r = clients["viewer"].get("/api/v1/schedules", params=params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in r.json()["errors"]] == [field]


def test_stats_counts_rates_next_fires_and_failing(clients: Clients) -> None:
    h = clients.horae
    _add(clients, "good")
    _add(clients, "bad")
    _add(clients, "off", paused=True)
    h.schedules.add("soon", "scan", {"kind": "interval", "seconds": 60}, kwargs={"targets": []})
    _run_to_end(clients, "good", RunState.SUCCEEDED)
    _run_to_end(clients, "good", RunState.SUCCEEDED)
    _run_to_end(clients, "bad", RunState.FAILED)
    h.runs.create("scan", kwargs={"targets": []})
    h.runs.create("scan", kwargs={"targets": []}, delay=3600)
    old = h.runs.create("scan", kwargs={"targets": []})
    h.runs.cancel(old.id)
    with h.store.db.write() as tx:  # finished five hours ago: outside a 3-hour window
        tx.run("UPDATE horae_runs SET finished_at = finished_at - 5 * 3600 WHERE id = :id",
               {"id": old.id})
    r = clients["viewer"].get("/api/v1/stats")
    assert r.status_code == 200, r.text
    st = r.json()
    assert st["hours"] == 3
    assert st["active"] == {"scheduled": 1, "queued": 1, "retrying": 0, "running": 0}
    assert st["finished"]["succeeded"] == 2 and st["finished"]["failed"] == 1
    assert st["finished"]["cancelled"] == 0, "finished before the window"
    rates = st["per_minute"]
    assert rates["step"] == 60 and len(rates["succeeded"]) == len(rates["failed"])
    assert 180 <= len(rates["succeeded"]) <= 181
    assert (sum(rates["succeeded"]), sum(rates["failed"])) == (2, 1)
    assert rates["succeeded"][-1] + rates["succeeded"][-2] == 2, "the latest minutes"
    start = datetime.fromisoformat(rates["start"])
    assert start.second == 0 and datetime.fromisoformat(st["now"]) > start
    assert (st["schedules"], st["paused"], st["failing"]) == (4, 1, 1)
    assert st["next_fires"][0]["id"] == "soon"
    assert "off" not in [s["id"] for s in st["next_fires"]]
    assert [s["id"] for s in st["failing_schedules"]] == ["bad"]
    assert st["failing_schedules"][0]["last_state"] == "failed"
    wide = clients["viewer"].get("/api/v1/stats", params={"hours": 6, "top": 1}).json()
    assert wide["finished"]["cancelled"] == 1 and len(wide["next_fires"]) == 1
    for bad in ({"hours": 0}, {"hours": 25}, {"top": 0}, {"hours": "x"}):
        r = clients["viewer"].get("/api/v1/stats", params=bad)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == next(iter(bad))
    assert clients.anonymous.get("/api/v1/stats").status_code == 401


@pytest.mark.parametrize("dense", [False, True])
def test_runs_by_finished_time(clients: Clients, dense: bool,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    from horae.store.run_queries import RunQueries

    if dense:  # the id walk that SQLite takes for a window of many runs
        monkeypatch.setattr(RunQueries, "_DENSE", 1)
    _add(clients, "f")
    done = [_run_to_end(clients, "f", RunState.SUCCEEDED) for _ in range(3)]
    waiting = clients.horae.runs.create("scan", kwargs={"targets": []})
    with clients.horae.store.db.write() as tx:  # the oldest finished a day ago
        tx.run("UPDATE horae_runs SET finished_at = finished_at - 86400 WHERE id = :id",
               {"id": done[0]})
    now = clients.horae.store.now()
    viewer = clients["viewer"]

    def ids(**params: Any) -> list[int]:
        r = viewer.get("/api/v1/runs", params=params)
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["items"]]

    assert ids(finished_since=repr(now - 3600)) == done[:0:-1]
    assert ids(finished_until=repr(now - 3600)) == [done[0]]
    assert ids(finished_since=repr(now - 2 * 86400), finished_until=repr(now + 60)) == \
        done[::-1]
    assert waiting.id not in ids(finished_since="0"), "a run that has not finished"
    page = viewer.get("/api/v1/runs", params={"finished_since": "0", "limit": 2}).json()
    assert [x["id"] for x in page["items"]] == done[:0:-1]
    rest = ids(finished_since="0", cursor=page["next_cursor"])
    assert rest == [done[0]]
    assert ids(finished_since="2999-01-01T00:00:00Z") == []
    bad = viewer.get("/api/v1/runs", params={"finished_until": "yesterday"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "finished_until"


def test_server_timing_header_on_api_and_pages(horae_app: Any) -> None:
    from starlette.testclient import TestClient

    from horae.api import create_app
    from horae.api.timing import ServerTiming

    app = create_app(horae_app)
    client = TestClient(ServerTiming(app))
    for path in ("/api/v1/health", "/api/v1/schedules", "/nowhere"):
        value = client.get(path).headers["server-timing"]
        assert value.startswith("app;dur=") and float(value.split("=")[1]) >= 0
