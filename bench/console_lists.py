"""The console's lists at scale: 100,000 schedules and 1,000,000 runs, one real server.

    python -m bench.console_lists                      # SQLite, then PostgreSQL
    python -m bench.console_lists --only sqlite --samples 20
    python -m bench.console_lists --schedules 10000 --runs 100000   # a smaller try

Fills a fresh store in bulk (a SQLite file under bench/.work/, a PostgreSQL database
``bench_console_lists``) with realistic proportions, starts one server process (the REST
API and the console, as ``horae server`` serves them, without scheduler or worker) and
asks each list ``--samples`` times, one request at a time. It records the server's own time
(the ``Server-Timing: app;dur=`` header: from the request reaching the application to its
response headers) and the client's wall time, p50 and p99 of each. Writes
``bench/results/console-lists.json`` and ``.md``; the goal is 200 ms of server time.

The data: 100,000 cron schedules (one fire a day each at a spread minute, 3 % paused), five
tasks plus a rare one, three queues plus a rare one, tags from a small set plus a rare one;
1,000,000 runs in time order over the last ten days (one per schedule a day, plus a
schedule firing every minute): about 94 % succeeded, 3 % failed, the rest timed out,
cancelled, skipped, missed or lost, and the newest ones queued (1,500), running (40) or
retrying; 300 ad-hoc runs scheduled for later. Each schedule's ``last_state`` and
``last_run_at`` are those of its latest finished run, as the store records them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import common as C

RESULTS = C.ROOT / "bench" / "results"
PG_DB = "bench_console_lists"
DAY = 86400.0
TASKS = [("reports.build", 0.35), ("etl.load", 0.25), ("mail.digest", 0.2),
         ("cache.warm", 0.12), ("backup.db", 0.08)]
RARE_TASK = "audit.rare"  # 20 schedules
QUEUES = [("default", 0.7), ("reports", 0.2), ("etl", 0.1)]
RARE_QUEUE = "gpu"  # 100 schedules
TAGS = ["team-a", "team-b", "team-c", "nightly", "critical", "billing"]
RARE_TAG = "pci"  # 50 schedules
HOT = "hot.every-minute"
TERMINAL = [("succeeded", 0.944), ("failed", 0.03), ("timed_out", 0.004),
            ("cancelled", 0.005), ("skipped", 0.01), ("missed", 0.005), ("lost", 0.002)]
OUTCOMES = ("succeeded", "failed", "timed_out", "cancelled", "lost")  # recorded on schedules
RUN_COLS = ("task", "state", "schedule_id", "fire_time", "origin", "args", "kwargs", "queue",
            "priority", "not_before", "created_at", "started_at", "finished_at", "attempt",
            "max_attempts", "worker_id", "error")
SCHEDULE_COLS = ("id", "task", "trigger", "args", "kwargs", "policies", "paused", "tags",
                 "next_fire_at", "fires", "successes", "failures", "last_state", "last_run_at",
                 "created_at", "updated_at")


def _pick(rng: random.Random, table: list[tuple[str, float]]) -> str:
    x = rng.random()
    for name, weight in table:
        x -= weight
        if x < 0:
            return name
    return table[-1][0]


# -- the data -----------------------------------------------------------------------------


def make_data(n_schedules: int, n_runs: int, now: float,
              seed: int = 20261126) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Schedule rows (SCHEDULE_COLS) and run rows (RUN_COLS), runs in time order."""
    from horae.models import Policies
    from horae.store.rows import dumps, policies_to_json

    rng = random.Random(seed)
    midnight = math.floor(now / DAY) * DAY
    pols = {q: policies_to_json(Policies(queue=q))
            for q in [q for q, _ in QUEUES] + [RARE_QUEUE]}
    scheds: list[dict[str, Any]] = []
    for i in range(n_schedules):
        task = RARE_TASK if i % 5000 == 17 else _pick(rng, TASKS)
        queue = RARE_QUEUE if i % 1000 == 3 else _pick(rng, QUEUES)
        tags = rng.sample(TAGS, rng.choice((0, 1, 1, 2)))
        if i % 2000 == 5:
            tags.append(RARE_TAG)
        offset = rng.randrange(1440) * 60.0
        nxt = midnight + offset if midnight + offset > now else midnight + DAY + offset
        hour, minute = divmod(int(offset // 60), 60)
        scheds.append({
            "id": f"{task.split('.')[0]}-{i:06d}", "task": task, "queue": queue,
            "trigger": dumps({"kind": "cron", "expr": f"{minute} {hour} * * *", "tz": "UTC"}),
            "policies": pols[queue], "paused": int(rng.random() < 0.03), "tags": dumps(tags),
            "next": nxt, "offset": offset, "last": None, "ok": 0, "bad": 0, "fires": 0})
    hot = {"id": HOT, "task": "etl.load", "queue": "etl",
           "trigger": dumps({"kind": "interval", "seconds": 60.0}), "policies": pols["etl"],
           "paused": 0, "tags": dumps(["critical"]), "next": math.floor(now / 60) * 60 + 60,
           "offset": 0.0, "last": None, "ok": 0, "bad": 0, "fires": 0}
    hot_runs = min(14_400, n_runs // 50)
    daily = n_runs - hot_runs - 300
    days = math.ceil(daily / n_schedules) + 1
    fires: list[tuple[float, int]] = []
    for d in range(-days, 1):
        base = midnight + d * DAY
        fires += [(base + s["offset"], i) for i, s in enumerate(scheds)
                  if base + s["offset"] <= now - 1]
    fires.sort()
    fires = fires[-daily:]
    fires += [(math.floor(now / 60) * 60 - 60 * k, -1) for k in range(1, hot_runs + 1)]
    fires.sort()
    runs: list[tuple[Any, ...]] = []
    total = len(fires)
    for k, (fire, i) in enumerate(fires):
        runs.append(_run_row(rng, hot if i < 0 else scheds[i], fire, total - k))
    for j in range(300):  # ad-hoc runs, later
        at = now + 60 + j * 10
        runs.append(("mail.digest", "scheduled", None, None, "manual", "[]", "{}", "default",
                     0, at, now - 300 + j, None, None, 0, 1, None, None))
    rows = []
    for s in [*scheds, hot]:
        state, at = s["last"] or (None, None)
        rows.append((s["id"], s["task"], s["trigger"], "[]", "{}", s["policies"], s["paused"],
                     s["tags"], s["next"], s["fires"], s["ok"], s["bad"], state, at,
                     now - 30 * DAY, now - 30 * DAY))
    return rows, runs


def _run_row(rng: random.Random, s: dict[str, Any], fire: float, left: int) -> tuple[Any, ...]:
    """One run of schedule ``s``; the newest (``left`` from the end) are still waiting or
    running. Records the schedule's last outcome as the store would."""
    if left <= 1500:
        state = "queued"
    elif left <= 1540:
        state = "running"
    elif left <= 1560:
        state = "retrying"
    else:
        state = _pick(rng, TERMINAL)
    started = finished = None
    attempt, worker, error = 1, f"w{rng.randrange(4)}", None
    if state in ("queued", "skipped", "missed"):
        attempt, worker = 0, None
        finished = None if state == "queued" else fire
    elif state == "cancelled":
        attempt, worker, finished = 0, None, fire + 1.0
    elif state in ("running", "retrying"):
        started = fire + rng.uniform(0.005, 0.5)
        error = "ValueError: boom" if state == "retrying" else None
    else:
        started = fire + rng.uniform(0.005, 0.5)
        finished = started + min(3000.0, rng.lognormvariate(1.5, 1.2))
        if state != "succeeded":
            error = f"{state}: ValueError: boom"
    if state in OUTCOMES and finished is not None:
        s["last"] = (state, finished)
        s["ok" if state == "succeeded" else "bad"] += 1
    s["fires"] += 1
    return (s["task"], state, s["id"], fire, "schedule", "[]", "{}", s["queue"], 0, fire, fire,
            started, finished, attempt, 1, worker, error)


def fill(url: str, n_schedules: int, n_runs: int) -> dict[str, Any]:
    """A fresh, migrated store holding the data, and an admin token for it."""
    from horae import Horae
    from horae.api.auth import Role, mint_token
    from horae.store.api_store import ApiStore

    app = Horae(url)
    now = app.store.now()
    t0 = time.perf_counter()
    schedules, runs = make_data(n_schedules, n_runs, now)
    made = time.perf_counter() - t0
    made_token = mint_token(ApiStore(app.store), "bench", Role.ADMIN)
    assert made_token is not None
    app.stop()
    t1 = time.perf_counter()
    if url.startswith("sqlite"):
        _fill_sqlite(url[len("sqlite:///"):], schedules, runs)
    else:
        _fill_postgres(url, schedules, runs)
    return {"token": made_token[0], "now": now, "generate_s": round(made, 1),
            "insert_s": round(time.perf_counter() - t1, 1),
            "schedules": len(schedules), "runs": len(runs)}


def _insert_sql(table: str, cols: tuple[str, ...], mark: str) -> str:
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})"


def _fill_sqlite(path: str, schedules: list[tuple[Any, ...]], runs: list[tuple[Any, ...]]) -> None:
    # The event triggers would write a million events; they are set aside while filling.
    conn = sqlite3.connect(path, isolation_level=None)
    triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
                            " AND name LIKE 'horae_events_%'").fetchall()
    conn.execute("BEGIN")
    for name, _ in triggers:
        conn.execute(f"DROP TRIGGER {name}")
    conn.executemany(_insert_sql("horae_schedules", SCHEDULE_COLS, "?"), schedules)
    conn.executemany(_insert_sql("horae_runs", RUN_COLS, "?"), runs)
    for _, sql in triggers:
        conn.execute(sql)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _fill_postgres(url: str, schedules: list[tuple[Any, ...]],
                   runs: list[tuple[Any, ...]]) -> None:
    import psycopg

    events = {"horae_schedules": ["horae_events_schedule_insert"],
              "horae_runs": ["horae_events_run_insert"]}
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur:
            for table, names in events.items():
                for name in names:
                    cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER {name}")
            for table, cols, rows in (("horae_schedules", SCHEDULE_COLS, schedules),
                                      ("horae_runs", RUN_COLS, runs)):
                with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                    for r in rows:
                        copy.write_row(r)
            for table, names in events.items():
                for name in names:
                    cur.execute(f"ALTER TABLE {table} ENABLE TRIGGER {name}")
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:  # what autovacuum does after a load
        conn.execute("VACUUM ANALYZE horae_schedules")
        conn.execute("VACUUM ANALYZE horae_runs")


