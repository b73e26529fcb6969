"""Optimistic concurrency (ETag / If-Match) and idempotent creation, on every backend."""

from __future__ import annotations

import threading
from typing import Any

from tests.api.conftest import Clients

BODY: dict[str, Any] = {"id": "s1", "task": "scan", "kwargs": {"targets": ["a"]},
                        "trigger": {"kind": "cron", "expr": "0 2 * * *"}}


def test_lost_update_two_clients_same_etag_one_wins_the_other_gets_412(
        clients: Clients) -> None:
    editor = clients["editor"]
    for round_ in range(5):
        sid = f"race{round_}"
        created = editor.post("/api/v1/schedules", json=BODY | {"id": sid})
        etag = created.headers["etag"]
        assert etag == '"1"'
        barrier = threading.Barrier(2)
        results: dict[str, Any] = {}

        def patch(name: str, sid: str = sid, etag: str = etag,
                  barrier: threading.Barrier = barrier, results: dict[str, Any] = results
                  ) -> None:
            client = clients.client(clients.tokens["editor"])
            barrier.wait()
            results[name] = client.patch(f"/api/v1/schedules/{sid}", headers={"If-Match": etag},
                                         json={"description": name})

        threads = [threading.Thread(target=patch, args=(n,)) for n in ("alice", "bob")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        codes = sorted(r.status_code for r in results.values())
        assert codes == [200, 412], {n: r.text for n, r in results.items()}
        winner = next(n for n, r in results.items() if r.status_code == 200)
        loser = results["bob" if winner == "alice" else "alice"]
        assert loser.headers["content-type"].startswith("application/problem+json")
        current = editor.get(f"/api/v1/schedules/{sid}")
        assert current.json()["description"] == winner
        assert current.headers["etag"] == '"2"' == results[winner].headers["etag"]


def test_stale_etag_is_412_for_put_and_delete_and_changes_nothing(clients: Clients) -> None:
    editor = clients["editor"]
    editor.post("/api/v1/schedules", json=BODY)
    assert editor.patch("/api/v1/schedules/s1", json={"description": "v2"},
                        headers={"If-Match": '"1"'}).status_code == 200
    stale = {"If-Match": '"1"'}
    whole = {k: v for k, v in BODY.items() if k != "id"}
    assert editor.put("/api/v1/schedules/s1", json=whole, headers=stale).status_code == 412
    assert editor.delete("/api/v1/schedules/s1", headers=stale).status_code == 412
    assert editor.patch("/api/v1/schedules/s1", json={"description": "x"},
                        headers={"If-Match": "garbage"}).status_code == 412
    assert clients.horae.schedules.get("s1").description == "v2"
    assert editor.delete("/api/v1/schedules/s1", headers={"If-Match": 'W/"2"'}).status_code == 204
    assert editor.get("/api/v1/schedules/s1").status_code == 404


def test_put_resets_what_it_leaves_out(clients: Clients) -> None:
    editor = clients["editor"]
    editor.post("/api/v1/schedules", json=BODY | {"description": "d", "tags": ["t"],
                                                  "policies": {"retries": 3, "jitter": 5}})
    whole = {"task": "scan", "kwargs": {"targets": ["b"]},
             "trigger": {"kind": "interval", "seconds": 30}}
    replaced = editor.put("/api/v1/schedules/s1", json=whole, headers={"If-Match": '"1"'})
    assert replaced.status_code == 200, replaced.text
    data = replaced.json()
    assert (data["description"], data["tags"], data["kwargs"]) == ("", [], {"targets": ["b"]})
    assert (data["policies"]["retries"], data["policies"]["jitter"]) == (0, 0.0)
    assert data["trigger"]["kind"] == "interval" and data["version"] == 2


def test_idempotency_key_creates_once_and_replays_the_answer(clients: Clients) -> None:
    operator, editor = clients["operator"], clients["editor"]
    key = {"Idempotency-Key": "create-s1"}
    first = editor.post("/api/v1/schedules", json=BODY, headers=key)
    again = editor.post("/api/v1/schedules", json=BODY, headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again.headers["etag"] == first.headers["etag"]
    assert again.headers["idempotent-replayed"] == "true"
    assert clients.horae.store.schedule_count() == 1
    # The same key for another request is refused; without a key, a duplicate id conflicts.
    other = editor.post("/api/v1/schedules", json=BODY | {"id": "s2"}, headers=key)
    assert other.status_code == 422
    assert editor.post("/api/v1/schedules", json=BODY).status_code == 409
    # Ad-hoc runs and triggers: one run per key.
    run_key = {"Idempotency-Key": "run-1"}
    body = {"task": "scan", "kwargs": {"targets": ["a"]}}
    ids = {operator.post("/api/v1/runs", json=body, headers=run_key).json()["id"]
           for _ in range(3)}
    fired = {operator.post("/api/v1/schedules/s1/trigger", headers={"Idempotency-Key": "t1"})
             .json()["id"] for _ in range(3)}
    assert len(ids) == 1 and len(fired) == 1
    assert len(clients.horae.runs.list()) == 2
    # A failed request does not burn its key: the fixed retry runs.
    bad = operator.post("/api/v1/runs", json={"task": "scan"}, headers={"Idempotency-Key": "k"})
    assert bad.status_code == 422
    good = operator.post("/api/v1/runs", json=body, headers={"Idempotency-Key": "k"})
    assert good.status_code == 201
    reused = operator.post("/api/v1/runs", json={"task": "scan"},
                           headers={"Idempotency-Key": "k"})
    assert reused.status_code == 422
    assert reused.json()["errors"][0]["field"] == "Idempotency-Key"
