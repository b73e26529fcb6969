"""PostgreSQL: schedulers, workers' outcome batches and heartbeats, the rescue sweep and
operators' cancels, all at once over the same rows, never deadlock.

Every writer locks schedules before runs and rows of one table in ascending id order (the
rule in docs/architecture.md). The test runs each kind of writer in its own threads, over
few schedules whose runs the others keep touching, for a bounded time, and counts
deadlocks twice: through the retry path (each loop catches ``DeadlockDetected``, counts it
and goes on, as the real loops do) and in ``pg_stat_database.deadlocks`` of a database of
its own (other tests share ``test``).
"""

from __future__ import annotations

import contextlib
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import errors

from horae.errors import Conflict
from horae.models import Fanout, Overlap, Run, RunState
from horae.store import Finish, NewRun, RunFilter, Store
from tests.conftest import PG_URL, eventually, require_postgres
from tests.store.support import planner, schedule

pytestmark = pytest.mark.postgres

SECONDS = 15.0
SCHEDULES = 40
WORKERS = 3


def _url_of(database: str) -> str:
    parts = urlsplit(PG_URL)
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture
def own_database() -> Iterator[str]:
    """A URL of a fresh database (its deadlock counter is this test's alone)."""
    require_postgres()
    name = f"horae_deadlock_{secrets.token_hex(4)}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield name
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _deadlocks(database: str) -> int:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        row = conn.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = %s",
                           [database]).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _sessions(database: str) -> int:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
                           [database]).fetchone()
    return int(row[0]) if row else 0


class Load:
    """The threads of the workload and what they saw."""

    def __init__(self, store: Store, seconds: float) -> None:
        self.store = store
        self.end = time.monotonic() + seconds
        self.deadlocks = 0
        self.seen: list[str] = []
        self.steps: dict[str, int] = {}
        self.failures: list[BaseException] = []
        self._lock = threading.Lock()

    def loop(self, name: str, step: Callable[[random.Random], Any]) -> threading.Thread:
        rng = random.Random(name)

        def body() -> None:
            while time.monotonic() < self.end and not self.deadlocks:
                try:
                    step(rng)
                except errors.DeadlockDetected as exc:
                    with self._lock:
                        self.deadlocks += 1
                        self.seen.append(f"{name}: {exc}")
                except BaseException as exc:  # any other error fails the test
                    self.failures.append(exc)
                    return
                with self._lock:
                    self.steps[name] = self.steps.get(name, 0) + 1

        thread = threading.Thread(target=body, name=name, daemon=True)
        thread.start()
        return thread


class Writers:
    """One step of each kind of writer, over the same schedules and runs."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.held: dict[str, dict[int, Run]] = {f"w{i}": {} for i in range(WORKERS)}
        self.guard = threading.Lock()

    def fire(self, rng: random.Random) -> None:
        self.store.schedules_fire_due(planner)

    def expand(self, rng: random.Random) -> None:
        self.store.runs_expand()

    def work(self, me: str) -> Callable[[random.Random], None]:
        def step(rng: random.Random) -> None:
            # claim what is there, then report a shuffled batch of outcomes: the order a
            # worker's reporter sees them finish in
            for run in self.store.runs_claim(me, ["default"], 40, 60.0):
                with self.guard:
                    self.held[me][run.id] = run
            with self.guard:
                mine = list(self.held[me].values())
            batch = rng.sample(mine, k=len(mine) // 2)
            self.store.runs_finish(me, [
                Finish(r, rng.choice([RunState.SUCCEEDED, RunState.FAILED])) for r in batch])
            with self.guard:
                for r in batch:
                    self.held[me].pop(r.id, None)
        return step

    def beat(self, me: str) -> Callable[[random.Random], None]:
        def step(rng: random.Random) -> None:
            with self.guard:
                mine = list(self.held[me].values())
            progress = [(r.id, r.attempt, rng.random(), "busy")
                        for r in rng.sample(mine, k=len(mine) // 3)]
            self.store.runs_heartbeat(me, 60.0, running=len(mine), progress=progress)
        return step

    def rescue(self, rng: random.Random) -> None:
        # a worker "died": the sweeper takes all its runs back (they are refused later)
        self.store.runs_rescue(owner=f"w{rng.randrange(WORKERS)}")
        self.store.runs_add([NewRun("job", max_attempts=2) for _ in range(5)])

    def cancel(self, rng: random.Random) -> None:
        active = self.store.run_list(RunFilter(states=["queued", "running"], limit=50))
        if active:
            with contextlib.suppress(Conflict):  # it finished meanwhile
                self.store.run_cancel(rng.choice(active).id)


def test_concurrent_writers_never_deadlock(own_database: str) -> None:
    store = Store(_url_of(own_database))
    store.migrate()
    now = store.now()
    for i in range(SCHEDULES):
        # a quarter fan out into shards: settling parents and cancelling children too
        fan = {"fanout": Fanout.SHARD, "shards": 3} if i % 4 == 0 else {}
        s = schedule(f"s{i:03}", overlap=Overlap.CANCEL_PREVIOUS, **fan)
        s.trigger = {"kind": "interval", "seconds": 0.2}
        s.next_fire_at = now - 1
        store.schedule_add(s)
    before = _deadlocks(own_database)
    load, w = Load(store, SECONDS), Writers(store)
    threads = [load.loop(f"fire{i}", w.fire) for i in range(2)]
    for i in range(WORKERS):
        threads.append(load.loop(f"work{i}", w.work(f"w{i}")))
        threads.append(load.loop(f"beat{i}", w.beat(f"w{i}")))
    threads += [load.loop(name, step) for name, step in
                (("expand", w.expand), ("rescue", w.rescue), ("cancel", w.cancel))]
    for t in threads:
        t.join(timeout=SECONDS + 60)
    store.close()
    eventually(lambda: _sessions(own_database) == 0, timeout=30)
    after = _deadlocks(own_database)

    assert not load.failures, load.failures
    assert load.deadlocks == 0, (f"{load.deadlocks} deadlocks retried; steps {load.steps}\n"
                                 + "\n".join(load.seen))
    assert after - before == 0, f"pg_stat_database.deadlocks grew by {after - before}"
    # every kind of writer really ran, many times
    assert len(load.steps) == len(threads) and min(load.steps.values()) >= 5, load.steps
