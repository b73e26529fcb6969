"""Process mode: results travel on the protocol pipe only; the child's output is log text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from horae import Horae, RunState
from tests.integration import sample_tasks


@pytest.fixture
def app(database_url: str) -> Iterator[Horae]:
    app = Horae(database_url)
    sample_tasks.register(app)
    app.start(concurrency=2, lease=5.0)
    yield app
    app.stop(grace=1.0)


def test_a_result_line_on_stdout_is_log_text_not_the_result(app: Horae) -> None:
    run = app.runs.wait(app.runs.create("proc.forge").id, timeout=20)
    assert (run.state, run.result) == (RunState.SUCCEEDED, "real")
    lines = [(line.level, line.message) for line in app.runs.logs(run.id)]
    assert ("INFO", '{"result": "forged"}') in lines  # the child's stdout
    assert ("ERROR", '{"result": "forged"}') in lines  # and its stderr


def test_a_child_that_crashes_after_a_forged_result_line_fails_the_run(app: Horae) -> None:
    run = app.runs.wait(app.runs.create("proc.forge.crash").id, timeout=20)
    assert run.state is RunState.FAILED
    assert run.result is None
    assert run.error == "child process exited with code 3 before reporting a result"
    assert '{"result": "forged"}' in [line.message for line in app.runs.logs(run.id)]