# -- the server ---------------------------------------------------------------------------


def serve(url: str, port: int) -> None:
    """The REST API and the console on ``port``, as ``horae server`` mounts them, without
    a scheduler or a worker (nothing fires or runs while lists are measured)."""
    from horae import Horae
    from horae.api import ApiServer
    from horae.console import mount_console

    app = Horae(url)
    server = ApiServer(app, "127.0.0.1", port, log_level="warning")
    mount_console(server.app, app)
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("READY", flush=True)
    stop.wait()
    server.stop()
    app.stop()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.console_lists", "serve", "--db", url,
                             "--port", str(port)], cwd=C.ROOT, start_new_session=True,
                            env=dict(os.environ, PYTHONPATH=str(C.ROOT)),
                            stdout=subprocess.PIPE)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if b"READY" not in line:
        proc.kill()
        raise RuntimeError(f"the server did not start: {line!r}")
    return proc, f"http://127.0.0.1:{port}"


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# -- measuring ----------------------------------------------------------------------------


def sign_in(client: httpx.Client, token: str) -> None:
    page = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    r = client.post("/login", data={"csrf": csrf.group(1), "token": token, "next": "/"})
    assert r.status_code == 303 and "horae_session" in client.cookies, r.text[:300]


def cases(url: str, now: float) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(group, name, path, params) of every measured request."""
    from horae.api.schemas import key_cursor
    from horae.store import Store

    store = Store(url)
    with store.db.read() as tx:
        n = tx.one("SELECT count(*) AS n FROM horae_schedules")
        assert n is not None
        mid = tx.one("SELECT id, next_fire_at FROM horae_schedules WHERE paused = 0"
                     " AND next_fire_at IS NOT NULL ORDER BY next_fire_at, id LIMIT 1"
                     " OFFSET :k", {"k": int(n["n"]) // 2})
        mid_id = tx.one("SELECT id FROM horae_schedules ORDER BY id LIMIT 1 OFFSET :k",
                        {"k": int(n["n"]) // 2})
        top = tx.one("SELECT max(id) AS id FROM horae_runs")
        typical = tx.one("SELECT schedule_id FROM horae_runs WHERE id = :id",
                         {"id": int(top["id"]) // 2 if top else 1})
    store.close()
    assert mid is not None and mid_id is not None and top is not None and typical is not None
    deep_nf = key_cursor((0, float(mid["next_fire_at"]), mid["id"]))
    past = now - 3 * DAY
    s, r = "/api/v1/schedules", "/api/v1/runs"
    return [
        ("schedules", "first page", s, {}),
        ("schedules", "task (35 % of schedules)", s, {"task": "reports.build"}),
        ("schedules", "task, rare (20)", s, {"task": RARE_TASK}),
        ("schedules", "queue (20 %)", s, {"queue": "reports"}),
        ("schedules", "queue, rare (100)", s, {"queue": RARE_QUEUE}),
        ("schedules", "tag (~20 %)", s, {"tag": "nightly"}),
        ("schedules", "tag, rare (50)", s, {"tag": RARE_TAG}),
        ("schedules", "failing", s, {"failing": "true"}),
        ("schedules", "paused", s, {"paused": "true"}),
        ("schedules", "search", s, {"search": "000999"}),
        ("schedules", "order=next_fire", s, {"order": "next_fire"}),
        ("schedules", "order=next_fire, failing", s, {"order": "next_fire", "failing": "true"}),
        ("schedules", "order=next_fire, deep cursor", s,
         {"order": "next_fire", "cursor": deep_nf}),
        ("schedules", "deep cursor (by id)", s, {"cursor": mid_id["id"]}),
        ("runs", "first page", r, {}),
        ("runs", "state=failed", r, {"state": "failed"}),
        ("runs", "state=queued", r, {"state": "queued"}),
        ("runs", "state=lost (0.2 %)", r, {"state": "lost"}),
        ("runs", "task", r, {"task": "etl.load"}),
        ("runs", "task, rare (200 runs)", r, {"task": RARE_TASK}),
        ("runs", "schedule", r, {"schedule": typical["schedule_id"]}),
        ("runs", "schedule with 14,400 runs", r, {"schedule": HOT}),
        ("runs", "created in the last hour", r, {"since": repr(now - 3600)}),
        ("runs", "created in an hour three days ago", r,
         {"since": repr(past - 3600), "until": repr(past)}),
        ("runs", "created in an hour nine days ago", r,
         {"since": repr(now - 9 * DAY - 3600), "until": repr(now - 9 * DAY)}),
        ("runs", "finished in the last hour", r, {"finished_since": repr(now - 3600)}),
        ("runs", "finished in an hour three days ago", r,
         {"finished_since": repr(past - 3600), "finished_until": repr(past)}),
        ("runs", "finished in an hour nine days ago", r,
         {"finished_since": repr(now - 9 * DAY - 3600), "finished_until": repr(now - 9 * DAY)}),
        ("runs", "finished in the last two days", r, {"finished_since": repr(now - 2 * DAY)}),
        ("runs", "finished in two days a week ago", r,
         {"finished_since": repr(now - 9 * DAY), "finished_until": repr(now - 7 * DAY)}),
        ("runs", "deep cursor", r, {"cursor": str(int(top["id"]) // 2)}),
        ("runs", "queue, rare (0.1 %)", r, {"queue": RARE_QUEUE}),
        ("stats", "stats, 3 hours", "/api/v1/stats", {"hours": 3}),
        ("stats", "stats, 24 hours", "/api/v1/stats", {"hours": 24}),
        ("console", "page /schedules", "/schedules", {}),
        ("console", "page /runs", "/runs", {}),
        ("console", "page / (dashboard)", "/", {}),
    ]


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 2)


def measure(base: str, token: str, todo: list[tuple[str, str, str, dict[str, Any]]],
            samples: int) -> list[dict[str, Any]]:
    out = []
    with httpx.Client(base_url=base, timeout=60) as console, \
            httpx.Client(base_url=base, timeout=60,
                         headers={"Authorization": f"Bearer {token}"}) as api:
        sign_in(console, token)
        for group, name, path, params in todo:
            client = console if group == "console" else api
            server, wall, size = [], [], 0
            for i in range(samples + 3):
                t0 = time.perf_counter()
                r = client.get(path, params=params)
                took = (time.perf_counter() - t0) * 1000.0
                assert r.status_code == 200, (path, params, r.status_code, r.text[:300])
                if i < 3:  # warm-up
                    continue
                timing = r.headers["server-timing"]
                server.append(float(timing.split("dur=")[1]))
                wall.append(took)
                size = len(r.json()["items"]) if group in ("schedules", "runs") else 0
            rec = {"group": group, "case": name, "path": path, "params": params,
                   "items": size, "samples": samples,
                   "server_p50_ms": _pct(server, 50), "server_p99_ms": _pct(server, 99),
                   "wall_p50_ms": _pct(wall, 50), "wall_p99_ms": _pct(wall, 99)}
            print(f"  {group:9} {name:34} server p50 {rec['server_p50_ms']:7.1f} ms,"
                  f" p99 {rec['server_p99_ms']:7.1f} ms; wall p50 {rec['wall_p50_ms']:7.1f}"
                  f" ms ({size} items)", flush=True)
            out.append(rec)
    return out


def run_backend(backend: str, n_schedules: int, n_runs: int, samples: int,
                match: str | None = None) -> dict[str, Any]:
    if backend == "sqlite":
        C.WORK.mkdir(parents=True, exist_ok=True)
        path = C.WORK / "console_lists.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        from bench.workloads import fresh_pg
        url = fresh_pg(PG_DB)
    print(f"{backend}: filling {n_schedules:,} schedules and {n_runs:,} runs", flush=True)
    filled = fill(url, n_schedules, n_runs)
    print(f"{backend}: generated in {filled['generate_s']} s, inserted in"
          f" {filled['insert_s']} s", flush=True)
    proc, base = start_server(url)
    try:
        todo = [c for c in cases(url, filled["now"]) if not match or match in f"{c[0]}: {c[1]}"]
        records = measure(base, filled["token"], todo, samples)
    finally:
        stop_server(proc)
    return {"backend": backend, "fill": {k: v for k, v in filled.items() if k != "token"},
            "records": records}


# -- the report ---------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    def first(path: str, key: str) -> str:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
        return "?"

    def cmd(*args: str) -> str:
        try:
            return subprocess.run(list(args), capture_output=True, text=True,
                                  timeout=30, cwd=C.ROOT).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"

    return {"cpu": first("/proc/cpuinfo", "model name"), "cores": os.cpu_count(),
            "memory": first("/proc/meminfo", "MemTotal"), "kernel": platform.release(),
            "python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version,
            "postgresql": cmd("psql", C.PG_ADMIN, "-Atc", "SHOW server_version"),
            "commit": cmd("git", "rev-parse", "--short", "HEAD"),
            "load_average": os.getloadavg()}


def write_report(doc: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "console-lists.json").write_text(json.dumps(doc, indent=1) + "\n")
    by: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for result in doc["results"]:
        for rec in result["records"]:
            by.setdefault((rec["group"], rec["case"]), {})[result["backend"]] = rec
    m = doc["machine"]
    lines = [
        "# Console lists at 100,000 schedules and 1,000,000 runs", "",
        f"`{doc['command']}`, started {doc['started_at']}, commit `{m['commit']}`. "
        f"{m['cpu']}, {m['cores']} cores, {m['memory']}, Python {m['python']}, "
        f"SQLite {m['sqlite']}, PostgreSQL {m['postgresql']}; load average at start "
        f"{', '.join(f'{x:.2f}' for x in m['load_average'])} (a shared machine).", "",
        f"{doc['samples']} requests per line, one at a time, after 3 warm-up requests. "
        "**server** = the `Server-Timing: app;dur=` header (request in the application to "
        "response headers), **wall** = the client's time for the whole request. Goal: "
        "server p99 ≤ 200 ms.", "",
    ]
    backends = [r["backend"] for r in doc["results"]]
    for r in doc["results"]:
        f = r["fill"]
        lines.append(f"- {r['backend']}: {f['schedules']:,} schedules, {f['runs']:,} runs, "
                     f"inserted in {f['insert_s']} s.")
    lines += ["", "| list | " + " | ".join(
        f"{b} server p50 / p99 ms | {b} wall p50 / p99 ms" for b in backends) + " | items |",
        "|---|" + "---|---|" * len(backends) + "---|"]
    for (group, case), recs in by.items():
        cells = []
        for b in backends:
            rec = recs.get(b)
            if rec is None:
                cells += ["—", "—"]
                continue
            flag = " **over**" if rec["server_p99_ms"] > 200 else ""
            cells += [f"{rec['server_p50_ms']:.1f} / {rec['server_p99_ms']:.1f}{flag}",
                      f"{rec['wall_p50_ms']:.1f} / {rec['wall_p99_ms']:.1f}"]
        items = next(iter(recs.values()))["items"]
        lines.append(f"| {group}: {case} | " + " | ".join(cells) + f" | {items} |")
    (RESULTS / "console-lists.md").write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd")
    sv = sub.add_parser("serve")
    sv.add_argument("--db", required=True)
    sv.add_argument("--port", type=int, required=True)
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    parser.add_argument("--schedules", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--match", help="only the lists whose \"group: name\" contains this")
    args = parser.parse_args()
    if args.cmd == "serve":
        serve(args.db, args.port)
        return 0
    started = datetime.now(UTC).isoformat(timespec="seconds")
    doc: dict[str, Any] = {"command": "python -m bench.console_lists " + " ".join(sys.argv[1:]),
                           "started_at": started, "machine": machine(),
                           "samples": args.samples, "results": []}
    for backend in ([args.only] if args.only else ["sqlite", "postgres"]):
        doc["results"].append(run_backend(backend, args.schedules, args.runs, args.samples,
                                          args.match))
    if not args.no_write:
        write_report(doc)
        print(f"wrote {RESULTS / 'console-lists.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
