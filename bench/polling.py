"""Horae's side of the ``polling`` workload (issue #11, seed 004; bench/README.md, *7.*).

One real ``horae server --no-api -c 128`` process (scheduler and worker, the task app
``bench/polling_app.py``) on a fresh SQLite file or PostgreSQL database. The benchmark
process creates the orders' schedules through the public API while the server fires:
first the population in batches (``app.schedules.add_many(items, atomic=True)``, or the
bulk-row path of ``bench/workloads.py`` when the API has no batch call), then, after the
warm-up and at full load, a sample one at a time (``app.schedules.add``) and a sample in
batches. Everything else is read from the database after the server stopped:
``started_at - fire_time`` of the runs, skipped runs and their ``error``, the results of
the self-removals (``{"removed_at": ...}``) against ``created_at`` of later runs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from bench import common as C
from bench import horae_core
from bench import workloads as W
from bench.polling_metrics import (
    CREATE_LIMIT_S,
    Poll,
    Spec,
    behind,
    polling_result,
    population,
    skip_reasons,
    spec,
)
from horae import Horae, interval
from horae.models import Policies
from horae.store.rows import dumps, policies_to_json

NO_BATCH = "n/a: no batch API"
BATCH = 1_000  # items per add_many call while loading
SAMPLE_BATCH = 500  # items per add_many call in the at-load sample


def item(s: Spec) -> dict[str, Any]:
    """The keyword arguments of ``app.schedules.add`` for one order."""
    return {"id": s.id, "task": "poll", "trigger": interval(seconds=s.period, anchor=s.anchor),
            "kwargs": {"order_id": s.id, "settle_at": s.settle_at}}


class Creator:
    """Creates orders through the public API and keeps what it created."""

    def __init__(self, app: Horae) -> None:
        self.app = app
        self.specs: list[Spec] = []
        self.has_batch = hasattr(app.schedules, "add_many")

    def single(self, orders: list[Any], limit_s: float) -> tuple[float, int]:
        """One ``add`` call per order, for at most ``limit_s`` s: (rate, count)."""
        t = time.monotonic()
        done = 0
        for o in orders:
            s = spec(o, time.time())
            self.app.schedules.add(**item(s))
            self.specs.append(s)
            done += 1
            if time.monotonic() - t > limit_s:
                break
        return done / max(time.monotonic() - t, 1e-6), done

    def batch(self, orders: list[Any], size: int, limit_s: float) -> tuple[float | None, int]:
        """``add_many`` in chunks of ``size`` for at most ``limit_s`` s; (None, 0) without
        a batch API."""
        if not self.has_batch:
            return None, 0
        t = time.monotonic()
        done = 0
        for i in range(0, len(orders), size):
            now = time.time()
            chunk = [spec(o, now) for o in orders[i:i + size]]
            self.app.schedules.add_many([item(s) for s in chunk], atomic=True)  # type: ignore[attr-defined]
            self.specs.extend(chunk)
            done += len(chunk)
            if time.monotonic() - t > limit_s:
                break
        return done / max(time.monotonic() - t, 1e-6), done

    def rows(self, orders: list[Any]) -> float:
        """Without a batch API: the rows ``add`` writes, in bulk (bench/workloads.py)."""
        t = time.monotonic()
        now, db_now = time.time(), self.app.store.now()
        pol = policies_to_json(Policies())
        rows, chunk = [], [spec(o, now) for o in orders]
        for s in chunk:
            trig = dumps(interval(seconds=s.period, anchor=s.anchor).to_dict())
            rows.append((s.id, "poll", trig, "[]",
                         dumps({"order_id": s.id, "settle_at": s.settle_at}), pol, s.anchor,
                         db_now, db_now))
        W.bulk_schedules(self.app, rows)
        self.specs.extend(chunk)
        return len(chunk) / max(time.monotonic() - t, 1e-6)


class Database:
    """Size, deadlocks and server CPU of the bench database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite:///")
        self.name = url.rsplit("/", 1)[1]
        self.cpu: dict[int, float] = {}

    def _pg(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(C.PG_ADMIN, autocommit=True) as conn:
            return list(conn.execute(sql, args).fetchall())

    def size_mb(self) -> float:
        if self.sqlite:
            path = self.url[len("sqlite:///"):]
            return sum(Path(f"{path}{x}").stat().st_size for x in ("", "-wal")
                       if Path(f"{path}{x}").exists()) / 2**20
        return float(self._pg("SELECT pg_database_size(%s)", self.name)[0][0]) / 2**20

    def deadlocks(self) -> int | None:
        if self.sqlite:
            return None
        return int(self._pg("SELECT deadlocks FROM pg_stat_database WHERE datname = %s",
                            self.name)[0][0])

    def backends(self) -> dict[int, float]:
        """CPU of each PostgreSQL backend connected to this database now."""
        pids = [int(r[0]) for r in self._pg(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", self.name)]
        return C.own_cpu_seconds(pids)

    def cpu_mark(self) -> None:
        if not self.sqlite:
            self.cpu = self.backends()

    def cpu_since_mark(self) -> float | None:
        """Server CPU of this database's backends since :meth:`cpu_mark` (a backend that
        ended in between is lost; the server keeps its connections, so none should)."""
        if self.sqlite:
            return None
        now = self.backends()
        return sum(v - self.cpu.get(p, 0.0) for p, v in now.items())


def read_polls(app: Horae) -> tuple[list[Poll], dict[str, float]]:
    """Every run of the poll task, and each self-removal's instant by schedule."""
    with app.store.db.read() as tx:
        rows = tx.all("SELECT schedule_id, fire_time, state, created_at, started_at,"
                      " finished_at, error, result FROM horae_runs WHERE task = 'poll'")
    polls, removed = [], {}
    states = {"succeeded": "done", "queued": "waiting", "scheduled": "waiting",
              "retrying": "waiting"}
    for r in rows:
        state = states.get(r["state"], r["state"])
        if state in ("timed_out", "lost", "cancelled"):
            state = "failed"
        polls.append(Poll(r["schedule_id"], float(r["fire_time"]), state,
                          _f(r["started_at"]), _f(r["finished_at"]), _f(r["created_at"]),
                          r["error"]))
        if r["result"] and r["state"] == "succeeded":
            result = json.loads(r["result"])
            if isinstance(result, dict) and result.get("removed_at"):
                removed[r["schedule_id"]] = float(result["removed_at"])
    return polls, removed


def _f(v: Any) -> float | None:
    return None if v is None else float(v)


def polling(backend: str, n: int, duration: float, warmup: float,
            periods: tuple[float, float] = (30.0, 60.0), sample: int = 2_000,
            straggle: float = 10.0, concurrency: int = 128) -> dict[str, Any]:
    """N orders polled by one ``horae server -c 128``; see the module and bench/README.md."""
    url = W.url_for(backend, "polling")
    app = horae_core.fresh_app(url)
    db = Database(url)
    sample = min(sample, n // 10)
    orders = population(n, periods)
    bulk, singles, batches = orders[:n - 2 * sample], orders[n - 2 * sample:n - sample], \
        orders[n - sample:]
    try:  # the database goes whatever happens
        log = C.WORK / "horae_polling.log"
        log.unlink(missing_ok=True)
        proc = C.spawn([W.HORAE, "--db", url, "-A", "bench.polling_app:app", "server",
                        "--no-api", "-c", str(concurrency)], log=log)
        rss = C.PeakRss(lambda: [proc.pid])
        rss.start()
        notes = []
        try:
            if not C.wait_for(lambda: any(t.name == "poll" for t in app.store.tasks_list()),
                              timeout=120, every=0.1):
                return {"error": "the server did not register its task: " + tail(log)}
            deadlocks0 = db.deadlocks()
            maker = Creator(app)
            t = time.monotonic()
            bulk_rate, n_bulk = maker.batch(bulk, BATCH, limit_s=CREATE_LIMIT_S)
            if bulk_rate is None:
                bulk_rate, n_bulk = maker.rows(bulk), len(bulk)
                notes.append("population written as rows (" + NO_BATCH + ")")
            if n_bulk < len(bulk):
                notes.append(f"created {n_bulk} of {len(bulk)} in {CREATE_LIMIT_S:.0f}s")
            created = time.monotonic() - t
            time.sleep(warmup)  # every schedule has fired at least once
            t0 = time.time()
            cpu0, size0 = C.cpu_seconds([proc.pid]), db.size_mb()
            db.cpu_mark()
            # creation while firing at full load; the samples' schedules join the population
            single_rate, n_single = maker.single(singles, limit_s=min(60.0, duration / 3))
            batch_rate, _ = maker.batch(batches, SAMPLE_BATCH, limit_s=min(60.0, duration / 3))
            if n_single < len(singles):
                notes.append(f"one at a time: {n_single} of {len(singles)} in the time allowed")
            if batch_rate is None:  # the sample still joins the population: N in all
                maker.rows(batches)
                notes.append("batch " + NO_BATCH)
            time.sleep(max(0.0, t0 + duration - time.time()))
            t1 = time.time()
            cpu1, db_cpu, size1 = C.cpu_seconds([proc.pid]), db.cpu_since_mark(), db.size_mb()
            time.sleep(straggle)  # late starts of fires due in the window still count
            observed_until = time.time()
            if proc.poll() is not None:
                notes.append(f"the server exited early (code {proc.returncode}): {tail(log)}")
        finally:
            C.stop(proc)
            peak = rss.finish()
        polls, removed = read_polls(app)
        deadlocks = None if deadlocks0 is None else (db.deadlocks() or 0) - deadlocks0
    finally:
        app.stop()
        W.cleanup(url)
    out = polling_result(maker.specs, polls, removed, t0, t1, observed_until)
    out |= {
        "create_bulk_per_s": round(bulk_rate, 1), "create_bulk_s": round(created, 1),
        "create_single_per_s": round(single_rate, 1),
        "create_batch_per_s": None if batch_rate is None else round(batch_rate, 1),
        "cpu_s": round(cpu1 - cpu0, 2), "cpu_pct": round((cpu1 - cpu0) / (t1 - t0) * 100, 1),
        "db_cpu_s": None if db_cpu is None else round(db_cpu, 2), "rss_mb": peak,
        "db_growth_mb": round(size1 - size0, 1), "db_size_mb": round(size1, 1),
        "deadlocks": deadlocks,
    }
    reasons = skip_reasons(polls, t0, t1)
    notes += [reasons] if reasons else []
    notes += [x for x in [behind(out)] if x]
    if db.sqlite:
        notes.append("database CPU is inside Horae's process")
    if out["not_started"]:
        notes.append(f"{out['not_started']} fires due in the window had not started "
                     f"{straggle:.0f}s after it (counted at their lateness so far)")
    if notes:
        out["note"] = "; ".join(notes)
    return out


def tail(log: Path, lines: int = 3) -> str:
    try:
        text = [x for x in log.read_text(errors="replace").splitlines() if x.strip()]
    except OSError:
        return ""
    return " / ".join(text[-lines:])[-400:]
