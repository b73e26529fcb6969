"""A Celery app standing for a user's existing fleet: the Celery bridge's tests run its
tasks in a real Celery worker (tests/integration/test_celery_bridge.py, tests/system).

Broker and result backend come from the environment (RabbitMQ or Redis, Redis results).
Every task counts its executions by task id in Redis, so a test sees what Celery ran.
"""

from __future__ import annotations

import os
import time
from typing import Any

import redis
from celery import Celery

from horae.integrations.celery import guard

BROKER = os.environ.get("HORAE_TEST_CELERY_BROKER", "redis://127.0.0.1:6379/14")
BACKEND = os.environ.get("HORAE_TEST_CELERY_BACKEND", "redis://127.0.0.1:6379/15")



def make_app(broker: str = BROKER, backend: str = BACKEND) -> Celery:
    """The app on ``broker``, with this module's tasks and the Horae guard installed."""
    celery_app = Celery("tests.celery_app", broker=broker, backend=backend)
    celery_app.conf.update(
        task_serializer="json", result_serializer="json", accept_content=["json"],
        broker_connection_retry_on_startup=True, worker_hijack_root_logger=False,
        task_routes={"tests.celery_app.routed": {"queue": "reports"}},
    )
    for func in (ok, fail, retry_once, slow):
        celery_app.task(bind=True, max_retries=3, name=f"tests.celery_app.{func.__name__}")(
            func)
    celery_app.task(name="tests.celery_app.routed")(routed)
    guard.install(celery_app)
    return celery_app


RAN_KEY = "horae:test:ran:{id}"
PID_KEY = "horae:test:pid:{id}"


def counter() -> redis.Redis:
    return redis.Redis.from_url(BACKEND)


def _count(task_id: str) -> None:
    counter().incr(RAN_KEY.format(id=task_id))


def ok(self: Any, x: int, y: int = 1) -> dict[str, Any]:
    """Adds two numbers."""
    _count(self.request.id)
    return {"sum": x + y, "pid": os.getpid()}


def fail(self: Any, message: str = "boom") -> None:
    _count(self.request.id)
    raise ValueError(message)


def retry_once(self: Any) -> dict[str, int]:
    """Asks Celery for one retry, then succeeds."""
    _count(self.request.id)
    if self.request.retries < 1:
        raise self.retry(countdown=0.2)
    return {"retries": self.request.retries}


def slow(self: Any, seconds: float = 60.0) -> str:
    """Says its pid (so a test can kill it), then sleeps."""
    _count(self.request.id)
    counter().set(PID_KEY.format(id=self.request.id), os.getpid(), ex=600)
    time.sleep(seconds)
    return "woke"


def routed() -> str:
    return "routed"


app = make_app()
