"""Faults injected into real ``horae`` processes: a frozen worker, a PostgreSQL restart
(of a private throw-away cluster, never the shared server), SIGTERM in the middle of a run,
and queues that must not leak between segments."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from horae import Horae, Run, RunState, at, interval
from tests.conftest import IN_CI, eventually
from tests.system import fault_apps
from tests.system.procs import kill_hard, spawn, stop

pytestmark = pytest.mark.system

APP = "tests.system.fault_apps:app"


def _client(url: str) -> Horae:
    client = Horae(url)
    for task in fault_apps.app.registry:
        client.registry.add(task)
    return client


def _worker(url: str, tmp_path: Path, name: str, *args: str) -> subprocess.Popen[bytes]:
    return spawn(url, "worker", "--name", name, *args, app=APP, log=tmp_path / f"{name}.log")


def _log(tmp_path: Path, name: str) -> str:
    path = tmp_path / f"{name}.log"
    return path.read_text(errors="replace") if path.exists() else ""


def _until(check: Callable[[], Any], timeout: float, explain: Callable[[], Any]) -> Any:
    """``eventually``, saying what the world looked like when it gave up."""
    try:
        return eventually(check, timeout=timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{explain()}") from None


def _stopped_in(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int, float]:
    """SIGTERM ``proc``; its exit code and how long it took to exit."""
    t0 = time.monotonic()
    code = stop(proc, timeout=timeout)
    return code, time.monotonic() - t0


def _worker_state(client: Horae, name: str) -> str | None:
    return next((w.state for w in client.store.workers_list() if w.id == name), None)


# -- a frozen worker is fenced --------------------------------------------------------


class RunningSampler:
    """Counts the running runs of a task, as often as it can, in a thread of the test."""

    def __init__(self, client: Horae, task: str) -> None:
        self.client, self.task = client, task
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> RunningSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self.client.store.db.read() as tx:
                row = tx.one("SELECT count(*) AS n FROM horae_runs WHERE task = :t"
                             " AND state = 'running'", {"t": self.task})
            self.samples.append((time.monotonic(), int(row["n"]) if row else 0))
            self._stop.wait(0.005)

    @property
    def most(self) -> int:
        return max((n for _, n in self.samples), default=0)


def _process_state(proc: subprocess.Popen[bytes]) -> str:
    stat = Path(f"/proc/{proc.pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0]


def _nobody_blocked_by(client: Horae, run_id: int, worker: str) -> bool:
    """False if a frozen process holds the lock another process would wait for.

    A process frozen in the middle of a transaction keeps its locks (SQLite's write lock,
    PostgreSQL row locks): that is a different fault from the one this test injects.
    """
    store = client.store
    if store.dialect == "sqlite":
        conn = sqlite3.connect(store.db.path, timeout=0.2, isolation_level=None)  # type: ignore[attr-defined]
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(client.database_url) as conn:
        try:
            conn.execute("SET LOCAL lock_timeout = '200ms'")
            for sql, value in (("SELECT 1 FROM horae_runs WHERE id = %s", run_id),
                               ("SELECT 1 FROM horae_tasks WHERE name = %s", "limited"),
                               ("SELECT 1 FROM horae_workers WHERE id = %s", worker),
                               ("SELECT 1 FROM horae_schedules WHERE id = %s", "fenced")):
                conn.execute(sql + " FOR UPDATE", (value,))
        except psycopg.errors.LockNotAvailable:
            return False
        finally:
            conn.rollback()
    return True


def _freeze(proc: subprocess.Popen[bytes], client: Horae, run_id: int, name: str) -> None:
    """SIGSTOP ``proc`` at an instant it holds no database lock."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        proc.send_signal(signal.SIGSTOP)
        eventually(lambda: _process_state(proc) == "T", timeout=5, interval=0.005)
        if _nobody_blocked_by(client, run_id, name):
            return
        proc.send_signal(signal.SIGCONT)
        time.sleep(0.05)  # let it finish its transaction before trying again
    raise AssertionError(f"could not freeze {name} outside a transaction")


