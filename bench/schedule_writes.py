"""Schedule creation while a scheduler fires: four writer processes, one at a time and in
batches, through the Python API and the REST API.

    python -m bench.schedule_writes --db sqlite:///bench/.work/writes.db
    python -m bench.schedule_writes --db postgresql://postgres@127.0.0.1/test

One `horae server` (scheduler, worker, API) fires --firing interval schedules every
--period seconds throughout. Then, for each mode, four processes create schedules for
--seconds each: `single` (app.schedules.add), `batch` (app.schedules.add_many, --batch
items a call), `rest-single` (POST /api/v1/schedules) and `rest-batch` (POST
/api/v1/schedules:batch). Prints creates per second (all four together) per mode, and the
fires the server made meanwhile.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from typing import Any

import httpx

from bench.api_bench import _port, start_server
from bench.horae_core import fresh_app
from horae import Horae
from horae.api.auth import Role, mint_token
from horae.store.api_store import ApiStore

WRITERS = 4
MODES = ("single", "batch", "rest-single", "rest-batch")


def _item(prefix: str, i: int) -> dict[str, Any]:
    return {"id": f"{prefix}-{i:07d}", "task": "noop",
            "trigger": {"kind": "interval", "seconds": 3600.0}, "retries": 1}


def _wire(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "retries"} | {"policies": {"retries": 1}}


def writer(mode: str, url: str, base: str, token: str, prefix: str, seconds: float,
           batch: int, out: Any) -> None:
    made, i = 0, 0
    app = Horae(url)
    app.task("noop")(lambda: None)
    http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"},
                        timeout=120)
    deadline = time.perf_counter() + seconds
    t0 = time.perf_counter()
    while time.perf_counter() < deadline:
        if mode == "single":
            app.schedules.add(**_item(prefix, i))
            i += 1
        elif mode == "batch":
            app.schedules.add_many([_item(prefix, i + k) for k in range(batch)])
            i += batch
        elif mode == "rest-single":
            r = http.post("/api/v1/schedules", json=_wire(_item(prefix, i)))
            assert r.status_code == 201, r.text
            i += 1
        else:
            r = http.post("/api/v1/schedules:batch", json={"atomic": True, "operations": [
                {"op": "add", **_wire(_item(prefix, i + k))} for k in range(batch)]})
            assert r.status_code == 200, r.text[:500]
            i += batch
        made = i
    out.put((made, time.perf_counter() - t0))
    http.close()
    app.stop()


def run_mode(mode: str, url: str, base: str, token: str, seconds: float,
             batch: int) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=writer, args=(mode, url, base, token, f"{mode}{w}", seconds,
                                              batch, queue)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    got = [queue.get(timeout=seconds + 300) for _ in procs]
    for p in procs:
        p.join(60)
    made = sum(n for n, _ in got)
    elapsed = max(t for _, t in got)
    return {"mode": mode, "writers": WRITERS, "created": made, "seconds": round(elapsed, 2),
            "creates_per_second": round(made / elapsed, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="sqlite:///bench/.work/writes.db")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--firing", type=int, default=3000, help="schedules firing meanwhile")
    parser.add_argument("--period", type=float, default=10.0)
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args()
    app = fresh_app(args.db)
    app.task("noop")(lambda: None)
    if app.store.dialect == "postgres":
        with app.store.db.write() as tx:
            for table in ("api_tokens", "idempotency", "events", "audit"):
                tx.run(f"TRUNCATE horae_{table}")
    app.schedules.add_many([{"id": f"fire-{i:06d}", "task": "noop",
                             "trigger": {"kind": "interval", "seconds": args.period,
                                         "anchor": app.store.now() + i * args.period /
                                         args.firing}, "overlap": "allow"}
                            for i in range(args.firing)])
    made = mint_token(ApiStore(app.store), "bench", Role.ADMIN)
    assert made is not None
    port = _port()
    server = start_server(app.database_url, port, command="server")
    base = f"http://127.0.0.1:{port}"
    results: list[dict[str, Any]] = []
    try:
        for mode in args.modes.split(","):
            t0 = app.store.now()
            result = run_mode(mode, app.database_url, base, made[0], args.seconds, args.batch)
            with app.store.db.read() as tx:
                row = tx.one("SELECT count(*) AS n FROM horae_runs WHERE created_at >= :t",
                             {"t": t0})
            result["fires_meanwhile"] = int(row["n"]) if row else 0
            results.append(result)
            print(json.dumps(result), flush=True)
    finally:
        server.terminate()
        server.wait(60)
        app.stop()
    print(json.dumps({"database": app.store.dialect, "firing_schedules": args.firing,
                      "period": args.period, "results": results}, indent=2))


if __name__ == "__main__":
    main()
