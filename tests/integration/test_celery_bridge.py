"""The Celery bridge with a real Celery worker (RabbitMQ and Redis brokers, Redis results):
Horae fires, publishes through ``send_task`` and records what Celery did.

One Celery worker per broker for the whole module; each test has its own Horae database and
its own Celery task-id prefix, so results of other tests never meet its runs.
"""

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from horae import Horae, RunState, interval
from horae.integrations.celery import register
from horae.models import TERMINAL_STATES
from tests.celery_support import BROKERS, Fleet, celery_worker, delivered, ran
from tests.conftest import eventually

NAMES = ["tests.celery_app.ok", "tests.celery_app.fail", "tests.celery_app.retry_once",
         "tests.celery_app.slow"]


@pytest.fixture(scope="module", params=sorted(BROKERS))
def fleet(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[Fleet]:
    log = tmp_path_factory.mktemp("celery") / "worker.log"
    with celery_worker(BROKERS[request.param], log) as f:
        yield f


def bridged(url: str, fleet: Fleet, **options: Any) -> Horae:
    """A Horae app with the Celery tasks registered, its scheduler and worker running."""
    app = Horae(url)
    register(app, fleet.client, NAMES, send_options={"queue": fleet.queue},
             id_prefix=f"horae{secrets.token_hex(4)}", **options)
    app.start(queues=["celery"], concurrency=4, lease=5.0)
    return app


@pytest.fixture
def horae(fleet: Fleet, tmp_path: Path) -> Iterator[Horae]:
    app = bridged(f"sqlite:///{tmp_path}/horae.db", fleet)
    yield app
    app.stop(grace=2)


def ended(app: Horae, run_id: int, timeout: float = 30) -> Any:
    return eventually(lambda: (r := app.runs.get(run_id)).state in TERMINAL_STATES and r,
                      timeout=timeout)


def task_id_of(app: Horae, run_id: int) -> str:
    found = app.store.run_external_id(run_id)
    assert found is not None
    return found


def test_a_fired_run_succeeds_with_celerys_result(fleet: Fleet, shared_db_url: str) -> None:
    app = bridged(shared_db_url, fleet)
    try:
        anchor = float(int(app.store.now()) + 1)
        app.schedules.add("sum", "celery:tests.celery_app.ok", interval(seconds=60,
                          anchor=anchor), kwargs={"x": 2, "y": 3})
        run = eventually(lambda: app.runs.list(schedule_id="sum"), timeout=20)[0]
        run = ended(app, run.id)
        tid = task_id_of(app, run.id)
        assert run.state is RunState.SUCCEEDED, (run.error, fleet.said())
        assert run.result["sum"] == 5
        assert run.result["pid"] != os.getpid(), "a Celery worker ran it, not Horae"
        result = fleet.client.AsyncResult(tid)
        assert (result.state, result.result) == ("SUCCESS", run.result)
        assert ran(tid) == 1 and delivered(tid) == 1
        assert any(tid in line.message for line in app.runs.logs(run.id))
    finally:
        app.stop(grace=2)


def test_arguments_are_checked_against_the_celery_signature(horae: Horae) -> None:
    from horae.errors import InvalidInput

    with pytest.raises(InvalidInput) as caught:
        horae.runs.create("celery:tests.celery_app.ok", kwargs={"x": "two"})
    assert caught.value.field.startswith("kwargs.x")


def test_a_failure_keeps_celerys_error_and_traceback_and_retries_publish_anew(
        horae: Horae, fleet: Fleet) -> None:
    run = horae.runs.create("celery:tests.celery_app.fail", kwargs={"message": "no disk"},
                            retries=1, retry_backoff=0.1)
    run = ended(horae, run.id)
    assert run.state is RunState.FAILED and run.attempt == 2
    assert run.error == "ValueError: no disk"
    assert "Traceback in the Celery worker" in run.traceback
    assert 'celery_app.py", line' in run.traceback
    assert "raise ValueError(message)" in run.traceback
    ids = [f"{task_id_of(horae, run.id).rsplit('-', 1)[0]}-{n}" for n in (1, 2)]
    assert task_id_of(horae, run.id) == ids[1]
    for tid in ids:  # each attempt its own message, each run once by Celery
        assert fleet.client.AsyncResult(tid).state == "FAILURE"
        assert ran(tid) == 1
    [first, last] = horae.store.run_attempts(run.id)
    assert (first.state, last.state) == ("failed", "failed")


def test_a_celery_retry_is_one_horae_attempt(horae: Horae, fleet: Fleet) -> None:
    run = ended(horae, horae.runs.create("celery:tests.celery_app.retry_once").id)
    tid = task_id_of(horae, run.id)
    assert run.state is RunState.SUCCEEDED, (run.error, fleet.said())
    assert run.result == {"retries": 1} and run.attempt == 1
    assert ran(tid) == 2, "Celery ran it twice (its retry), the guard let the retry through"


def test_a_timeout_revokes_the_celery_task(horae: Horae, fleet: Fleet) -> None:
    run = horae.runs.create("celery:tests.celery_app.slow", kwargs={"seconds": 60}, timeout=2)
    run = ended(horae, run.id)
    tid = task_id_of(horae, run.id)
    assert run.state is RunState.TIMED_OUT and run.error == "timed out after 2s"
    eventually(lambda: fleet.client.AsyncResult(tid).state == "REVOKED", timeout=20)
    assert ran(tid) == 1


def test_a_cancel_revokes_the_celery_task(horae: Horae, fleet: Fleet) -> None:
    run = horae.runs.create("celery:tests.celery_app.slow", kwargs={"seconds": 60})
    tid = eventually(lambda: ran(_id := horae.store.run_external_id(run.id) or "x") and _id)
    horae.runs.cancel(run.id)
    run = ended(horae, run.id)
    assert run.state is RunState.CANCELLED
    eventually(lambda: fleet.client.AsyncResult(tid).state == "REVOKED", timeout=20)


def test_a_celery_worker_killed_mid_task_fails_the_run(horae: Horae, fleet: Fleet) -> None:
    from tests.celery_app import PID_KEY, counter

    run = horae.runs.create("celery:tests.celery_app.slow", kwargs={"seconds": 60})
    tid = eventually(lambda: horae.store.run_external_id(run.id))
    pid = int(eventually(lambda: counter().get(PID_KEY.format(id=tid))))
    os.kill(pid, signal.SIGKILL)  # the pool child running the task, as an OOM killer would
    run = ended(horae, run.id)
    assert run.state is RunState.FAILED
    assert "WorkerLostError" in (run.error or ""), run.error
    assert fleet.client.AsyncResult(tid).state == "FAILURE"
    assert ran(tid) == 1


def test_the_catalogue_lists_celery_tasks_with_their_queue_and_signature(
        horae: Horae, fleet: Fleet) -> None:
    tasks = {t.name: t for t in eventually(lambda: horae.store.tasks_list())}
    ok = tasks["celery:tests.celery_app.ok"]
    assert ok.schema["required"] == ["x"] and ok.doc == "Adds two numbers."
    assert ok.schema["x-horae-celery"] == {"name": "tests.celery_app.ok", "queue": "celery"}
    assert ok.queue == "celery" and ok.mode == "thread"
    app = Horae("sqlite:///:memory:")
    [routed, unknown] = register(app, fleet.client, ["tests.celery_app.routed", "elsewhere.x"])
    assert routed.schema["x-horae-celery"]["queue"] == "reports", "from task_routes"
    assert unknown.schema["x-horae-rest"] == {}, "no code here: any arguments"


def test_a_draining_horae_worker_leaves_the_celery_task_running(
        fleet: Fleet, tmp_path: Path) -> None:
    """A Horae worker that stops gives the run back without revoking: the next worker
    re-attaches to the same Celery task (one message, one execution)."""
    url = f"sqlite:///{tmp_path}/horae.db"
    first = bridged(url, fleet)
    run = first.runs.create("celery:tests.celery_app.slow", kwargs={"seconds": 4})
    tid = eventually(lambda: ran(_id := first.store.run_external_id(run.id) or "x") and _id)
    first.stop(grace=0.2)
    back = first.runs.get(run.id)
    assert back.state is RunState.QUEUED and back.attempt == 0, "released, attempt unspent"
    second = Horae(url)
    register(second, fleet.client, NAMES, send_options={"queue": fleet.queue},
             id_prefix=tid.split("-")[0])
    second.start(queues=["celery"], concurrency=4, lease=5.0)
    try:
        done = ended(second, run.id)
    finally:
        second.stop(grace=2)
    assert done.state is RunState.SUCCEEDED and done.result == "woke", done.error
    assert done.attempt == 1 and second.store.run_external_id(run.id) == tid
    assert ran(tid) == 1 and delivered(tid) == 1
    assert any("re-attached" in line.message for line in second.runs.logs(run.id))


def test_advertised_celery_tasks_are_checked_by_a_process_without_them(
        tmp_path: Path) -> None:
    from horae.errors import InvalidInput
    from tests.celery_app import app as celery_app

    url = f"sqlite:///{tmp_path}/horae.db"
    register(Horae(url), celery_app, ["tests.celery_app.ok"], advertise=True)
    api_side = Horae(url)  # no Celery, no bridge: only the catalogue
    with pytest.raises(InvalidInput):
        api_side.runs.create("celery:tests.celery_app.ok", kwargs={"y": 2})  # x missing
    run = api_side.runs.create("celery:tests.celery_app.ok", kwargs={"x": 1})
    assert (run.state, run.queue) == (RunState.QUEUED, "celery")


def test_celery_tasks_are_workflow_steps(tmp_path: Path) -> None:
    from horae.errors import InvalidInput
    from horae.workflows import chain
    from tests.celery_app import app as celery_app

    app = Horae(f"sqlite:///{tmp_path}/horae.db")
    ok, fail = register(app, celery_app, ["tests.celery_app.ok", "tests.celery_app.fail"])
    stored = app.workflows.add("bridged", chain(ok.s(x=1), fail.s(message="late")))
    assert [s.task for s in stored.steps] == ["celery:tests.celery_app.ok",
                                              "celery:tests.celery_app.fail"]
    with pytest.raises(InvalidInput):  # checked against the Celery signature
        app.workflows.add("wrong", chain(ok.s(x="one")))
