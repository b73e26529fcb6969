"""The Procrastinate app of the Procrastinate peer (database from ``BENCH_PG``)."""

from __future__ import annotations

import os

from procrastinate import App, PsycopgConnector

from bench.peers.qharness import record_pickup

app = App(connector=PsycopgConnector(conninfo=os.environ.get("BENCH_PG", "")))


@app.task(name="noop")
async def noop() -> None:
    return None


@app.task(name="pickup")
async def pickup(sent_at: float) -> None:
    record_pickup(sent_at)
