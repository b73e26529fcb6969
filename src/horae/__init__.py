"""Horae: a dynamic job scheduler. Schedules and runs live in a database; each fire runs once."""

from horae.aio import AsyncHorae
from horae.app import Horae
from horae.errors import Conflict, HoraeError, InvalidInput, NotFound
from horae.hooks import HookEvent
from horae.models import Catchup, LogLine, Overlap, Policies, Run, RunState, Schedule
from horae.tasks import Task
from horae.triggers import any_of, at, cron, interval
from horae.worker.context import Cancelled, Context

__all__ = [
    "AsyncHorae",
    "Cancelled",
    "Catchup",
    "Conflict",
    "Context",
    "HookEvent",
    "Horae",
    "HoraeError",
    "InvalidInput",
    "LogLine",
    "NotFound",
    "Overlap",
    "Policies",
    "Run",
    "RunState",
    "Schedule",
    "Task",
    "__version__",
    "any_of",
    "at",
    "cron",
    "interval",
]
__version__ = "0.1.0"
