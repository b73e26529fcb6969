"""The log stream of a run ends only after the lines that committed with its final state:
the last line a cancelled task logs on its way out reaches the console."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

from horae.api.events import Credentials, _log_stream
from horae.models import LogLine, Run, RunState


class FinishingRun:
    """A run whose worker records its outcome, with one last log line in the same
    transaction, right after the stream's first read, whichever read that is."""

    def __init__(self) -> None:
        self.run = Run(id=1, task="t", state=RunState.RUNNING)
        self.lines: list[LogLine] = []
        self.reads = 0
        self.lock = threading.Lock()

    def _read(self) -> None:
        with self.lock:
            self.reads += 1
            if self.reads == 2:  # between the first and the second read of the stream
                self.run = Run(id=1, task="t", state=RunState.CANCELLED)
                self.lines = [LogLine(1, 0.0, "WARNING", "cancelled: cleaning up", id=7)]

    def get(self, run_id: int) -> Run:
        self._read()
        return self.run

    def run_logs(self, run_id: int, after_id: int = 0, limit: int = 1000) -> list[LogLine]:
        self._read()
        return [x for x in self.lines if x.id > after_id]


def test_the_stream_sends_the_line_committed_with_the_final_state() -> None:
    run = FinishingRun()
    settings = SimpleNamespace(heartbeat=15.0, poll_interval=0.001, auth_recheck=60.0)
    api: Any = SimpleNamespace(stopping=threading.Event(), settings=settings,
                               store=SimpleNamespace(store=run), horae=SimpleNamespace(
                                   runs=run))

    async def collect() -> str:
        return "".join([chunk async for chunk in _log_stream(api, 1, 0,
                                                             Credentials(api, None))])

    text = asyncio.run(asyncio.wait_for(collect(), timeout=10))
    assert "cancelled: cleaning up" in text
    assert text.index("cancelled: cleaning up") < text.index("event: end")
