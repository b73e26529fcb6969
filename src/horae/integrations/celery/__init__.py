"""Drive an existing Celery fleet from Horae: schedules and workflow steps that run Celery
tasks by name, without their code in Horae's workers (docs/integrations/celery.md).

``register(app, celery_app, names=[...])`` registers one Horae task per Celery task, named
``celery:<celery name>``. A Horae worker with them claims the runs, publishes each through
``celery_app.send_task`` (bridge.py: exactly once per attempt) and records what Celery did.
Install :func:`horae.integrations.celery.guard.install` in the Celery app for exactly-once
execution.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from horae.errors import InvalidInput
from horae.integrations.celery.bridge import Bridge, CeleryTaskRevoked
from horae.integrations.celery.catalogue import task_schema
from horae.integrations.celery.guard import GUARDED_PREFIX
from horae.tasks import Task

if TYPE_CHECKING:
    from collections.abc import Iterable

    from horae.app import Horae
    from horae.worker.context import Context

__all__ = ["PREFIX", "Bridge", "CeleryTaskRevoked", "register"]

#: The Horae name of a Celery task is this prefix and its Celery name.
PREFIX = "celery:"


def register(app: Horae, celery_app: Any, names: Iterable[str] | None = None, *,
             queue: str = "celery", retries: int = 0, retry_backoff: float = 1.0,
             timeout: float | None = None, send_options: dict[str, Any] | None = None,
             poll: float = 0.05, max_poll: float = 1.0,
             id_prefix: str = "horae", advertise: bool = False) -> list[Task]:
    """Register Celery tasks on ``app`` as ``celery:<name>`` bridge tasks; returns them.

    ``names``: the Celery task names (default: every task of ``celery_app`` but Celery's
    own ``celery.*``). ``queue`` is the Horae queue their runs wait in (a Horae worker must
    serve it); the Celery queue is Celery's routing, or ``send_options={"queue": ...}``.
    ``retries``, ``retry_backoff`` and ``timeout`` are Horae's, as for any task: a retry
    publishes a new message, a timeout revokes the Celery task. A Horae worker that dies
    while a run waits is survived only when an attempt is left (``retries`` >= 1): the next
    attempt re-attaches to the same Celery task instead of publishing again.
    ``id_prefix`` starts every Celery task id (``<id_prefix>-<run id>-<attempt>``): give
    each Horae database its own when several share a Celery result backend. It must start
    with ``horae`` for the guard (guard.py) to recognise the ids. ``advertise`` writes
    the tasks into the catalogue now (a worker with them writes them when it starts), so
    processes without them (the REST API, the CLI) can check arguments before any runs.
    """
    if not id_prefix.startswith(GUARDED_PREFIX):
        raise InvalidInput("id_prefix", f"must start with {GUARDED_PREFIX!r}")
    bridge = Bridge(app, celery_app, dict(send_options or {}), poll, max_poll, id_prefix)
    if names is None:
        celery_app.finalize()
        names = sorted(n for n in celery_app.tasks if not n.startswith("celery."))
    added = []
    for name in names:
        schema, doc = task_schema(celery_app, name)
        runner = _runner(bridge, name)
        runner.__doc__ = doc or f"Celery task {name}, run through the Celery bridge."
        task = Task(f"{PREFIX}{name}", runner, app=app, queue=queue, retries=retries,
                    retry_backoff=retry_backoff, timeout=timeout, mode="thread",
                    schema=schema, wants_ctx=True, ctx_position=None)
        added.append(app.registry.add(task))
    if advertise:
        app.store.tasks_advertise([t.info() for t in added])
    return added


def _runner(bridge: Bridge, name: str) -> Any:
    def run(*args: Any, ctx: Context, **kwargs: Any) -> Any:
        return bridge.execute(name, ctx, list(args), kwargs)

    return run
