"""A Tornado app whose watches are Horae schedules that remove themselves.

``POST /orders/{id}/watch`` schedules ``orders.poll`` every second for that order; the
async task asks the (here simulated) shipping system, and once the order has shipped it
removes its own schedule: no watch outlives its purpose, and nobody has to clean up.
``PUT /orders/{id}`` with ``{"status": "shipped"}`` plays the shipping system.

Run it (one process: Tornado, a scheduler and a worker):

    HORAE_DATABASE_URL=sqlite:///orders.db python app.py --port 8888

Tornado runs on asyncio, so the handlers use ``AsyncHorae`` (each call runs in a small
thread pool and never blocks the loop), and the task is a coroutine run on the worker's
own event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import tornado.web

from horae import Context, Horae, NotFound, interval
from horae.aio import AsyncHorae

#: The shipping system this app watches (an in-memory stand-in: order id -> status).
SHIPPING: dict[str, str] = {}


def build(database_url: str | None = None) -> tuple[AsyncHorae, tornado.web.Application]:
    """The Horae app with its task, and the Tornado application over it."""
    horae = Horae(database_url)
    ah = AsyncHorae(horae)

    @horae.task("orders.poll", mode="async")
    async def poll_order(order_id: str, ctx: Context) -> str:
        """Ask whether the order shipped; once it has, remove this run's own schedule."""
        status = SHIPPING.get(order_id, "pending")
        ctx.logger.info("order %s is %s", order_id, status)
        if status == "shipped" and ctx.schedule_id is not None:
            await ah.schedules.remove(ctx.schedule_id)
        return status

    app = tornado.web.Application([
        (r"/orders/([\w-]+)/watch", WatchHandler, {"ah": ah}),
        (r"/orders/([\w-]+)", OrderHandler),
    ])
    return ah, app


class WatchHandler(tornado.web.RequestHandler):
    def initialize(self, ah: AsyncHorae) -> None:
        self.ah = ah

    async def post(self, order_id: str) -> None:
        schedule = await self.ah.schedules.ensure(
            f"watch-{order_id}", "orders.poll", interval(1), kwargs={"order_id": order_id})
        self.set_status(201)
        self.write({"schedule": schedule.id})

    async def get(self, order_id: str) -> None:
        try:
            schedule = await self.ah.schedules.get(f"watch-{order_id}")
        except NotFound:
            self.set_status(404)
            self.write({"watching": False})
            return
        self.write({"watching": True, "schedule": schedule.id})


class OrderHandler(tornado.web.RequestHandler):
    def put(self, order_id: str) -> None:
        body: Any = json.loads(self.request.body or b"{}")
        SHIPPING[order_id] = str(body.get("status", "pending"))
        self.write({"order": order_id, "status": SHIPPING[order_id]})


async def serve(port: int, database_url: str | None = None) -> None:
    ah, app = build(database_url)
    await ah.start(concurrency=8)  # a scheduler and a worker in this process
    server = app.listen(port, address="127.0.0.1")
    try:
        await asyncio.Event().wait()  # until the process is stopped
    finally:
        server.stop()
        await ah.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8888)
    asyncio.run(serve(parser.parse_args().port))
