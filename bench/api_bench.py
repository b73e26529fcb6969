"""The REST API under load: one `horae api` process (uvicorn, one worker process).

    python -m bench.api_bench --db sqlite:///bench/.work/api.db
    python -m bench.api_bench --db postgresql://postgres@127.0.0.1/test

Measures schedule creates per second and their latency (POST /api/v1/schedules with full
validation: task catalogue, argument schema, cron, zone, policies; audit written), then the
list endpoint with 100,000 schedules: first page, a page deep in the cursor, and a walk
through all of them by pages of 1000.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.horae_core import fresh_app, insert_due_schedules
from horae.api.auth import Role, mint_token
from horae.store.api_store import ApiStore

ROOT = Path(__file__).resolve().parents[1]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0


def _latency(values: list[float]) -> dict[str, float]:
    return {"p50_ms": _pct(values, 0.50), "p99_ms": _pct(values, 0.99),
            "mean_ms": statistics.fmean(values) * 1000.0}


def start_server(url: str, port: int, command: str = "api") -> subprocess.Popen[bytes]:
    """`horae api` (or `horae server`: scheduler, worker and API) of the no-op app."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "horae.cli", "--db", url, "-A", "bench.noop_app:app", command,
         "--port", str(port), "--log-level", "warning"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health").status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the API did not start")


def creates(base: str, token: str, n: int, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    counter = iter(range(n))

    def body(i: int) -> dict[str, Any]:
        return {"id": f"c{i:07d}", "task": "noop", "description": "bench",
                "trigger": {"kind": "cron", "expr": f"{i % 60} 2 * * *", "tz": "Europe/Berlin"},
                "policies": {"retries": 1, "overlap": "skip"}}

    def worker() -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"},
                          timeout=30) as client:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                t0 = time.perf_counter()
                r = client.post("/api/v1/schedules", json=body(i))
                took = time.perf_counter() - t0
                with lock:
                    latencies.append(took)
                    if r.status_code != 201:
                        errors.append(r.text[:200])

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    assert not errors, errors[:3]
    return {"creates": n, "concurrency": concurrency, "seconds": elapsed,
            "creates_per_second": n / elapsed, **_latency(latencies)}


def listing(base: str, token: str, total: int, samples: int) -> dict[str, Any]:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"},
                      timeout=60) as client:
        def timed(params: dict[str, Any]) -> tuple[float, Any]:
            t0 = time.perf_counter()
            r = client.get("/api/v1/schedules", params=params)
            took = time.perf_counter() - t0
            assert r.status_code == 200, r.text
            return took, r.json()

        first = [timed({"limit": 100})[0] for _ in range(samples)]
        middle_cursor = f"b{total // 2:07d}"
        deep = [timed({"limit": 100, "cursor": middle_cursor})[0] for _ in range(samples)]
        searched = [timed({"limit": 100, "search": "b00999"})[0] for _ in range(samples // 4)]
        t0 = time.perf_counter()
        seen, cursor = 0, None
        while True:
            _, page = timed({"limit": 1000} | ({"cursor": cursor} if cursor else {}))
            seen += len(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        walk = time.perf_counter() - t0
    return {"schedules": seen, "first_page_100": _latency(first),
            "deep_cursor_page_100": _latency(deep), "search_page_100": _latency(searched),
            "walk_all_pages_of_1000_seconds": walk}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="sqlite:///bench/.work/api.db")
    parser.add_argument("--creates", type=int, default=2000)
    parser.add_argument("-c", "--concurrency", type=int, default=8)
    parser.add_argument("--list", type=int, default=100_000, dest="list_n")
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    app = fresh_app(args.db)
    if app.store.dialect == "postgres":
        with app.store.db.write() as tx:
            for table in ("api_tokens", "idempotency", "events"):
                tx.run(f"TRUNCATE horae_{table}")
    made = mint_token(ApiStore(app.store), "bench", Role.ADMIN)
    assert made is not None
    token = made[0]
    port = _port()
    server = start_server(app.database_url, port)
    base = f"http://127.0.0.1:{port}"
    try:
        result: dict[str, Any] = {"database": app.store.dialect}
        result["create"] = creates(base, token, args.creates, args.concurrency)
        insert_due_schedules(app, args.list_n, task="noop")
        result["list"] = listing(base, token, args.list_n, args.samples)
    finally:
        server.terminate()
        server.wait(30)
        app.stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