@pytest.mark.parametrize("resume", ["while-the-second-attempt-runs", "after-it-finished"])
def test_a_frozen_worker_past_its_lease_changes_nothing_and_the_limit_holds(
    shared_db_url: str, tmp_path: Path, resume: str
) -> None:
    client = _client(shared_db_url)
    client.schedules.add("fenced", "limited", at(client.store.now() + 86400),
                         kwargs={"seconds": 3}, priority=10)
    w1 = _worker(shared_db_url, tmp_path, "w1", "--lease", "2", "-c", "4")
    w2: subprocess.Popen[bytes] | None = None
    frozen = False

    def resume_w1() -> Run:
        """SIGCONT: w1's attempt returns at once (its sleep is over) and reports."""
        nonlocal frozen
        w1.send_signal(signal.SIGCONT)
        frozen = False
        try:
            eventually(lambda: f"run {run.id} attempt 1: lease lost" in _log(tmp_path, "w1"),
                       timeout=20)
        except AssertionError:
            raise AssertionError(f"w1's stale outcome was not refused: {client.runs.get(run.id)}"
                                 f"\n{_log(tmp_path, 'w1')}") from None
        return client.runs.get(run.id)

    try:
        with RunningSampler(client, "limited") as sampler:
            run = client.schedules.trigger_now("fenced")
            eventually(lambda: client.runs.get(run.id).state is RunState.RUNNING, timeout=20)
            # Waiting runs of the limited task: only the limit keeps w1's free slots and,
            # later, w2's from running them next to the frozen run.
            others = [client.runs.create("limited", kwargs={"seconds": 0.3})
                      for _ in range(4)]
            _freeze(w1, client, run.id, "w1")
            frozen = True
            frozen_at = client.store.now()
            client.start(worker=False)  # a scheduler: rescues the expired lease
            w2 = _worker(shared_db_url, tmp_path, "w2", "--lease", "2", "-c", "4")
            second = eventually(lambda: (r := client.runs.get(run.id)).attempt == 2 and r,
                                timeout=20)
            assert (second.state, second.worker_id) == (RunState.RUNNING, "w2"), second
            if resume == "while-the-second-attempt-runs":
                during = resume_w1()
                assert (during.state, during.attempt, during.lease_owner) == \
                    (RunState.RUNNING, 2, "w2"), "the stale outcome took the live attempt"
            done = client.runs.wait(run.id, timeout=20)
            for r in others:
                assert client.runs.wait(r.id, timeout=20).state is RunState.SUCCEEDED
            if resume == "after-it-finished":
                resume_w1()
            client.runs.create("noop")  # a commit after the stale report, then one more look
            final = client.runs.get(run.id)
    finally:
        if frozen:
            w1.send_signal(signal.SIGCONT)
        assert stop(w1) == 0, _log(tmp_path, "w1")
        if w2 is not None:
            assert stop(w2) == 0, _log(tmp_path, "w2")

    assert done.state is RunState.SUCCEEDED and done.attempt == 2, done
    assert done.worker_id == "w2" and done.started_at > frozen_at, done
    assert done.result["worker"] == "w2" and done.result["attempt"] == 2, done.result
    assert final == done, "the stale outcome changed the run"
    lines = [x.message for x in client.runs.logs(run.id)]
    assert "finished attempt 2 on w2" in lines and "finished attempt 1 on w1" not in lines, \
        lines
    fenced = client.schedules.get("fenced")
    # A run started by hand counts in neither counter (they count fires); the stale report
    # changed neither them nor the last state.
    assert (fenced.successes, fenced.failures, fenced.last_state) == (0, 0, "succeeded"), \
        "the stale outcome changed the schedule's counters"
    assert len(sampler.samples) > 100, "the sampler saw the scenario"
    assert sampler.most == 1, [s for s in sampler.samples if s[1] > 1][:5]
    # And in the records: the runs of the limited task never overlapped in time.
    spans = sorted((r.started_at, r.finished_at) for r in
                   client.runs.list(task="limited", states=["succeeded"]))
    assert len(spans) == 5
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start, spans
    client.stop()


