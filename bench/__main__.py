"""``python -m bench run [--quick] [--only NAME[,NAME]] [--skip-install]``

Installs each peer into its own venv (bench/.venvs/, ignored), runs every workload for
Horae and each peer, one after the other, and writes ``bench/results/latest.json`` and
``latest.md`` (``quick.*`` with ``--quick``) plus a chart. ``--only`` takes workload names
(burst, sustained, catalogue, edit, drain, pickup, polling), benchmark ids (sustained-10000),
system names (horae-sqlite, aps4, celery...; a prefix matches) or WORKLOAD:SYSTEM pairs;
results of an ``--only`` run are merged into the file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import common as C
from bench import envs, polling, report
from bench import workloads as W
from bench.polling_metrics import CREATE_LIMIT_S

RESULTS = C.ROOT / "bench" / "results"

SIZES: dict[str, dict[str, Any]] = {
    "full": {
        "burst": 100_000, "peer_burst_limit_s": 60,
        "sustained": [10_000, 100_000], "duration": 60, "slow_peer_duration": 30, "lead": 3.0,
        "catalogue": 1_000_000, "catalogue_djbeat": 100_000, "idle": 60,
        "edit": [1_000, 100_000], "edit_samples": 12, "edit_warmup": 2, "edit_wait": 15,
        "drain": 50_000, "drain_workers": [1, 2], "drain_limit_s": 30,
        "pickup": [(10, 100), (500, 5_000)],
        # 7. polling (issue #11, seed 004): 5 minutes measured after a minute of warm-up
        "polling": [20_000, 100_000], "polling_duration": 300, "polling_warmup": 60,
        "polling_periods": [30, 60], "polling_sample": 2_000, "polling_straggle": 10,
        # the slowest combinations, left out of the full run to keep it near 40 minutes
        "skip": [("sustained-100000", "aps3-sqlite"), ("sustained-100000", "aps4-sqlite"),
                 ("catalogue", "aps4-sqlite"),
                 # run start at 10,000 fires/s needs workers draining that fast: see drain
                 ("sustained-100000", "horae-sqlite-server"),
                 ("sustained-100000", "horae-postgres-server")],
    },
    # one size per workload, small: the whole run takes about ten minutes (polling: 4.5)
    "quick": {
        "burst": 2_000, "peer_burst_limit_s": 3,
        "sustained": [1_000], "duration": 4, "slow_peer_duration": 4, "lead": 2.5,
        "catalogue": 20_000, "catalogue_djbeat": 5_000, "idle": 2,
        "edit": [1_000], "edit_samples": 2, "edit_warmup": 1, "edit_wait": 7,
        "drain": 2_000, "drain_workers": [2], "drain_limit_s": 4,
        "pickup": [(10, 10)],
        # periods scaled down with the window (1:2 as in the full run) so that orders
        # settle and remove themselves inside it
        "polling": [2_000], "polling_duration": 45, "polling_warmup": 12,
        "polling_periods": [6, 12], "polling_sample": 200, "polling_straggle": 5,
    },
}

UNITS = {
    "fires_per_s": "1/s", "seconds": "s", "lateness_p50_ms": "ms", "lateness_p99_ms": "ms",
    "lateness_max_ms": "ms", "cpu_s": "s", "cpu_pct": "%", "done_ratio": "fraction",
    "startup_s": "s", "rss_mb": "MiB", "idle_cpu_pct": "%", "p50_ms": "ms", "p99_ms": "ms",
    "max_ms": "ms", "samples": "count", "runs_per_s": "1/s", "cpu_s_per_1000": "s",
    "measured_runs": "count", "messages_in_broker": "count", "status": "",
    "schedules": "count", "fires_per_s_offered": "1/s", "fires_per_s_fired": "1/s",
    "runs_per_s_done": "1/s", "not_started": "count", "stall_s": "s", "skipped": "count",
    "missed": "count", "failed": "count", "removed": "count", "after_removal": "count",
    "create_bulk_per_s": "1/s", "create_bulk_s": "s", "create_single_per_s": "1/s",
    "create_batch_per_s": "1/s", "db_cpu_s": "s", "db_growth_mb": "MiB",
    "db_size_mb": "MiB", "deadlocks": "count",
}


def unit_of(metric: str) -> str:
    """The unit of a metric; per-minute lateness (``lateness_p99_ms_m3``) is in ms."""
    return UNITS.get(metric, "ms" if metric.startswith("lateness_") else "")


@dataclass
class Case:
    group: str  # the workload: burst, sustained, catalogue, edit, drain, pickup, polling
    bench: str  # the benchmark id in the results (workload + size)
    system: str
    env: str | None  # None: Horae, in this interpreter
    run: Callable[[], dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)


# -- running a peer script ------------------------------------------------------------


def peer(env: str, module: str, workload: str, params: dict[str, Any],
         timeout: float = 900) -> dict[str, Any]:
    """Run ``bench.peers.<module> <workload> <params>`` with the env's python."""
    cmd = [str(envs.python_of(env)), "-m", f"bench.peers.{module}", workload,
           json.dumps(params)]
    proc = subprocess.Popen(cmd, cwd=C.ROOT, env=dict(os.environ, PYTHONPATH=str(C.ROOT)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"error": f"timed out after {timeout:.0f}s"}
    for line in reversed(out.splitlines()):
        if line.startswith(C.MARK):
            data = json.loads(line[len(C.MARK):])
            assert isinstance(data, dict)
            return data
    tail = [ln for ln in (err or out).strip().splitlines() if ln.strip()][-3:]
    return {"error": f"exit {proc.returncode}: " + " / ".join(tail)[-400:]}


def flush_redis() -> None:
    subprocess.run(["redis-cli", "-n", str(C.REDIS_DB), "FLUSHDB"], check=True,
                   capture_output=True, timeout=60)


def with_pg(name: str, fn: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """A fresh database ``name`` for one measurement, dropped afterwards."""
    W.fresh_pg(name)
    try:
        return fn(name)
    finally:
        W.drop_pg(name)


def fresh_file(name: str) -> Path:
    path = C.WORK / name
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def profile_peer(env: str, module: str, prepare: dict[str, Any] | None,
                 child: dict[str, Any], idle: float) -> dict[str, Any]:
    """Catalogue for a peer: prepare its store (separate process), then time a fresh
    scheduler process to READY and sample it while idle."""
    if prepare is not None:
        res = peer(env, module, "catalogue_prepare", prepare, timeout=3600)
        if "error" in res:
            return res
    cmd = [str(envs.python_of(env)), "-m", f"bench.peers.{module}", "catalogue_child",
           json.dumps(child)]
    return W.scheduler_process_profile(cmd, idle)


# -- the plan -------------------------------------------------------------------------


def plan(mode: str) -> list[Case]:  # noqa: C901 - one flat list of every measurement
    S = SIZES[mode]
    cases: list[Case] = []
    pga = "postgresql+asyncpg://postgres@127.0.0.1:5432/"
    lim = S["peer_burst_limit_s"]

    def add(group: str, bench: str, system: str, env: str | None,
            run: Callable[[], dict[str, Any]], **params: Any) -> None:
        cases.append(Case(group, bench, system, env, run, params))

    # 1. fire burst
    nb = S["burst"]
    for b in ("sqlite", "postgres"):
        add("burst", "burst", f"horae-{b}", None, lambda b=b: W.burst(b, nb), n=nb)
    add("burst", "burst", "aps3-memory", "apscheduler3",
        lambda: peer("apscheduler3", "aps3", "burst",
                     {"n": nb, "store": "memory", "timeout": lim}), n=nb)
    add("burst", "burst", "aps3-sqlite", "apscheduler3",
        lambda: peer("apscheduler3", "aps3", "burst", {
            "n": nb, "store": "sqlite", "path": str(fresh_file("aps3.db")), "timeout": lim}),
        n=nb)
    add("burst", "burst", "aps4-sqlite", "apscheduler4",
        lambda: peer("apscheduler4", "aps4", "burst", {
            "n": nb, "url": f"sqlite+aiosqlite:///{fresh_file('aps4.db')}", "timeout": lim}),
        n=nb)
    add("burst", "burst", "aps4-postgres", "apscheduler4",
        lambda: with_pg("bench_aps4", lambda db: peer(
            "apscheduler4", "aps4", "burst", {"n": nb, "url": pga + db, "timeout": lim})), n=nb)
    add("burst", "burst", "celery-redbeat", "celery",
        lambda: (flush_redis(), peer("celery", "celery_beat", "burst",
                                     {"n": nb, "timeout": lim}))[1], n=nb)

    # 2. sustained load
    for n in S["sustained"]:
        bench = f"sustained-{n}"
        d = S["duration"]
        slow = S["slow_peer_duration"] if n == max(S["sustained"]) else d
        for b in ("sqlite", "postgres"):
            add("sustained", bench, f"horae-{b}", None,
                lambda b=b, n=n, d=d: W.sustained(b, n, d, lead=S["lead"]), n=n, seconds=d)
        for b in ("sqlite", "postgres"):  # run start, scheduler and worker in one process
            add("sustained", bench, f"horae-{b}-server", None,
                lambda b=b, n=n, d=d: W.sustained(b, n, d, lead=S["lead"], server=True),
                n=n, seconds=d)
        add("sustained", bench, "aps3-memory", "apscheduler3",
            lambda n=n, d=d: peer("apscheduler3", "aps3", "sustained",
                             {"n": n, "store": "memory", "duration": d, "lead": S["lead"]}),
            n=n, seconds=d)
        add("sustained", bench, "aps3-sqlite", "apscheduler3",
            lambda n=n, s=slow: peer("apscheduler3", "aps3", "sustained", {
                "n": n, "store": "sqlite", "path": str(fresh_file("aps3.db")),
                "duration": s, "lead": S["lead"]}), n=n, seconds=slow)
        add("sustained", bench, "aps4-sqlite", "apscheduler4",
            lambda n=n, s=slow: peer("apscheduler4", "aps4", "sustained", {
                "n": n, "url": f"sqlite+aiosqlite:///{fresh_file('aps4.db')}",
                "duration": s, "lead": S["lead"]}), n=n, seconds=slow)
        add("sustained", bench, "aps4-postgres", "apscheduler4",
            lambda n=n, s=slow: with_pg("bench_aps4", lambda db: peer(
                "apscheduler4", "aps4", "sustained", {"n": n, "url": pga + db,
                                                      "duration": s, "lead": S["lead"]})),
            n=n, seconds=slow)
        add("sustained", bench, "celery-redbeat", "celery",
            lambda n=n, d=d: (flush_redis(), peer("celery", "celery_beat", "sustained",
                                             {"n": n, "duration": d, "lead": S["lead"]}))[1],
            n=n, seconds=d)

    # 3. large catalogue
    nc, idle = S["catalogue"], S["idle"]
    lead = W.CATALOGUE_LEAD
    for b in ("sqlite", "postgres"):
        add("catalogue", "catalogue", f"horae-{b}", None,
            lambda b=b: W.catalogue(b, nc, idle), n=nc)
    add("catalogue", "catalogue", "aps3-memory", "apscheduler3",
        lambda: profile_peer("apscheduler3", "aps3", None, {"n": nc, "lead": lead}, idle), n=nc)
    add("catalogue", "catalogue", "aps4-sqlite", "apscheduler4",
        lambda: (lambda url: profile_peer("apscheduler4", "aps4", {
            "n": nc, "url": url, "lead": lead}, {"url": url}, idle))(
            f"sqlite+aiosqlite:///{fresh_file('aps4.db')}"), n=nc)
    add("catalogue", "catalogue", "aps4-postgres", "apscheduler4",
        lambda: with_pg("bench_aps4", lambda db: profile_peer(
            "apscheduler4", "aps4", {"n": nc, "url": pga + db, "lead": lead},
            {"url": pga + db}, idle)), n=nc)
    nd = S["catalogue_djbeat"]
    add("catalogue", "catalogue", "django-celery-beat", "celery",
        lambda: with_pg("bench_celery", lambda db: profile_peer(
            "celery", "celery_beat", {"n": nd, "db": db, "lead": lead},
            {"kind": "djbeat", "db": db}, idle)), n=nd)

    # 4. edit to effect
    k = S["edit_samples"]
    ew = {"warmup": S["edit_warmup"], "wait": S["edit_wait"]}
    for n in S["edit"]:
        bench = f"edit-{n}"
        for b in ("sqlite", "postgres"):
            add("edit", bench, f"horae-{b}", None, lambda b=b, n=n: W.edit(b, n, k), n=n)
        for broker in (False, True):
            add("edit", bench, "aps4-postgres" + ("+broker" if broker else ""), "apscheduler4",
                lambda n=n, br=broker: with_pg("bench_aps4", lambda db: peer(
                    "apscheduler4", "aps4", "edit", {"n": n, "samples": k, "broker": br,
                                                     "url": pga + db} | ew)), n=n)
        add("edit", bench, "django-celery-beat", "celery",
            lambda n=n: (flush_redis(), with_pg("bench_celery", lambda db: peer(
                "celery", "celery_beat", "edit", {"kind": "djbeat", "n": n, "samples": k,
                                                  "db": db} | ew)))[1], n=n)
        add("edit", bench, "celery-redbeat", "celery",
            lambda n=n: (flush_redis(), peer("celery", "celery_beat", "edit", {
                "kind": "redbeat", "n": n, "samples": k} | ew))[1], n=n)

    # 5. drain, 6. pickup
    queues = [("celery-redis", "celery", "celery_q", None),
              ("dramatiq-redis", "dramatiq", "dramatiq_q", None),
              ("rq", "rq", "rq_q", None),
              ("procrastinate", "procrastinate", "procrastinate_q", "bench_procrastinate"),
              ("pgqueuer", "pgqueuer", "pgqueuer_q", "bench_pgqueuer")]

    def queue_case(env: str, module: str, db: str | None, what: str,
                   params: dict[str, Any]) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            flush_redis()
            if db is None:
                return peer(env, module, what, params)
            return with_pg(db, lambda d: peer(env, module, what, params | {"pg": C.pg_url(d)}))
        return run

    n_drain = S["drain"]
    for w in S["drain_workers"]:
        bench = f"drain-{w}w"
        for b in ("sqlite", "postgres"):
            add("drain", bench, f"horae-{b}", None, lambda b=b, w=w: W.drain(b, n_drain, w),
                n=n_drain, workers=w)
        for b in ("sqlite", "postgres"):  # Horae's async no-op (no peer has the same)
            add("drain", f"drain-async-{w}w", f"horae-{b}", None,
                lambda b=b, w=w: W.drain(b, n_drain, w, concurrency=64, task="noop.async"),
                n=n_drain, workers=w, concurrency=64, task="noop.async")
        for system, env, module, db in queues:
            add("drain", bench, system, env, queue_case(
                env, module, db, "drain", {"n": n_drain, "workers": w,
                                           "max_seconds": S["drain_limit_s"]}),
                n=n_drain, workers=w)
    for rate, samples in S["pickup"]:
        bench = f"pickup-{rate}/s"
        for b in ("sqlite", "postgres"):
            add("pickup", bench, f"horae-{b}", None,
                lambda b=b, r=rate, s=samples: W.pickup(b, r, s), rate=rate, samples=samples)
        for system, env, module, db in queues:
            add("pickup", bench, system, env, queue_case(
                env, module, db, "pickup", {"rate": rate, "samples": samples}),
                rate=rate, samples=samples)
    # 7. polling: N self-removing polls, creation while firing (bench/polling.py)
    pp = {"duration": S["polling_duration"], "warmup": S["polling_warmup"],
          "periods": S["polling_periods"], "sample": S["polling_sample"],
          "straggle": S["polling_straggle"]}
    peer_timeout = pp["duration"] + pp["warmup"] + CREATE_LIMIT_S + 600
    for n in S["polling"]:
        bench = f"polling-{n}"
        size = {"n": n, "seconds": pp["duration"]}
        for b in ("sqlite", "postgres"):
            add("polling", bench, f"horae-{b}", None,
                lambda b=b, n=n: polling.polling(b, n, **pp), **size)
        add("polling", bench, "aps3-redis", "apscheduler3",
            lambda n=n: (flush_redis(), peer("apscheduler3", "aps3_polling", "polling",
                                             {"n": n} | pp, timeout=peer_timeout))[1], **size)
        add("polling", bench, "celery-redbeat", "celery",
            lambda n=n: (flush_redis(), peer("celery", "redbeat_polling", "polling",
                                             {"n": n} | pp, timeout=peer_timeout))[1], **size)
    return cases


def selected(cases: list[Case], only: str | None, mode: str) -> list[Case]:
    skip = {tuple(x) for x in SIZES[mode].get("skip", [])}
    cases = [c for c in cases if (c.bench, c.system) not in skip]
    if not only:
        return cases
    names = [x.strip() for x in only.split(",") if x.strip()]

    def match(c: Case, name: str) -> bool:
        if ":" in name:  # WORKLOAD:SYSTEM, both must match
            what, system = name.split(":", 1)
            return match(c, what) and match(c, system)
        return c.group == name or c.bench == name or c.system.startswith(name)

    return [c for c in cases if any(match(c, x) for x in names)]


# -- machine, versions, records -------------------------------------------------------


def machine() -> dict[str, Any]:
    def first(path: str, key: str) -> str:
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return "?"

    def cmd(*args: str) -> str:
        try:
            return subprocess.run(list(args), capture_output=True, text=True, timeout=30,
                                  cwd=C.ROOT).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"

    return {
        "cpu": first("/proc/cpuinfo", "model name"), "cores": os.cpu_count(),
        "memory": first("/proc/meminfo", "MemTotal"), "kernel": platform.release(),
        "python": sys.version.split()[0],
        "postgresql": cmd("psql", C.PG_ADMIN, "-Atc", "SHOW server_version"),
        "redis": cmd("redis-cli", "INFO", "server").split("redis_version:")[-1].split()[0]
        if "redis_version" in cmd("redis-cli", "INFO", "server") else "?",
        "sqlite": __import__("sqlite3").sqlite_version,
    }


def horae_version() -> dict[str, Any]:
    from horae import __version__

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True,
                              cwd=C.ROOT).stdout.strip()

    dirty = bool(git("status", "--porcelain", "--", "src"))
    return {"horae": __version__, "commit": git("rev-parse", "--short", "HEAD"),
            "src_dirty": dirty}


def records_of(case: Case, out: dict[str, Any], elapsed: float) -> list[dict[str, Any]]:
    base = {"benchmark": case.bench, "system": case.system, "workload": case.group,
            "params": case.params}
    note = out.get("note") or out.get("error")
    if "error" in out:
        return [base | {"metric": "status", "value": None, "unit": "", "note": note,
                        "wall_s": round(elapsed, 1)}]
    recs = []
    for metric, value in out.items():
        if metric in ("note", "error") or not isinstance(value, (int, float, type(None))):
            continue
        rec = base | {"metric": metric, "value": value, "unit": unit_of(metric)}
        if note:
            rec["note"] = note
        recs.append(rec)
    return recs


def run(args: argparse.Namespace) -> int:
    mode = "quick" if args.quick else "full"
    cases = selected(plan(mode), args.only, mode)
    if not cases:
        print(f"nothing matches --only {args.only}", file=sys.stderr)
        return 2
    C.WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    needed = sorted({c.env for c in cases if c.env} | {"plot"})
    print(f"bench {mode}: {len(cases)} measurements; envs: {', '.join(needed)}", flush=True)
    env_status = envs.ensure(needed, skip_install=args.skip_install)
    started = datetime.now(UTC)
    load_at_start = os.getloadavg()
    t0 = time.monotonic()
    records: list[dict[str, Any]] = []
    for i, case in enumerate(cases, 1):
        st = env_status.get(case.env or "", {"ok": True})
        label = f"[{i}/{len(cases)}] {case.bench:16} {case.system:22}"
        if not st.get("ok"):
            out: dict[str, Any] = {"error": str(st.get("error") or "not installable here")}
            elapsed = 0.0
        else:
            t = time.monotonic()
            out = attempt(case)
            if "error" in out:  # a shared machine: the database may have been restarted
                time.sleep(5)
                out = attempt(case)
            elapsed = time.monotonic() - t
        print(f"{label} {elapsed:6.1f}s {compact(out)}", flush=True)
        records.extend(records_of(case, out, elapsed))
    doc = {
        "mode": mode, "command": "python -m bench " + " ".join(sys.argv[1:]),
        "started_at": started.isoformat(timespec="seconds"),
        "wall_s": round(time.monotonic() - t0, 1),
        "machine": machine() | {"load_average_at_start": load_at_start,
                                "load_average_at_end": os.getloadavg()},
        "versions": horae_version() | {
            env: st.get("versions", {}) for env, st in env_status.items()},
        "sizes": SIZES[mode],
        "records": records,
    }
    name = "quick" if args.quick else "latest"
    path = RESULTS / f"{name}.json"
    if args.only and path.exists():
        doc = merge(json.loads(path.read_text()), doc)
    path.write_text(json.dumps(doc, indent=1) + "\n")
    report.write(path)
    print(f"wrote {path.relative_to(C.ROOT)} and its .md/.png in {doc['wall_s']:.0f}s")
    return 0


def attempt(case: Case) -> dict[str, Any]:
    try:
        return case.run()
    except Exception as exc:  # one failed measurement must not end the run
        traceback.print_exc()
        return {"error": f"{type(exc).__name__}: {exc}"[:400]}


def merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Replace the old records of each (benchmark, system) that was run again."""
    again = {(r["benchmark"], r["system"]) for r in new["records"]}
    kept = [r for r in old.get("records", []) if (r["benchmark"], r["system"]) not in again]
    merged = dict(old)  # the run being completed keeps its date, command and machine
    merged["versions"] = old.get("versions", {}) | new["versions"]
    merged["records"] = kept + new["records"]
    merged["merged_runs"] = [*old.get("merged_runs", []),
                             {"command": new["command"], "started_at": new["started_at"]}]
    return merged


def compact(out: dict[str, Any]) -> str:
    text = " ".join(f"{k}={v}" for k, v in out.items())
    return text if len(text) < 200 else text[:197] + "..."


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="install the peers' venvs and run the benchmarks")
    r.add_argument("--quick", action="store_true", help="small sizes, about ten minutes")
    r.add_argument("--only", metavar="NAME[,NAME]",
                   help="workloads and/or systems to run (merged into the results file)")
    r.add_argument("--skip-install", action="store_true",
                   help="use the venvs as they are; a missing one is reported, not made")
    rep = sub.add_parser("report", help="rewrite the .md and .png of a results file")
    rep.add_argument("path", nargs="?", default=str(RESULTS / "latest.json"))
    args = parser.parse_args()
    if args.cmd == "report":
        report.write(Path(args.path))
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
