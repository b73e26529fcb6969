"""A demo app: three tasks and two schedules, for ``horae server --demo`` and the docs.

``app`` is an ordinary Horae object (``horae -A horae.demo:app worker`` works); the CLI
builds its own with :func:`make_app` so that ``--db`` decides the database. Importing this
module connects to nothing.

No ``from __future__ import annotations`` here: task schemas are read from the annotations.
"""

import random
import time
from dataclasses import dataclass, field
from typing import Any

from horae.app import Horae
from horae.errors import Conflict
from horae.worker.context import Context

SCAN_TARGETS = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"]


def register_tasks(app: Horae) -> None:
    """Register ``demo.hello``, ``demo.scan`` and ``demo.flaky`` on ``app``."""

    @app.task("demo.hello")
    def hello(name: str = "world", *, ctx: Context) -> str:
        """Greet someone: returns the greeting and logs it."""
        greeting = f"hello, {name}!"
        ctx.logger.info(greeting)
        return greeting

    @app.task("demo.scan")
    def scan(targets: list[str], delay: float = 0.2, *, ctx: Context) -> dict[str, int]:
        """Pretend to scan each target, reporting progress as it goes."""
        total = len(targets)
        for i, target in enumerate(targets, start=1):
            if ctx.cancelled:
                ctx.logger.warning("cancelled after %d of %d targets", i - 1, total)
                return {"targets": total, "scanned": i - 1}
            time.sleep(delay)  # stands for the real work
            ctx.logger.info("scanned %s", target)
            ctx.progress(i / total, f"scanned {i} of {total}")
        return {"targets": total, "scanned": total}

    @app.task("demo.flaky", retries=2, retry_backoff=0.5)
    def flaky(fail_rate: float = 0.5, *, ctx: Context) -> str:
        """Fail now and then (to show retries): raises with probability ``fail_rate``."""
        if random.random() < fail_rate:
            raise RuntimeError(f"flaky failure on attempt {ctx.attempt}")
        ctx.logger.info("worked on attempt %d", ctx.attempt)
        return f"ok on attempt {ctx.attempt}"


def make_app(database_url: str | None = None) -> Horae:
    """A Horae app with the demo tasks, on ``database_url`` (else the configured one)."""
    demo = Horae(database_url)
    register_tasks(demo)
    return demo


@dataclass(frozen=True)
class DemoSchedule:
    id: str
    task: str
    trigger: dict[str, Any]
    kwargs: dict[str, Any] = field(default_factory=dict)
    description: str = ""


DEMO_SCHEDULES = (
    DemoSchedule("demo-hello", "demo.hello", {"kind": "interval", "seconds": 10.0},
                 {"name": "Horae"}, "Says hello every 10 seconds"),
    DemoSchedule("demo-scan", "demo.scan", {"kind": "cron", "expr": "*/1 * * * *", "tz": "UTC"},
                 {"targets": SCAN_TARGETS, "delay": 0.5},
                 "Scans five hosts every minute, with progress"),
)


def add_demo_schedules(app: Horae) -> list[str]:
    """Add the demo schedules that do not exist yet; returns the ids it added."""
    added = []
    for demo in DEMO_SCHEDULES:
        try:
            app.schedules.add(demo.id, demo.task, demo.trigger, kwargs=demo.kwargs,
                              description=demo.description, tags=["demo"])
        except Conflict:  # already there (maybe edited by someone): leave it alone
            continue
        added.append(demo.id)
    return added


app = make_app()
