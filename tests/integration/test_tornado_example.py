"""examples/tornado_polling: a real Tornado server on loopback, with a scheduler and a worker
in its process; the async task removes its own schedule once the order has shipped."""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.conftest import eventually

pytest.importorskip("tornado")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tornado_polling" / "app.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tornado_polling_app", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def served(database_url: str) -> Iterator[tuple[str, Any]]:
    """The example's app on a free loopback port, in a thread running its event loop."""
    from tornado.httpserver import HTTPServer
    from tornado.netutil import bind_sockets

    example = load_example()
    ready: dict[str, Any] = {}
    started = threading.Event()

    async def main() -> None:
        ah, app = example.build(database_url)
        await ah.start(concurrency=4)
        sockets = bind_sockets(0, "127.0.0.1")
        server = HTTPServer(app)
        server.add_sockets(sockets)
        stop = asyncio.Event()
        ready.update(port=sockets[0].getsockname()[1], stop=stop, ah=ah,
                     loop=asyncio.get_running_loop())
        started.set()
        try:
            await stop.wait()
        finally:
            server.stop()
            await ah.stop()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert started.wait(30)
    yield f"http://127.0.0.1:{ready['port']}", ready["ah"].app
    ready["loop"].call_soon_threadsafe(ready["stop"].set)
    thread.join(30)


def test_a_watch_removes_its_own_schedule_once_the_order_shipped(
        served: tuple[str, Any]) -> None:
    base, horae = served
    with httpx.Client(base_url=base, timeout=10) as client:
        assert client.post("/orders/42/watch").json() == {"schedule": "watch-42"}
        assert client.get("/orders/42/watch").json()["watching"] is True
        # the schedule fires and its task reports the order still pending
        eventually(lambda: [r.result for r in horae.runs.list(schedule_id="watch-42")
                            if r.result is not None][:1] == ["pending"], timeout=30)
        assert client.put("/orders/42", json={"status": "shipped"}).status_code == 200
        eventually(lambda: client.get("/orders/42/watch").status_code == 404, timeout=30)
        # the run that removed it ends as usual, and is the only one that saw "shipped"
        eventually(lambda: "shipped" in [r.result for r in
                                         horae.runs.list(schedule_id="watch-42")], timeout=30)
        runs = horae.runs.list(schedule_id="watch-42")
        assert [r.result for r in runs].count("shipped") == 1
