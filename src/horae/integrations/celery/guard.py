"""The Celery-side guard: a message id Horae published is executed at most once.

Celery does not make task ids unique: the broker delivers every message it was given. The
bridge (bridge.py) sends a message a second time, under the same id, only when a crash left
it unable to know whether the first send happened; installed in the Celery app, this guard
makes such a duplicate a no-op, so Horae's runs execute exactly once.

``install(celery_app)`` gives every task of the app a ``before_start`` that claims
``horae:celery:once:<task id>:<retries>`` in Redis with ``SET NX`` (kept ``ttl`` seconds)
and raises Celery's ``Ignore`` if it was already claimed: the duplicate stores no result,
so the first execution's state stays in the result backend. Only ids Horae made
(starting ``horae``, as the bridge's ``id_prefix`` must) are guarded; Celery's own retries
(``self.retry()``) count up ``retries`` and go through. Every delivery is also counted
(``horae:celery:delivered:<task id>``), so an operator (and the tests) can see how many
messages an id had.

Trade-off: with ``acks_late`` and ``reject_on_worker_lost``, a message redelivered after a
Celery worker died is a duplicate for the guard too, and is skipped: Horae records the
attempt as failed (or the run's timeout ends it) and its retries publish a new message.
"""

from __future__ import annotations

from typing import Any

ONCE_KEY = "horae:celery:once:{id}:{retries}"
DELIVERED_KEY = "horae:celery:delivered:{id}"
GUARDED_PREFIX = "horae"


def install(celery_app: Any, url: str | None = None, *, ttl: int = 7 * 86400) -> None:
    """Guard every task of ``celery_app`` (now and as tasks are added).

    ``url``: the Redis holding the guard's keys; by default the app's result backend, or
    its broker, whichever is Redis.
    """
    import redis

    client = redis.Redis.from_url(url or _redis_url(celery_app))

    def before_start(task: Any, task_id: str, args: Any, kwargs: Any) -> None:
        from celery.exceptions import Ignore  # type: ignore[import-untyped]

        if not task_id.startswith(GUARDED_PREFIX):
            return
        retries = int(getattr(task.request, "retries", 0) or 0)
        client.incr(DELIVERED_KEY.format(id=task_id))
        client.expire(DELIVERED_KEY.format(id=task_id), ttl)
        if not client.set(ONCE_KEY.format(id=task_id, retries=retries), "1", nx=True, ex=ttl):
            raise Ignore(f"duplicate delivery of {task_id} skipped by the Horae guard")

    before_start.__module__ = __name__

    def guard_all(*_: Any, **__: Any) -> None:
        for name, task in celery_app.tasks.items():
            if not name.startswith("celery."):
                type(task).before_start = before_start

    celery_app.on_after_finalize.connect(guard_all, weak=False)
    if celery_app.finalized:
        guard_all()


def _redis_url(celery_app: Any) -> str:
    for url in (celery_app.conf.result_backend, celery_app.conf.broker_url):
        if isinstance(url, str) and url.startswith(("redis://", "rediss://")):
            return url
    raise ValueError("the Horae guard needs a Redis URL: the app's result backend and "
                     "broker are not Redis, pass url=")