@pytest.mark.postgres
def test_a_stuck_claimer_of_a_limited_task_does_not_stall_other_tasks(
    pg_url: str, tmp_path: Path
) -> None:
    """A process frozen inside its claim of ``limited`` holds that task's row lock."""
    import psycopg

    client = _client(pg_url)
    worker = _worker(pg_url, tmp_path, "w-stall")
    stuck = psycopg.connect(pg_url)
    try:
        _until(lambda: _worker_state(client, "w-stall") == "active", 20,
               lambda: _log(tmp_path, "w-stall"))
        stuck.execute("SELECT name FROM horae_tasks WHERE name = 'limited' FOR UPDATE")
        run = client.runs.create("noop")
        _until(lambda: client.runs.get(run.id).state is RunState.SUCCEEDED, 5,
               lambda: client.runs.get(run.id))
    finally:
        stuck.rollback()
        stuck.close()
        assert stop(worker) == 0, _log(tmp_path, "w-stall")
        client.stop()


# -- PostgreSQL restarted under load ------------------------------------------------


@dataclass
class PrivateCluster:
    """A PostgreSQL cluster of this test alone: restarting it disturbs nobody else."""

    version: str
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["pg_ctlcluster", self.version, self.name, *args],
                              capture_output=True, text=True, timeout=120, check=False)

    def ensure_up(self) -> None:
        """Start it unless it accepts connections; wait until it does."""
        if not _pg_accepts_connections(self.url):
            self.ctl("start")
        deadline = time.monotonic() + 60
        while subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", str(self.port), "-t", "1"],
                             capture_output=True, check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"PostgreSQL cluster {self.name} did not come back in 60 s")
            time.sleep(0.1)
        eventually(lambda: _pg_accepts_connections(self.url), timeout=30, interval=0.1)


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"restarting PostgreSQL is required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def private_cluster() -> Iterator[PrivateCluster]:
    """A throw-away local cluster (Debian's postgresql-common tools, run as root)."""
    if shutil.which("pg_createcluster") is None or os.geteuid() != 0:
        _unavailable("needs pg_createcluster (postgresql-common) and root")
    versions = sorted((v.name for v in Path("/usr/lib/postgresql").glob("*")
                       if (v / "bin" / "postgres").exists()), key=float)
    if not versions:
        _unavailable("no PostgreSQL server binaries under /usr/lib/postgresql")
    _drop_orphan_clusters()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cluster = PrivateCluster(versions[-1], f"horae_faults_{os.getpid()}", port)
    made = subprocess.run(["pg_createcluster", cluster.version, cluster.name, "-p", str(port),
                           "--", "--auth=trust"], capture_output=True, text=True, timeout=120,
                          check=False)
    try:
        assert made.returncode == 0, made.stderr
        cluster.ensure_up()
        yield cluster
    finally:
        subprocess.run(["pg_dropcluster", "--stop", cluster.version, cluster.name],
                       capture_output=True, timeout=120, check=False)


def _drop_orphan_clusters() -> None:
    """Clusters left by a test process that was killed before its clean-up."""
    listing = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True,
                             check=False).stdout
    for line in listing.splitlines():
        version, name = line.split()[:2]
        pid = name.removeprefix("horae_faults_")
        if pid != name and pid.isdigit() and not Path(f"/proc/{pid}").exists():
            subprocess.run(["pg_dropcluster", "--stop", version, name], capture_output=True,
                           timeout=120, check=False)


def _pg_accepts_connections(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=1) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


