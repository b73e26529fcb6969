"""Where a worker's CPU goes: one ``horae worker`` drains N queued no-op runs.

    python -m bench.worker_cpu --db sqlite:///bench/.work/cpu.db -n 20000 --task noop.async
    python -m bench.worker_cpu --db postgresql://postgres@127.0.0.1/bench_exec -n 20000 \\
        --task noop.async --profile bench/.work/cpu-pg.txt

Prints runs/s and the worker's CPU per 1,000 runs (user + system of the worker processes,
over the drain window, as the drain workload measures it). With ``--profile`` the worker
runs under ``py-spy record -f raw`` (install py-spy from PyPI); summarise the file with
``python -m bench.profile_summary FILE``. A PostgreSQL URL names a database that is dropped
and created afresh.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from bench import common as C
from bench import horae_core

ROOT = Path(__file__).resolve().parents[1]


def user_sys(pid: int) -> list[float]:
    """User and system CPU seconds of ``pid``'s tree so far."""
    tick = os.sysconf("SC_CLK_TCK")
    user = system = 0
    for p in C.tree(pid):
        try:
            raw = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2:].split()
        user += int(fields[11]) + int(fields[13])
        system += int(fields[12]) + int(fields[14])
    return [round(user / tick, 2), round(system / tick, 2)]


def run(url: str, n: int, task: str, concurrency: int, processes: int,
        profile: str | None) -> dict[str, object]:
    if url.startswith("postgresql"):
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(C.PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    app = horae_core.fresh_app(url)
    now = app.store.now()
    with app.store.db.write() as tx:
        tx.many(
            "INSERT INTO horae_runs (task, state, origin, args, kwargs, queue, not_before,"
            " created_at) VALUES (:task, 'queued', 'manual', '[]', '{}', 'default', :t, :t)",
            [{"t": now, "task": task}] * n)
    horae = str(Path(sys.executable).with_name("horae"))
    cmd = [horae, "--db", url, "-A", "bench.noop_app:app", "worker", "-c", str(concurrency),
           *(["--processes", str(processes)] if processes != 1 else [])]
    if profile:
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        cmd = [spy, "record", "-r", "500", "-f", "raw", "--gil", "-o", profile, "--", *cmd]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def done() -> int:
        with app.store.db.read() as tx:
            row = tx.one("SELECT count(*) AS n FROM horae_runs WHERE state = 'succeeded'")
        return int(row["n"]) if row else 0

    try:
        out = C.Drain(n, done, lambda: [proc.pid], timeout=600).run()
        out["user_sys_s"] = user_sys(proc.pid)  # whole life, start-up included
    finally:
        if profile:
            # py-spy writes its file when the worker exits: SIGTERM the worker, not py-spy.
            for pid in [p for p in C.tree(proc.pid) if p != proc.pid]:
                os.kill(pid, signal.SIGTERM)
            proc.wait(timeout=60)
        else:
            proc.terminate()
            proc.wait(timeout=60)
        app.stop()
    return {"db": url.split(":")[0], "task": task, "c": concurrency,
            "processes": processes, **out}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=f"sqlite:///{C.WORK}/cpu.db")
    ap.add_argument("-n", type=int, default=20_000)
    ap.add_argument("--task", default="noop.async", choices=["noop", "noop.async"])
    ap.add_argument("-c", type=int, default=64)
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--profile", default=None)
    args = ap.parse_args()
    print(json.dumps(run(args.db, args.n, args.task, args.c, args.processes, args.profile)))


if __name__ == "__main__":
    main()
