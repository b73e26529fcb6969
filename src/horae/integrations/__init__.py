"""Reaching outside the worker: the built-in tasks, each off until an admin allows it --
``horae.http`` (:mod:`.http_task`) and ``horae.shell`` (:mod:`.shell_task`) -- and bridges
to systems that execute work elsewhere (``horae.integrations.celery``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from horae.config import IntegrationSettings

if TYPE_CHECKING:
    from horae.tasks import TaskRegistry

#: Built-in task name -> the setting that enables it (for the "disabled" refusal).
BUILTIN_TASKS = {"horae.http": "http_allow_hosts", "horae.shell": "shell_allow"}


def register_enabled(registry: TaskRegistry, settings: IntegrationSettings) -> None:
    """Register the built-in tasks that ``settings`` enable (none by default)."""
    if settings.http_allow_hosts:
        from horae.integrations.http_task import http_task

        registry.add(http_task(settings))
    if settings.shell_allow:
        from horae.integrations.shell_task import shell_task

        registry.add(shell_task(settings))
