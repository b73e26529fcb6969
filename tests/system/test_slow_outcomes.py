"""Issue #11, scaled to the suite: thousands of schedules firing while outcome writes are
slow. Real ``horae scheduler`` and ``horae worker`` processes on a PostgreSQL database of
their own (for its deadlock counter). The slow outcome path is real: a trigger on
``horae_runs`` sleeps on every outcome UPDATE (a run leaving ``running``) while a flag row
exists, so outcomes are written at about 50/s while 250 runs/s are fired.

Proves: fires go on throughout (no gap in the runs' creation), no deadlock, the worker
stops claiming when its outcome backlog is full (and says so), what it holds stays
bounded, and everything drains once the outcome path is fast again.
"""

from __future__ import annotations

import itertools
import random
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from horae import Horae, interval
from tests.conftest import PG_URL, eventually, require_postgres
from tests.system import apps
from tests.system.procs import spawn, stop

pytestmark = [pytest.mark.system, pytest.mark.postgres]

SCHEDULES = 5_000
PERIOD = 20.0  # 250 fires/s
BOUND = 200  # the worker's --max-backlog
CONCURRENCY = 32
SLOW_FOR = 6.0

SLOW_SQL = [
    "CREATE TABLE t11_slow (on_ int)",
    "CREATE FUNCTION t11_slow_outcome() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " IF EXISTS (SELECT 1 FROM t11_slow) THEN PERFORM pg_sleep(0.02); END IF;"
    " RETURN NEW; END $$",
    "CREATE TRIGGER t11_slow_outcome BEFORE UPDATE ON horae_runs FOR EACH ROW"
    " WHEN (OLD.state = 'running' AND NEW.state <> 'running')"
    " EXECUTE FUNCTION t11_slow_outcome()",
]


@pytest.fixture
def own_db() -> Iterator[str]:
    """A database of its own: pg_stat_database counts deadlocks per database."""
    require_postgres()
    import psycopg

    name = f"horae_t11_{secrets.token_hex(4)}"
    admin = PG_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _one(app: Horae, sql: str) -> float:
    with app.store.db.read() as tx:
        row = tx.one(sql)
    assert row is not None
    return float(row["v"] or 0)


def _deadlocks(app: Horae) -> float:
    return _one(app, "SELECT deadlocks AS v FROM pg_stat_database"
                     " WHERE datname = current_database()")


def test_fires_go_on_and_claims_pause_while_outcomes_are_slow(own_db: str,
                                                               tmp_path: Path) -> None:
    client = Horae(own_db)
    for task in apps.app.registry:
        client.registry.add(task)
    with client.store.db.write() as tx:
        for statement in SLOW_SQL:
            tx.run(statement)
    now = client.store.now()
    rng = random.Random(11)
    client.schedules.add_many([
        {"id": f"p{i:05d}", "task": "noop",
         "trigger": interval(seconds=PERIOD, anchor=now + 2 + rng.uniform(0, PERIOD))}
        for i in range(SCHEDULES)])
    deadlocks = _deadlocks(client)
    worker_log = tmp_path / "worker.log"
    procs = [spawn(own_db, "scheduler", log=tmp_path / "scheduler.log"),
             spawn(own_db, "worker", "-c", str(CONCURRENCY), "--name", "t11",
                   "--max-backlog", str(BOUND), log=worker_log)]
    try:
        eventually(lambda: _one(client, "SELECT count(*) AS v FROM horae_runs"
                                        " WHERE state = 'succeeded'") >= 300, timeout=30)
        with client.store.db.write() as tx:
            tx.run("INSERT INTO t11_slow VALUES (1)")
        slow_from = client.store.now()
        eventually(lambda: "claims paused" in worker_log.read_text(), timeout=20)
        # While outcomes crawl the worker holds at most its bound plus its slots and the
        # runs held ahead; the rest waits in the queue (visible), not in its memory.
        held, queued = [], []
        deadline = time.monotonic() + SLOW_FOR
        while time.monotonic() < deadline:
            held.append(_one(client, "SELECT count(*) AS v FROM horae_runs"
                                     " WHERE state = 'running'"))
            queued.append(_one(client, "SELECT count(*) AS v FROM horae_runs"
                                       " WHERE state = 'queued'"))
        assert max(held) <= BOUND + 2 * CONCURRENCY + 1, max(held)
        assert queued[-1] > queued[0] + 200  # claims paused: fires pile up in the queue
        with client.store.db.write() as tx:
            tx.run("DELETE FROM t11_slow")
        slow_until = client.store.now()
        eventually(lambda: "claims resumed" in worker_log.read_text(), timeout=30)
        # Everything fired before the slowdown ended is done.
        eventually(lambda: _one(client, "SELECT count(*) AS v FROM horae_runs"
                                         f" WHERE created_at < {slow_until}"
                                         " AND state IN ('queued', 'running')") == 0,
                   timeout=40)
        end = client.store.now()
        with client.store.db.read() as tx:
            created = [float(r["created_at"]) for r in tx.all(
                "SELECT created_at FROM horae_runs WHERE created_at BETWEEN :a AND :b"
                " ORDER BY created_at", {"a": slow_from - 2, "b": end})]
        gaps = [b - a for a, b in itertools.pairwise(created)]
        assert created and max(gaps) <= 2.0, max(gaps)  # fires never stopped
        assert _deadlocks(client) == deadlocks
    finally:
        codes = [stop(p, timeout=40) for p in procs]
        client.stop()
    assert codes == [0, 0]
