"""A task's concurrency limit holds across workers and processes."""

from __future__ import annotations

import threading
import time

import pytest

from horae import Horae, RunState
from tests.conftest import eventually


def make_app(url: str, peak: list[int], lock: threading.Lock, running: list[int]) -> Horae:
    app = Horae(url)

    @app.task("limited", concurrency=2)
    def limited(seconds: float = 0.2) -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(seconds)  # the work itself: it must overlap for the limit to matter
        with lock:
            running[0] -= 1

    @app.task("free")
    def free() -> None:
        return None

    return app


def test_limit_holds_across_two_workers(database_url: str) -> None:
    if "memory" in database_url:
        pytest.skip("two apps need a shared database")
    peak, running, lock = [0], [0], threading.Lock()
    apps = [make_app(database_url, peak, lock, running) for _ in range(2)]
    for app in apps:
        app.start(scheduler=False, concurrency=6)
    first = apps[0]
    ids = [first.runs.create("limited").id for _ in range(10)]
    ids += [first.runs.create("free").id for _ in range(10)]
    samples: list[int] = []

    def running_in_db() -> bool:
        with first.store.db.read() as tx:
            row = tx.one("SELECT count(*) AS n FROM horae_runs WHERE task = 'limited'"
                         " AND state = 'running'")
        samples.append(int(row["n"]) if row else 0)
        return all(first.runs.get(i).state is RunState.SUCCEEDED for i in ids)

    eventually(running_in_db, timeout=60)
    for app in apps:
        app.stop(grace=1)
    assert max(samples) <= 2
    assert peak[0] == 2, "the limit is reached, not just respected"


def test_limit_is_advertised_in_the_catalogue(database_url: str) -> None:
    app = make_app(database_url, [0], threading.Lock(), [0])
    app.start(scheduler=False, concurrency=1)
    info = {t.name: t for t in app.store.tasks_list()}
    assert info["limited"].concurrency == 2
    assert info["free"].concurrency is None
    app.stop()
