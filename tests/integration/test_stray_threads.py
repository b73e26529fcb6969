"""A thread-mode run that timed out or was cancelled holds its slots until its code stops."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from itertools import pairwise

import pytest

from horae import Horae, RunState
from tests.conftest import eventually
from tests.integration import sample_tasks


@pytest.fixture
def app(database_url: str) -> Iterator[Horae]:
    app = Horae(database_url)
    sample_tasks.register(app)
    app.start(concurrency=4, lease=5.0)
    yield app
    app.stop(grace=5.0)


def spans_of(tag: str, n: int) -> list[tuple[float, float]]:
    """The (start, end) of the ``n`` calls tagged ``tag``, once they all ended."""
    def ended() -> list[tuple[float, float]]:
        return sorted((s, e) for t, s, e in sample_tasks.SPANS if t == tag)
    eventually(lambda: len(ended()) == n, timeout=30)
    return ended()


def assert_no_overlap(spans: list[tuple[float, float]]) -> None:
    for (_, end), (start, _) in pairwise(spans):
        assert start >= end, f"a call started at {start} before the previous ended at {end}"


def test_timed_out_threads_never_exceed_the_task_concurrency(app: Horae) -> None:
    tag = secrets.token_hex(4)
    ids = [app.runs.create("stubborn.limited", kwargs={"tag": tag, "seconds": 2.0}).id
           for _ in range(3)]
    assert_no_overlap(spans_of(tag, 3))
    for run_id in ids:
        run = app.runs.wait(run_id, timeout=30)
        assert run.state is RunState.TIMED_OUT
        assert run.error == "timed out after 1s"
        assert run.duration is not None and run.duration > 1.9  # ended with its code (2 s)


def test_a_cancelled_thread_keeps_its_slot_until_it_returns(app: Horae) -> None:
    tag = secrets.token_hex(4)
    first = app.runs.create("stubborn.one", kwargs={"tag": tag, "seconds": 2.0})
    second = app.runs.create("stubborn.one", kwargs={"tag": tag, "seconds": 0.1})
    eventually(lambda: app.runs.get(first.id).state is RunState.RUNNING)
    app.runs.cancel(first.id)
    assert_no_overlap(spans_of(tag, 2))
    assert app.runs.wait(first.id, timeout=30).state is RunState.CANCELLED
    assert app.runs.wait(second.id, timeout=30).state is RunState.SUCCEEDED
