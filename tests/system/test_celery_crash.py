"""kill -9 of a Horae worker between committing a Celery publish and making it: the run
ends with exactly one execution in Celery (tests/celery_app.py counts them), and the
message count is the one horae/integrations/celery/bridge.py promises.

- Killed after the intent, before ``send_task``: no message left; the next attempt
  re-attaches to the recorded id, sees it PENDING and sends it: one message.
- Killed after ``send_task``, before the confirmation: the next attempt cannot know
  whether the message exists while it waits unstarted in the queue, so it sends it again
  under the same id: two messages, and the guard in the Celery app skips the second.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from horae.integrations.celery.bridge import CRASH_ENV
from horae.models import TERMINAL_STATES, RunState
from tests.celery_support import BROKERS, Fleet, celery_worker, delivered, ran
from tests.conftest import eventually
from tests.system.celery_apps import bridged
from tests.system.procs import spawn

pytestmark = pytest.mark.system


@pytest.fixture(scope="module", params=sorted(BROKERS))
def fleet(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[Fleet]:
    log = tmp_path_factory.mktemp("celery") / "worker.log"
    with celery_worker(BROKERS[request.param], log) as f:
        yield f


@pytest.mark.parametrize(("crash", "task", "kwargs", "messages", "db"), [
    ("after_intent", "ok", {"x": 40, "y": 2}, 1, "sqlite"),
    pytest.param("after_intent", "ok", {"x": 40, "y": 2}, 1, "postgres",
                 marks=pytest.mark.postgres),
    # Long enough to be still running (PENDING: no STARTED state) when attempt 2 looks.
    ("after_publish", "slow", {"seconds": 10}, 2, "sqlite"),
])
def test_kill_9_between_commit_and_publish_executes_once(
        fleet: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        request: pytest.FixtureRequest, crash: str, task: str, kwargs: dict[str, Any],
        messages: int, db: str) -> None:
    url = (request.getfixturevalue("pg_url") if db == "postgres"
           else f"sqlite:///{tmp_path}/horae.db")
    prefix = f"horae{secrets.token_hex(4)}"
    app = bridged(url, fleet.broker, fleet.queue, prefix)
    run = app.runs.create(f"celery:tests.celery_app.{task}", kwargs=kwargs)
    tid = f"{prefix}-{run.id}-1"

    for key, value in {CRASH_ENV: crash, "HORAE_TEST_CELERY_BROKER": fleet.broker,
                       "HORAE_TEST_CELERY_QUEUE": fleet.queue,
                       "HORAE_TEST_CELERY_ID_PREFIX": prefix}.items():
        monkeypatch.setenv(key, value)
    doomed = spawn(url, "worker", "-Q", "celery", "--lease", "2",
                   app="tests.system.celery_apps:app", log=tmp_path / "doomed.log")
    assert doomed.wait(timeout=60) == -9, (tmp_path / "doomed.log").read_text()
    row = _external(app, run.id)
    assert row == (tid, 1, None), "the intent was committed, its confirmation never"
    if crash == "after_intent":
        assert delivered(tid) == 0 and ran(tid) == 0

    monkeypatch.delenv(CRASH_ENV)
    app.start(queues=["celery"], lease=5.0)  # the scheduler rescues; this worker re-attaches
    try:
        done = eventually(lambda: (r := app.runs.get(run.id)).state in TERMINAL_STATES and r,
                          timeout=60)
    finally:
        app.stop(grace=2)
    assert done.state is RunState.SUCCEEDED, (done.error, fleet.said())
    assert done.attempt == 2, "attempt 1 was lost with its worker"
    assert [a.state for a in app.store.run_attempts(run.id)] == ["lost", "succeeded"]
    assert _external(app, run.id)[:2] == (tid, 1), "attempt 2 used attempt 1's message"
    assert fleet.client.AsyncResult(f"{prefix}-{run.id}-2").state == "PENDING", \
        "no message under attempt 2's own id"
    assert ran(tid) == 1, "Celery executed the run exactly once"
    eventually(lambda: delivered(tid) == messages, timeout=10)
    assert delivered(tid) == messages


def _external(app: Any, run_id: int) -> tuple[Any, ...]:
    with app.store.db.read() as tx:
        row = tx.one("SELECT external_id, external_attempt, external_published_at"
                     " FROM horae_runs WHERE id = :id", {"id": run_id})
    assert row is not None
    return (row["external_id"], row["external_attempt"], row["external_published_at"])