@pytest.mark.postgres
def test_postgres_restart_under_load_loses_and_doubles_nothing(
    private_cluster: PrivateCluster, tmp_path: Path
) -> None:
    cluster, pg_url = private_cluster, private_cluster.url
    n = 200
    client = _client(pg_url)
    server = spawn(pg_url, "server", "--name", "srv", "--lease", "5", app=APP,
                   log=tmp_path / "server.log")
    sched = spawn(pg_url, "scheduler", app=None, log=tmp_path / "scheduler.log")
    procs = {"server": server, "scheduler": sched}
    try:
        eventually(lambda: _worker_state(client, "srv") == "active", timeout=20)
        anchor = float(int(client.store.now()) + 2)
        every = interval(seconds=1, anchor=anchor)
        for i in range(n):
            client.schedules.add(f"s{i:03d}", "noop", every, misfire_grace=1, overlap="allow")
        # Steady state first: several seconds of every schedule firing and succeeding.
        # (60 s: a few on a quiet machine; two busy cores once took more than 20)
        eventually(lambda: _succeeded_since(client, anchor + 2) >= n, timeout=60)
        down_at = time.time()
        restart = cluster.ctl("restart", "-m", "immediate")
        assert restart.returncode == 0, restart.stderr
        eventually(lambda: _pg_accepts_connections(pg_url), timeout=30, interval=0.05)
        up_at = time.time()
        # The same processes carry on: fires after the restart run and succeed.
        first = eventually(lambda: _first_success_after(client, up_at), timeout=30,
                           interval=0.05)
        recovery = first - up_at
        eventually(lambda: _succeeded_since(client, up_at + 3) >= n, timeout=30)
        assert all(p.poll() is None for p in procs.values()), "a process died"
        created = _first_run_created_after(client, up_at)
        print(f"\nPostgreSQL down for {up_at - down_at:.2f}s; after it accepted connections "
              f"again, the first fire became a run in {created - up_at:.2f}s and the first "
              f"run succeeded in {recovery:.2f}s")
        assert recovery < 20, f"took {recovery:.1f}s to recover"
    finally:
        cluster.ensure_up()
        codes = {name: stop(p, timeout=30) for name, p in procs.items()}
    logs = {name: _log(tmp_path, name) for name in procs}
    assert codes == {"server": 0, "scheduler": 0}, logs
    assert "failed" in logs["server"] and "failed" in logs["scheduler"], \
        "both processes noticed the restart (else this test injected nothing)"

    with client.store.db.read() as tx:
        dupes = tx.all("SELECT schedule_id, fire_time, count(*) AS n FROM horae_runs"
                       " GROUP BY schedule_id, fire_time HAVING count(*) > 1")
        rows = tx.all("SELECT schedule_id, fire_time, state FROM horae_runs"
                      " WHERE schedule_id IS NOT NULL ORDER BY schedule_id, fire_time")
        states = {r["state"]: r["n"] for r in tx.all(
            "SELECT state, count(*) AS n FROM horae_runs GROUP BY state")}
    assert dupes == []
    by_schedule: dict[str, list[float]] = {}
    for r in rows:
        by_schedule.setdefault(r["schedule_id"], []).append(float(r["fire_time"]))
    for s in client.schedules.list(limit=n):
        times = by_schedule.get(s.id, [])
        assert s.next_fire_at is not None
        expected = [anchor + k for k in range(round(s.next_fire_at - anchor))]
        assert times == expected, f"{s.id}: every fire before next_fire_at has exactly one run"
    # A restart shorter than the grace loses nothing; a longer one records `missed` fires;
    # the drained server leaves nothing running, and nothing failed or was lost.
    assert set(states) <= {"succeeded", "missed", "queued"}, states
    print(f"runs by state: {states}")
    client.stop()


def _succeeded_since(client: Horae, fire_time: float) -> int:
    with client.store.db.read() as tx:
        row = tx.one("SELECT count(*) AS n FROM horae_runs WHERE state = 'succeeded'"
                     " AND fire_time >= :t", {"t": fire_time})
    return int(row["n"]) if row else 0


