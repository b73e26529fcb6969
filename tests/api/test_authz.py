"""Authorisation matrix: every endpoint x every role x no token, with the expected status.

The expected roles are written here, not read from the code, so a wrong role in the code
fails a test. Refused calls change nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from horae import Horae
from horae.api import ApiSettings
from horae.api.auth import Role, mint_token
from horae.store.user_store import UserStore
from tests.api.apps import register
from tests.api.conftest import ROLES, Clients, snapshot

# operationId -> the least role that may call it (None: open to everyone).
EXPECTED: dict[str, str | None] = {
    "health": None, "healthLive": None, "healthReady": None,
    "listSchedules": "viewer", "getSchedule": "viewer", "previewSchedule": "viewer",
    "explainSchedule": "viewer",
    "createSchedule": "editor", "patchSchedule": "editor", "replaceSchedule": "editor",
    "deleteSchedule": "editor", "batchSchedules": "editor",
    "pauseSchedule": "operator", "resumeSchedule": "operator", "triggerSchedule": "operator",
    "createBackfill": "editor", "listBackfills": "viewer", "cancelBackfill": "operator",
    "listRuns": "viewer", "getRun": "viewer", "getRunLogs": "viewer", "getStats": "viewer",
    "listRunAttempts": "viewer",
    "createRun": "operator", "cancelRun": "operator", "retryRun": "operator",
    "cancelRuns": "operator", "retryRuns": "operator", "pauseSchedules": "operator",
    "resumeSchedules": "operator",
    "listTasks": "viewer", "getTask": "viewer", "listWorkers": "viewer", "listQueues": "viewer",
    "listAudit": "viewer", "listEvents": "viewer",
    "listTokens": "admin", "createToken": "admin", "revokeToken": "admin",
    "listUsers": "admin", "createUser": "admin", "getUser": "admin", "patchUser": "admin",
    "disableUser": "admin", "setUserPassword": "admin",
    "listWorkflows": "viewer", "getWorkflow": "viewer", "listWorkflowVersions": "viewer",
    "createWorkflow": "editor", "replaceWorkflow": "editor", "patchWorkflow": "editor",
    "deleteWorkflow": "editor",
    "runWorkflow": "operator",
    "listChannels": "admin", "createChannel": "admin", "getChannel": "admin",
    "patchChannel": "admin", "deleteChannel": "admin", "testChannel": "admin",
    "getOpenApi": "viewer", "getDocs": "viewer",
}
SUCCESS = {"createSchedule": 201, "deleteSchedule": 204, "triggerSchedule": 201,
           "createRun": 201, "retryRun": 201, "createToken": 201, "createUser": 201,
           "createWorkflow": 201, "deleteWorkflow": 204, "runWorkflow": 201,
           "createBackfill": 201, "createChannel": 201, "deleteChannel": 204}
_seq = itertools.count()


def _schedule(h: Horae) -> str:
    sid = f"m{next(_seq)}"
    h.schedules.add(sid, "scan", {"kind": "interval", "seconds": 60},
                    kwargs={"targets": ["a"]})
    return sid


_STEPS = [{"id": "a", "task": "scan", "kwargs": {"targets": ["x"]}}]


def _workflow(h: Horae) -> str:
    wid = f"w{next(_seq)}"
    h.workflows.add(wid, {"steps": _STEPS})
    return wid


def _runnable(h: Horae) -> str:
    wid = f"wr{next(_seq)}"
    h.workflows.add(wid, {"steps": [{"id": "a", "task": "scan", "kwargs": {"targets": []}}]})
    return wid


def _channel(h: Horae) -> int:
    # Port 9 (discard) on loopback refuses at once: a test send fails fast, answered 200.
    return h.channels.add(f"ch{next(_seq)}", "webhook", {"url": "http://127.0.0.1:9/"},
                          {"signing_secret": "s"}).id


def _run(h: Horae, finished: bool = False) -> int:
    run = h.runs.create("scan", kwargs={"targets": ["a"]})
    if finished:
        h.runs.cancel(run.id)
    return run.id


Request = tuple[str, str, Any]
BUILDERS: dict[str, Callable[[Clients], Request]] = {
    "health": lambda c: ("GET", "/api/v1/health", None),
    "healthLive": lambda c: ("GET", "/api/v1/health/live", None),
    "healthReady": lambda c: ("GET", "/api/v1/health/ready", None),
    "listSchedules": lambda c: ("GET", "/api/v1/schedules", None),
    "getSchedule": lambda c: ("GET", f"/api/v1/schedules/{_schedule(c.horae)}", None),
    "previewSchedule": lambda c: ("GET", f"/api/v1/schedules/{_schedule(c.horae)}/preview",
                                  None),
    "explainSchedule": lambda c: ("GET", f"/api/v1/schedules/{_schedule(c.horae)}/explain",
                                  None),
    "createSchedule": lambda c: ("POST", "/api/v1/schedules", {
        "id": f"new{next(_seq)}", "task": "scan", "kwargs": {"targets": ["a"]},
        "trigger": {"kind": "date", "at": "2099-01-01T00:00:00Z"}}),
    "batchSchedules": lambda c: ("POST", "/api/v1/schedules:batch", {"atomic": True,
        "operations": [{"op": "add", "id": f"new{next(_seq)}", "task": "scan",
                        "kwargs": {"targets": ["a"]},
                        "trigger": {"kind": "interval", "seconds": 60}}]}),
    "patchSchedule": lambda c: ("PATCH", f"/api/v1/schedules/{_schedule(c.horae)}",
                                {"description": "changed"}),
    "replaceSchedule": lambda c: ("PUT", f"/api/v1/schedules/{_schedule(c.horae)}", {
        "task": "scan", "kwargs": {"targets": ["b"]},
        "trigger": {"kind": "cron", "expr": "0 3 * * *"}}),
    "deleteSchedule": lambda c: ("DELETE", f"/api/v1/schedules/{_schedule(c.horae)}", None),
    "pauseSchedule": lambda c: ("POST", f"/api/v1/schedules/{_schedule(c.horae)}/pause", None),
    "resumeSchedule": lambda c: ("POST", f"/api/v1/schedules/{_schedule(c.horae)}/resume",
                                 None),
    "triggerSchedule": lambda c: ("POST", f"/api/v1/schedules/{_schedule(c.horae)}/trigger",
                                  None),
    "createBackfill": lambda c: ("POST", f"/api/v1/schedules/{_schedule(c.horae)}/backfills",
                                 {"from": 0, "to": 3600}),
    "listBackfills": lambda c: ("GET", f"/api/v1/schedules/{_schedule(c.horae)}/backfills",
                                None),
    "cancelBackfill": lambda c: ("POST", _backfill(c), None),
    "listRuns": lambda c: ("GET", "/api/v1/runs", None),
    "getStats": lambda c: ("GET", "/api/v1/stats", None),
    "getRun": lambda c: ("GET", f"/api/v1/runs/{_run(c.horae)}", None),
    "getRunLogs": lambda c: ("GET", f"/api/v1/runs/{_run(c.horae)}/logs", None),
    "listRunAttempts": lambda c: ("GET", f"/api/v1/runs/{_run(c.horae)}/attempts", None),
    "createRun": lambda c: ("POST", "/api/v1/runs", {"task": "scan",
                                                      "kwargs": {"targets": ["a"]}}),
    "cancelRun": lambda c: ("POST", f"/api/v1/runs/{_run(c.horae)}/cancel", None),
    "retryRun": lambda c: ("POST", f"/api/v1/runs/{_run(c.horae, finished=True)}/retry", None),
    "cancelRuns": lambda c: ("POST", "/api/v1/runs:cancel", {"task": "scan", "dry_run": True}),
    "retryRuns": lambda c: ("POST", "/api/v1/runs:retry", {"task": "scan", "dry_run": True}),
    "pauseSchedules": lambda c: ("POST", "/api/v1/schedules:pause", {"tag": "t"}),
    "resumeSchedules": lambda c: ("POST", "/api/v1/schedules:resume", {"tag": "t"}),
    "listTasks": lambda c: ("GET", "/api/v1/tasks", None),
    "getTask": lambda c: ("GET", "/api/v1/tasks/scan", None),
    "listWorkers": lambda c: ("GET", "/api/v1/workers", None),
    "listQueues": lambda c: ("GET", "/api/v1/queues", None),
    "listAudit": lambda c: ("GET", "/api/v1/audit", None),
    "listEvents": lambda c: ("GET", "/api/v1/events", None),
    "listTokens": lambda c: ("GET", "/api/v1/tokens", None),
    "createToken": lambda c: ("POST", "/api/v1/tokens", {"name": "x", "role": "viewer"}),
    "revokeToken": lambda c: ("DELETE", f"/api/v1/tokens/{_token(c)}", None),
    "listUsers": lambda c: ("GET", "/api/v1/users", None),
    "createUser": lambda c: ("POST", "/api/v1/users", {
        "name": f"u{next(_seq)}", "role": "viewer", "password": "correct horse battery"}),
    "getUser": lambda c: ("GET", f"/api/v1/users/{_user(c)}", None),
    "patchUser": lambda c: ("PATCH", f"/api/v1/users/{_user(c)}", {"role": "editor"}),
    "disableUser": lambda c: ("DELETE", f"/api/v1/users/{_user(c)}", None),
    "setUserPassword": lambda c: ("POST", f"/api/v1/users/{_user(c)}/password",
                                  {"password": "another long secret"}),
    "listWorkflows": lambda c: ("GET", "/api/v1/workflows", None),
    "getWorkflow": lambda c: ("GET", f"/api/v1/workflows/{_workflow(c.horae)}", None),
    "listWorkflowVersions": lambda c: (
        "GET", f"/api/v1/workflows/{_workflow(c.horae)}/versions", None),
    "createWorkflow": lambda c: ("POST", "/api/v1/workflows",
                                 {"id": f"new{next(_seq)}", "steps": _STEPS}),
    "replaceWorkflow": lambda c: ("PUT", f"/api/v1/workflows/{_workflow(c.horae)}",
                                  {"steps": _STEPS, "description": "replaced"}),
    "patchWorkflow": lambda c: ("PATCH", f"/api/v1/workflows/{_workflow(c.horae)}",
                                {"description": "changed"}),
    "deleteWorkflow": lambda c: ("DELETE", f"/api/v1/workflows/{_workflow(c.horae)}", None),
    "runWorkflow": lambda c: ("POST", f"/api/v1/workflows/{_runnable(c.horae)}/runs", None),
    "listChannels": lambda c: ("GET", "/api/v1/channels", None),
    "createChannel": lambda c: ("POST", "/api/v1/channels", {
        "name": f"new{next(_seq)}", "kind": "webhook", "config": {"url": "http://127.0.0.1:9/"}}),
    "getChannel": lambda c: ("GET", f"/api/v1/channels/{_channel(c.horae)}", None),
    "patchChannel": lambda c: ("PATCH", f"/api/v1/channels/{_channel(c.horae)}",
                               {"secrets": {"signing_secret": None}}),
    "deleteChannel": lambda c: ("DELETE", f"/api/v1/channels/{_channel(c.horae)}", None),
    "testChannel": lambda c: ("POST", f"/api/v1/channels/{_channel(c.horae)}/test", None),
    "getOpenApi": lambda c: ("GET", "/api/v1/openapi.json", None),
    "getDocs": lambda c: ("GET", "/api/v1/docs", None),
}


def _backfill(c: Clients) -> str:
    sid = f"m{next(_seq)}"
    c.horae.schedules.add(sid, "scan", {"kind": "cron", "expr": "0 * * * *"},
                          kwargs={"targets": ["a"]})
    b = c.horae.schedules.backfill(sid, 0, 7200)
    return f"/api/v1/schedules/{sid}/backfills/{b.id}/cancel"


def _token(c: Clients) -> str:
    made = mint_token(c.store, "victim", Role.VIEWER)
    assert made is not None
    return made[1].id


def _user(c: Clients) -> int:
    return UserStore(c.horae.store).user_add(f"victim{next(_seq)}", "viewer", "x").id


@pytest.fixture(scope="module")
def shared() -> Iterator[Clients]:
    h = register(Horae("sqlite:///:memory:"))
    yield Clients(h)
    h.stop()


def test_every_operation_of_the_document_is_in_the_matrix(shared: Clients) -> None:
    doc = shared["viewer"].get("/api/v1/openapi.json").json()
    ids = {op["operationId"] for item in doc["paths"].values() for op in item.values()}
    assert ids == set(EXPECTED) == set(BUILDERS)


def _state(c: Clients) -> dict[str, Any]:
    return snapshot(c.horae) | {"tokens": [(t.id, t.revoked_at)
                                           for t in c.store.tokens_list()]}


@pytest.mark.parametrize("who", [None, *ROLES])
@pytest.mark.parametrize("operation", sorted(EXPECTED))
def test_authorisation_matrix(shared: Clients, operation: str, who: str | None) -> None:
    method, path, body = BUILDERS[operation](shared)
    client = shared.anonymous if who is None else shared[who]
    least = EXPECTED[operation]
    before = _state(shared)
    response = client.request(method, path, json=body)
    if least is None or (who is not None and Role.parse(who) >= Role.parse(least)):
        assert response.status_code == SUCCESS.get(operation, 200), response.text
        return
    expected = 401 if who is None else 403
    assert response.status_code == expected, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    if expected == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert _state(shared) == before, "a refused call changed something"


def test_indirect_ways_to_start_a_run_check_the_role(shared: Clients) -> None:
    sid = _schedule(shared.horae)
    shared.horae.schedules.pause(sid)
    before = _state(shared)
    operator, viewer = shared["operator"], shared["viewer"]
    # Un-pausing through PATCH is an edit; creating a schedule that fires now is an edit.
    assert operator.patch(f"/api/v1/schedules/{sid}", json={"paused": False}).status_code == 403
    assert operator.post("/api/v1/schedules", json={
        "id": "soon", "task": "scan", "kwargs": {"targets": ["a"]},
        "trigger": {"kind": "interval", "seconds": 1}}).status_code == 403
    assert viewer.post(f"/api/v1/schedules/{sid}/resume").status_code == 403
    # A key another token used does not let a viewer replay the operator's run.
    key = {"Idempotency-Key": "same"}
    run_body = {"task": "scan", "kwargs": {"targets": ["a"]}}
    assert viewer.post("/api/v1/runs", json=run_body, headers=key).status_code == 403
    assert _state(shared) == before
    created = operator.post("/api/v1/runs", json=run_body, headers=key)
    assert created.status_code == 201
    assert viewer.post("/api/v1/runs", json=run_body, headers=key).status_code == 403
    run_id = created.json()["id"]
    assert viewer.post(f"/api/v1/runs/{run_id}/cancel").status_code == 403
    assert shared.horae.runs.get(run_id).state.value == "queued"


def test_revoked_and_forged_tokens_are_refused(shared: Clients) -> None:
    made = mint_token(shared.store, "short-lived", Role.ADMIN)
    assert made is not None
    token, record = made
    client = shared.client(token)
    assert client.get("/api/v1/schedules").status_code == 200
    shared.store.token_revoke(record.id)
    assert client.get("/api/v1/schedules").status_code == 401
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert shared.client(forged).get("/api/v1/schedules").status_code == 401
    assert shared.client("not-a-token").get("/api/v1/schedules").status_code == 401
    assert shared.anonymous.get("/api/v1/schedules",
                                headers={"Authorization": "Basic eDp5"}).status_code == 401


def test_failed_authentication_is_rate_limited(horae_app: Horae) -> None:
    c = Clients(horae_app, ApiSettings(auth_failure_limit=3, auth_failure_window=60))
    bad = c.client("hor_00000000_guess")
    for _ in range(5):  # a missing token is not a guess: it never counts
        assert c.anonymous.get("/api/v1/runs").status_code == 401
    assert [bad.get("/api/v1/runs").status_code for _ in range(3)] == [401, 401, 401]
    limited = bad.get("/api/v1/runs")
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert limited.headers["content-type"].startswith("application/problem+json")
    # The address is throttled while the window lasts, but a good token is never refused
    # (tests/api/test_auth_limits.py).
    assert c["admin"].get("/api/v1/runs").status_code == 200
    assert bad.get("/api/v1/runs").status_code == 429
    assert c.anonymous.get("/api/v1/health").status_code == 200
