"""Events: a client following /api/v1/events sees a run go queued -> running -> progress ->
succeeded, in order, and resumes after a dropped connection without losing an event."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from horae.api.events import deliverable
from horae.store.api_store import Event
from tests.api.conftest import Clients, LiveServer
from tests.conftest import eventually


def sse_events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """Parse a text/event-stream into {id, event, data} dicts (comments skipped)."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if "data" in fields:
                yield {"id": fields.get("id"), "event": fields.get("event", "message"),
                       "data": json.loads(fields["data"])}
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value


def read_until(server: LiveServer, headers: dict[str, str], run_id: int | None,
               stop: Callable[[dict[str, Any]], bool],
               on_open: Callable[[], Any] | None = None) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    with httpx.stream("GET", f"{server.url}/api/v1/events?kind=run",
                      headers=server.headers | headers | {"Accept": "text/event-stream"},
                      timeout=httpx.Timeout(20.0)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        if on_open is not None:
            run_id = on_open()
        for event in sse_events(response):
            if event["data"]["run_id"] != run_id:
                continue
            got.append(event)
            if stop(event):
                break  # leaving the block drops the connection
    return got


def states(events: list[dict[str, Any]]) -> list[str]:
    out = []
    for e in events:
        if e["event"] == "run.state":
            out.append(e["data"]["data"]["state"])
        elif e["event"] == "run.progress":
            out.append(f"progress {e['data']['data']['progress']}")
    return out


@pytest.mark.system
def test_follower_sees_every_state_in_order_and_resumes_after_a_drop(
        live_server: Callable[..., LiveServer], shared_db_url: str, tmp_path: Path) -> None:
    server = live_server(shared_db_url)
    gate = tmp_path / "gate"
    run: dict[str, Any] = {}

    def start_run() -> int:
        response = httpx.post(f"{server.url}/api/v1/runs", headers=server.headers,
                              json={"task": "gated", "kwargs": {"gate": str(gate)}})
        assert response.status_code == 201, response.text
        run.update(response.json())
        return int(run["id"])

    first = read_until(server, {}, None, lambda e: e["event"] == "run.progress",
                       on_open=start_run)
    assert states(first) == ["queued", "running", "progress 0.5"]
    last_id = first[-1]["id"]

    gate.touch()  # the run finishes while nobody listens

    def finished() -> bool:
        r = httpx.get(f"{server.url}/api/v1/runs/{run['id']}", headers=server.headers)
        return bool(r.json()["state"] == "succeeded")

    eventually(finished, timeout=30)
    rest = read_until(server, {"Last-Event-ID": last_id}, run["id"],
                      lambda e: e["event"] == "run.state"
                      and e["data"]["data"]["state"] == "succeeded")
    assert states(first + rest) == ["queued", "running", "progress 0.5", "succeeded"]
    ids = [int(e["id"]) for e in first + rest]
    assert ids == sorted(set(ids)), "in order, no duplicates"
    # Nothing lost: the stream saw exactly what the event log holds for this run.
    page = httpx.get(f"{server.url}/api/v1/events", params={"after": 0, "run": run["id"],
                                                            "limit": 1000},
                     headers=server.headers).json()
    assert [e["id"] for e in page["items"] if e["id"] <= ids[-1]] == ids
    logs = [e["data"]["message"] for e in page["items"] if e["kind"] == "run.log"]
    assert any("started" in m for m in logs) and any("gate opened" in m for m in logs)


def test_events_page_and_filters(clients: Clients) -> None:
    h = clients.horae
    h.schedules.add("s1", "scan", {"kind": "interval", "seconds": 60}, kwargs={"targets": []})
    run = h.runs.create("scan", kwargs={"targets": []})
    h.runs.cancel(run.id)
    viewer = clients["viewer"]
    everything = viewer.get("/api/v1/events").json()
    kinds = [(e["kind"], e["data"].get("state")) for e in everything["items"]]
    assert kinds == [("schedule.created", None), ("run.state", "queued"),
                     ("run.state", "cancelled")]
    assert everything["last_id"] == everything["items"][-1]["id"]
    runs_only = viewer.get("/api/v1/events", params={"kind": "run", "run": run.id}).json()
    assert [e["data"]["state"] for e in runs_only["items"]] == ["queued", "cancelled"]
    after = viewer.get("/api/v1/events", params={"after": everything["last_id"]}).json()
    assert after == {"items": [], "last_id": everything["last_id"]}
    paged = viewer.get("/api/v1/events", params={"limit": 2}).json()
    assert len(paged["items"]) == 2
    rest = viewer.get("/api/v1/events", params={"after": paged["last_id"]}).json()
    assert [e["id"] for e in paged["items"] + rest["items"]] == \
        [e["id"] for e in everything["items"]]


def test_a_worker_gone_is_an_event_and_a_kind_filter(clients: Clients) -> None:
    from horae.models import WorkerInfo

    store = clients.horae.store
    store.worker_register(WorkerInfo("w-silent", "host-a", 1, ["default"], 1))
    registered = store.workers_list()[0].heartbeat_at
    eventually(lambda: store.now() > registered)  # the database clock moves past it
    assert store.workers_mark_gone(0.0) == ["w-silent"]
    viewer = clients["viewer"]
    gone = viewer.get("/api/v1/events", params={"kind": "worker"}).json()["items"]
    assert [(e["kind"], e["data"]["worker_id"]) for e in gone] == [("worker.gone",
                                                                    "w-silent")]
    assert viewer.get("/api/v1/events", params={"kind": "worker.gone"}).json()["items"] == gone


def _ev(id: int, ts: float) -> Event:
    return Event(id, ts, "run.state", 1, None, {})


def test_a_hole_in_the_ids_is_waited_for_until_it_is_old() -> None:
    events = [_ev(1, 100.0), _ev(2, 100.0), _ev(4, 100.5), _ev(5, 101.0)]
    # Event 3 may belong to a transaction still committing: hold 4 and 5 back.
    assert [e.id for e in deliverable(0, events, now=101.0, gap_timeout=5)] == [1, 2]
    # Once the event after the hole is older than the timeout, the hole is a rollback.
    assert [e.id for e in deliverable(0, events, now=106.0, gap_timeout=5)] == [1, 2, 4, 5]
    # Resuming from an old cursor whose followers were pruned long ago does not wait.
    assert [e.id for e in deliverable(0, [_ev(50, 1.0)], now=106.0, gap_timeout=5)] == [50]