def _first_run_created_after(client: Horae, instant: float) -> float:
    with client.store.db.read() as tx:
        row = tx.one("SELECT min(created_at) AS t FROM horae_runs WHERE created_at >= :t",
                     {"t": instant})
    assert row is not None and row["t"] is not None
    return float(row["t"])


def _first_success_after(client: Horae, instant: float) -> float | None:
    try:
        with client.store.db.read() as tx:
            row = tx.one("SELECT min(finished_at) AS t FROM horae_runs WHERE state = 'succeeded'"
                         " AND started_at >= :t", {"t": instant})
    except Exception:  # the test's own connection notices the restart too: just ask again
        return None
    return float(row["t"]) if row and row["t"] is not None else None


# -- SIGTERM drains a worker ----------------------------------------------------------


def test_sigterm_lets_a_short_run_finish_within_the_grace(shared_db_url: str,
                                                          tmp_path: Path) -> None:
    client = _client(shared_db_url)
    worker = _worker(shared_db_url, tmp_path, "w-drain", "--grace", "10")
    try:
        started = tmp_path / "started"
        run = client.runs.create("sleepy", kwargs={"seconds": 2, "started": str(started)})
        eventually(started.exists, timeout=20)  # executing in the worker, not just claimed
        code, took = _stopped_in(worker, timeout=20)
    finally:
        stop(worker)
    log = _log(tmp_path, "w-drain")
    assert code == 0, log
    assert took < 10, f"the run needed ~2 s of the 10 s grace, exit took {took:.1f}s"
    done = client.runs.get(run.id)
    assert done.state is RunState.SUCCEEDED, (done, log)
    assert done.result == "woke" and done.attempt == 1 and done.lease_owner is None
    assert _worker_state(client, "w-drain") == "gone"
    client.stop()


def _term_during_a_long_run(url: str, tmp_path: Path, name: str, grace: float
                            ) -> tuple[Horae, Run, subprocess.Popen[bytes], float]:
    """A worker with a ``grace`` s drain runs a 40 s run; SIGTERM it. Returns the monotonic
    instant of the signal."""
    client = _client(url)
    worker = _worker(url, tmp_path, name, "--grace", str(grace))
    started = tmp_path / "started"
    run = client.runs.create("sleepy", kwargs={"seconds": 40, "started": str(started)})
    eventually(started.exists, timeout=20)  # executing in the worker, not just claimed
    worker.send_signal(signal.SIGTERM)
    return client, run, worker, time.monotonic()


def test_sigterm_releases_a_run_longer_than_the_grace(shared_db_url: str,
                                                      tmp_path: Path) -> None:
    client, run, worker, _ = _term_during_a_long_run(shared_db_url, tmp_path, "w-release", 1.0)
    try:
        released = _until(lambda: (r := client.runs.get(run.id)).state is not RunState.RUNNING
                          and r, 15, lambda: (client.runs.get(run.id), _log(tmp_path, "w-release")))
        _until(lambda: _worker_state(client, "w-release") == "gone", 15,
               lambda: (_worker_state(client, "w-release"), _log(tmp_path, "w-release")))
    finally:
        log = _log(tmp_path, "w-release")
        kill_hard(worker)  # its exit is the next test's subject
    assert released.state is RunState.QUEUED, (released, log)
    assert released.attempt == 0, "the attempt that never finished is given back"
    assert released.lease_owner is None and released.lease_expires_at is None
    assert released.started_at is None and released.finished_at is None
    assert released.result is None and released.error is None
    left = [r for r in client.runs.list(states=["running"]) if r.lease_owner == "w-release"]
    assert left == []
    client.stop()


