"""What Horae's task catalogue says about a Celery task: its schema, its queue, its doc.

The schema comes from the task function's signature when its code is importable in this
process (``celery_app.tasks[name]``); otherwise it is open: any positional and keyword
arguments, checked by Celery's worker instead.
"""

from __future__ import annotations

import inspect
from typing import Any

from horae.tasks import POSITIONAL, REST, signature_schema

#: The open schema of a task whose code is not here: any ``args`` and ``kwargs``.
OPEN_SCHEMA: dict[str, Any] = {"type": "object", "properties": {},
                               "additionalProperties": True, POSITIONAL: [], REST: {}}

#: Schema key with what Celery knows of the task (its name and queue), for people reading
#: the catalogue; JSON Schema ignores it.
CELERY_KEY = "x-horae-celery"


def celery_queue(celery_app: Any, name: str) -> str | None:
    """The queue Celery routes ``name`` to: ``task_routes``, else the task's own ``queue``,
    else the app's default queue."""
    try:
        route = celery_app.amqp.router.route({}, name)
        queue = route.get("queue")
        found = getattr(queue, "name", queue)
        if found:
            return str(found)
    except Exception:  # a router that needs the message's arguments: fall back below
        pass
    task = celery_app.tasks.get(name)
    own = getattr(task, "queue", None) if task is not None else None
    return str(own or celery_app.conf.task_default_queue or "celery")


def task_schema(celery_app: Any, name: str) -> tuple[dict[str, Any], str]:
    """The JSON Schema of the task's arguments and its doc (open and empty without code)."""
    task = celery_app.tasks.get(name)
    func = getattr(task, "run", None) if task is not None else None
    if func is None:
        schema = dict(OPEN_SCHEMA)
        doc = ""
    else:
        schema, _ = signature_schema(func)
        doc = inspect.getdoc(func) or ""
    schema[CELERY_KEY] = {"name": name, "queue": celery_queue(celery_app, name)}
    return schema, doc
