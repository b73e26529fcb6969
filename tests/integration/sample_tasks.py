"""Tasks used by the worker tests; module-level so process mode can import them."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

from horae import Horae
from horae.worker.context import Context

log = logging.getLogger("sample")


def add(a: int, b: int) -> int:
    return a + b


def chatty(ctx: Context, n: int = 3) -> str:
    for i in range(n):
        print(f"line {i}")
        ctx.logger.info("logged %d", i)
        ctx.progress((i + 1) / n, f"{i + 1} of {n}")
    return "done"


def boom() -> None:
    raise ValueError("kaboom")


def spin(ctx: Context, seconds: float = 30.0) -> str:
    """Busy-waits, checking ctx.cancelled like a well-behaved long sync task."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ctx.cancelled:
            return "stopped early"
        time.sleep(0.01)
    return "finished"


async def nap(seconds: float = 30.0) -> str:
    await asyncio.sleep(seconds)
    return "rested"


def pid_and_wait(seconds: float = 0.0) -> int:
    time.sleep(seconds)
    return os.getpid()


def not_json() -> Any:
    return object()


#: (tag, start, end) of each ``stubborn`` call, in monotonic seconds of this process.
SPANS: list[tuple[str, float, float]] = []


def stubborn(tag: str, seconds: float) -> None:
    """A sync task that never looks at ctx.cancelled: its thread runs for ``seconds``."""
    start = time.monotonic()
    time.sleep(seconds)
    SPANS.append((tag, start, time.monotonic()))


def ticker(ctx: Context, seconds: float = 30.0) -> str:
    """Logs a line every 10 ms until asked to stop."""
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline and not ctx.cancelled:
        print(f"tick {i}")
        i += 1
        time.sleep(0.01)
    return "ticked"


FORGED = b'{"result": "forged"}\n'


def forge_then_return() -> str:
    """Writes a protocol-looking line past the print capture, on stdout and stderr."""
    os.write(1, FORGED)
    os.write(2, FORGED)
    return "real"


def forge_then_crash() -> str:
    os.write(1, FORGED)
    os._exit(3)


def until_last(ctx: Context) -> str:
    """Fails on every attempt but the last, saying which attempt it is."""
    said = f"attempt {ctx.attempt} of {ctx.max_attempts}, last: {ctx.is_last_attempt}"
    ctx.logger.info(said)
    if not ctx.is_last_attempt:
        raise RuntimeError(said)
    return said


async def until_last_async(ctx: Context) -> str:
    return until_last(ctx)


def gather(ctx: Context, *targets: str) -> dict[str, Any]:
    return {"targets": list(targets), "attempt": ctx.attempt}


async def gather_async(*targets: str) -> list[str]:
    return list(targets)


def register(app: Horae) -> None:
    app.task("add")(add)
    app.task("chatty")(chatty)
    app.task("boom", retries=2, retry_backoff=0.05)(boom)
    app.task("boom.once")(boom)
    app.task("spin", timeout=0.5)(spin)
    app.task("spin.long")(spin)
    app.task("nap", timeout=0.5)(nap)
    app.task("nap.long")(nap)
    app.task("proc", mode="process")(pid_and_wait)
    app.task("proc.slow", mode="process", timeout=1.0)(pid_and_wait)
    app.task("chatty.proc", mode="process")(chatty)
    app.task("not_json")(not_json)
    app.task("stubborn.limited", concurrency=1, timeout=1.0)(stubborn)
    app.task("stubborn.one", concurrency=1)(stubborn)
    app.task("ticker")(ticker)
    app.task("proc.forge", mode="process")(forge_then_return)
    app.task("proc.forge.crash", mode="process")(forge_then_crash)
    app.task("until_last", retries=2, retry_backoff=0.01)(until_last)
    app.task("until_last.async", retries=2, retry_backoff=0.01)(until_last_async)
    app.task("until_last.proc", mode="process", retries=2, retry_backoff=0.01)(until_last)
    app.task("gather")(gather)
    app.task("gather.async")(gather_async)
    app.task("gather.proc", mode="process")(gather)