def test_sigterm_exits_within_the_grace_even_when_a_run_is_still_executing(
    shared_db_url: str, tmp_path: Path
) -> None:
    grace = 1.0
    client, _, worker, signalled = _term_during_a_long_run(shared_db_url, tmp_path,
                                                           "w-exit", grace)
    try:
        code = worker.wait(timeout=grace + 5)
        took = time.monotonic() - signalled
    except subprocess.TimeoutExpired:
        code, took = None, time.monotonic() - signalled
    finally:
        if worker.poll() is None:
            kill_hard(worker)
        client.stop()
    assert code == 0 and took < grace + 5, (code, took, _log(tmp_path, "w-exit"))


def test_sigterm_while_a_claim_is_in_flight_releases_that_run_too(tmp_path: Path) -> None:
    """SQLite's write lock, held by the test, parks the claim and the drain side by side."""
    url = f"sqlite:///{tmp_path}/horae.db"
    client = _client(url)
    worker = _worker(url, tmp_path, "w-inflight", "--grace", "1", "--lease", "30")
    try:
        _until(lambda: _worker_state(client, "w-inflight") == "active", 20,
               lambda: _log(tmp_path, "w-inflight"))
        run = client.runs.create("sleepy", kwargs={"seconds": 30}, delay=0.5)
        lock = sqlite3.connect(f"{tmp_path}/horae.db", isolation_level=None, timeout=10)
        lock.execute("BEGIN IMMEDIATE")
        # The run comes due; the worker sees it (reads need no lock) and waits to claim it.
        # A held lock cannot be observed from outside, so this waits by the clock.
        time.sleep(1.0)
        worker.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # the drain now waits for the same lock
        lock.execute("ROLLBACK")
        lock.close()
        # The worker is marked gone after its claim loop ended: the claim has landed.
        _until(lambda: _worker_state(client, "w-inflight") == "gone", 1 + 5,
               lambda: (client.runs.get(run.id), _log(tmp_path, "w-inflight")))
        after = client.runs.get(run.id)
    finally:
        if worker.poll() is None:
            kill_hard(worker)
        client.stop()
    # Released (queued), or never claimed (still scheduled): either way not left running.
    assert after.state in (RunState.QUEUED, RunState.SCHEDULED), after
    assert after.attempt == 0 and after.lease_owner is None, after


# -- queues ---------------------------------------------------------------------------


def test_a_worker_never_receives_a_run_of_a_queue_it_does_not_serve(
    shared_db_url: str, tmp_path: Path
) -> None:
    client = _client(shared_db_url)
    # Both kinds of run are created before the worker exists, so the first claims see both;
    # the worker has the code of every task, so only the queue can keep seg-b away.
    seg_a = [client.runs.create("segment", queue="seg-a") for _ in range(40)]
    seg_b = [client.runs.create("segment", queue="seg-b") for _ in range(40)]
    seg_b += [client.runs.create("segment.b") for _ in range(20)]
    worker = _worker(shared_db_url, tmp_path, "w-seg-a", "-Q", "seg-a", "-c", "4")
    try:
        eventually(lambda: len(client.runs.list(task="segment", states=["succeeded"],
                                                limit=1000)) >= len(seg_a), timeout=30)
        # One more full claim cycle after the last seg-a run, so a leak would have shown:
        # the worker polls SQLite every 50 ms and is woken by every commit on PostgreSQL.
        probe = client.runs.create("segment", queue="seg-a")
        assert client.runs.wait(probe.id, timeout=20).state is RunState.SUCCEEDED
    finally:
        assert stop(worker) == 0, _log(tmp_path, "w-seg-a")
    for r in seg_a:
        done = client.runs.get(r.id)
        assert done.state is RunState.SUCCEEDED and done.result == "w-seg-a", done
    for r in seg_b:
        untouched = client.runs.get(r.id)
        assert untouched.state is RunState.QUEUED, untouched
        assert untouched.attempt == 0 and untouched.worker_id is None, untouched
        assert untouched.started_at is None, untouched
    client.stop()
