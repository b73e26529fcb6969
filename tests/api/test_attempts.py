"""GET /runs/{id}/attempts: every attempt of a retried run with its own error and logs."""

from __future__ import annotations

import time

from horae.models import LogLine, RunState
from tests.api.conftest import Clients


def test_attempts_of_a_retried_run_and_their_logs(clients: Clients) -> None:
    store = clients.horae.store
    viewer = clients["viewer"]
    run = clients.horae.runs.create("scan", kwargs={"targets": []}, retries=1)
    assert viewer.get(f"/api/v1/runs/{run.id}/attempts").json() == {"items": []}
    [first] = store.runs_claim("w1", [run.queue], 1, 30.0)
    assert store.run_finish(first, "w1", RunState.RETRYING, error="OSError: down",
                            logs=[LogLine(run.id, time.time(), "ERROR", "first")])
    with store.db.write() as tx:   # skip the backoff
        tx.run("UPDATE horae_runs SET not_before = 0 WHERE id = :id", {"id": run.id})
    [second] = store.runs_claim("w2", [run.queue], 1, 30.0)
    assert store.run_finish(second, "w2", RunState.SUCCEEDED, result=None,
                            logs=[LogLine(run.id, time.time(), "INFO", "second")])
    items = viewer.get(f"/api/v1/runs/{run.id}/attempts").json()["items"]
    assert [(a["attempt"], a["state"], a["worker_id"], a["error"]) for a in items] == [
        (1, "failed", "w1", "OSError: down"), (2, "succeeded", "w2", None)]
    assert all(a["started_at"].endswith("Z") and a["duration"] >= 0 for a in items)
    logs = viewer.get(f"/api/v1/runs/{run.id}/logs").json()["items"]
    assert [(x["attempt"], x["message"]) for x in logs] == [(1, "first"), (2, "second")]
    assert viewer.get("/api/v1/runs/999999/attempts").status_code == 404
    assert clients.anonymous.get(f"/api/v1/runs/{run.id}/attempts").status_code == 401
