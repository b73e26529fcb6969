"""The app of the ``polling`` workload (seed 004): one async task that polls an order.

Each order has its own interval schedule; the task awaits 20 ms (the I/O of a poll) and,
once the order has settled (``time.time() >= settle_at``), removes its own schedule from
inside the task through the public async API. Its result says when the removal was
committed, which the benchmark compares with the ``created_at`` of later runs of the same
schedule (there must be none).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from horae import Context, Horae, NotFound
from horae.aio import AsyncHorae

app = Horae()
_aio: AsyncHorae | None = None


def aio() -> AsyncHorae:
    """One AsyncHorae per process (its thread pool and connections are shared), made on
    first use, after the CLI has set the app's database URL."""
    global _aio
    if _aio is None:
        _aio = AsyncHorae(app)
    return _aio


@app.task("poll")
async def poll(order_id: str, settle_at: float, ctx: Context) -> dict[str, Any] | None:
    await asyncio.sleep(0.02)  # the payment provider's answer
    if time.time() < settle_at:
        return None
    assert ctx.schedule_id is not None
    try:
        await aio().schedules.remove(ctx.schedule_id)
    except NotFound:  # a second poll of the same order already removed it
        return {"removed_at": None, "order_id": order_id}
    return {"removed_at": time.time()}


@app.task("work")
async def work(seconds: float) -> None:
    """The overload workload's run: it holds its slot for ``seconds`` (awaiting I/O)."""
    await asyncio.sleep(seconds)
