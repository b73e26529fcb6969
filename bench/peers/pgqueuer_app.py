"""The PgQueuer factory of the PgQueuer peer (database from ``BENCH_PG``)."""

from __future__ import annotations

import os

import asyncpg
from pgqueuer import PgQueuer
from pgqueuer.db import AsyncpgDriver
from pgqueuer.models import Job

from bench.peers.qharness import record_pickup


async def create_pgqueuer() -> PgQueuer:
    conn = await asyncpg.connect(os.environ["BENCH_PG"])
    pgq = PgQueuer(AsyncpgDriver(conn))

    @pgq.entrypoint("noop")
    async def noop(job: Job) -> None:
        return None

    @pgq.entrypoint("pickup")
    async def pickup(job: Job) -> None:
        assert job.payload is not None
        record_pickup(float(job.payload.decode()))

    return pgq


async def main() -> None:
    """The worker process (``pgq run`` of 1.6.0 fails on its own --log-level default)."""
    pgq = await create_pgqueuer()
    await pgq.run()


if __name__ == "__main__":
    import asyncio

    asyncio.run(main())
