"""``Horae``: configuration, store, task registry, and the parts that run in a process."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, overload

from horae.alerts.manager import ChannelManager
from horae.config import IntegrationSettings, database_url
from horae.declared import Declarations
from horae.errors import InvalidInput
from horae.hooks import HookRegistry
from horae.integrations import BUILTIN_TASKS, register_enabled
from horae.models import TaskInfo, WorkerInfo
from horae.runs import RunManager
from horae.schedules import ScheduleManager
from horae.store import QueueStats, Store
from horae.tasks import Mode, Task, TaskRegistry, make_task
from horae.workflows.api import WorkflowManager

log = logging.getLogger("horae")
F = TypeVar("F", bound=Callable[..., Any])


class Horae:
    """The object users hold.

    ``Horae("sqlite:///horae.db")`` or ``Horae("postgresql://...")``; with no URL,
    ``HORAE_DATABASE_URL`` or ``horae.toml`` decide, else ``sqlite:///horae.db``.
    Nothing connects until the store is first used or :meth:`start` is called.
    """

    def __init__(self, database_url_: str | None = None, *, migrate: bool = True,
                 http_allow_hosts: Sequence[str] | str | None = None,
                 http_secrets: Mapping[str, str] | str | None = None,
                 shell_allow: Mapping[str, Sequence[str]] | str | None = None) -> None:
        """``http_allow_hosts``, ``http_secrets`` and ``shell_allow`` enable the built-in
        ``horae.http`` and ``horae.shell`` tasks (:class:`horae.config.IntegrationSettings`;
        default: the environment, else horae.toml, else off)."""
        self.database_url = database_url(database_url_)
        self.migrate = migrate
        self.registry = TaskRegistry()
        self.declarations = Declarations()
        self.schedules = ScheduleManager(self)
        self.runs = RunManager(self)
        self.workflows = WorkflowManager(self)
        #: Hooks registered with :meth:`on` (``hooks.consumer``, ``hooks.lease``: see
        #: docs/hooks.md).
        self.hooks = HookRegistry()
        self.channels = ChannelManager(self)
        self._store: Store | None = None
        self._store_pid = os.getpid()
        self._abandoned: list[Store] = []
        self._store_lock = threading.Lock()
        self._parts: list[Any] = []
        self.integrations = IntegrationSettings.from_config(http_allow_hosts, http_secrets,
                                                            shell_allow)
        register_enabled(self.registry, self.integrations)

    # -- tasks -----------------------------------------------------------------------

    @overload
    def task(self, func: F, /) -> Task: ...

    @overload
    def task(
        self,
        name: str | None = None,
        /,
        *,
        queue: str = "default",
        retries: int = 0,
        retry_backoff: float = 1.0,
        timeout: float | None = None,
        mode: Mode | None = None,
        priority: int = 0,
        concurrency: int | None = None,
    ) -> Callable[[Callable[..., Any]], Task]: ...

    def task(self, name: Any = None, /, **options: Any) -> Any:
        """Register a task: ``@app.task``, ``@app.task("scan.nmap", queue="seg-a")``.

        ``concurrency=N`` keeps at most N runs of the task running at once, across every
        worker (enforced when claiming, under a lock on the task's catalogue row).
        """
        if callable(name):
            return self.registry.add(make_task(name, app=self))

        def register(func: Callable[..., Any]) -> Task:
            return self.registry.add(make_task(func, name=name, app=self, **options))

        return register

    def periodic(
        self, id: str, trigger: Any, **options: Any
    ) -> Callable[[Callable[..., Any]], Task]:
        """Declare a schedule of a task in code; :meth:`start` syncs it to the database.

        Put it above ``@app.task`` (or on a plain function, which it registers as a task
        with the defaults), once per schedule::

            @app.periodic("nightly-eu", cron("0 2 * * *"), kwargs={"region": "eu"})
            @app.task("reports.build", queue="reports")
            def build_report(region: str) -> None: ...

        ``options`` are those of :meth:`ScheduleManager.add`. The declaration is checked
        here (options, trigger, arguments against the task); syncing is idempotent, as
        :meth:`ScheduleManager.ensure` explains.
        """
        def declare(target: Callable[..., Any]) -> Task:
            task = target if isinstance(target, Task) else self.task(target)
            self.declarations.add(task, id, trigger, options)
            return task

        return declare

    @overload
    def on(self, event: str, func: None = None, /, *,
           name: str | None = None) -> Callable[[F], F]: ...

    @overload
    def on(self, event: str, func: F, /, *, name: str | None = None) -> F: ...

    def on(self, event: str, func: Any = None, /, *, name: str | None = None) -> Any:
        """Call ``func`` with a :class:`horae.hooks.HookEvent` on each ``event``:
        ``@app.on("run.failed")`` or ``app.on("run.failed", func)``.

        Events: ``run.started``, ``run.succeeded``, ``run.failed``, ``run.timed_out``,
        ``run.lost``, ``run.cancelled``, ``run.skipped``, ``run.missed``, ``run.retrying``,
        ``schedule.changed``, ``worker.gone``, and ``run.*`` or ``*``. An unknown name is
        InvalidInput naming ``event``. Hooks run in the processes that :meth:`start` this
        app, on a thread of their own, once per event across all of them (at least once:
        docs/hooks.md); sync or async.
        """
        if func is not None:
            return self.hooks.add(event, func, name)
        self.hooks.check_event(event)  # at the decorator line, not at the function

        def register(target: F) -> F:
            self.hooks.add(event, target, name)
            return target

        return register

    def task_info(self, name: str) -> TaskInfo:
        """A task's catalogue entry: from this process's code, else as workers advertise it."""
        local = self.registry.get(name) if isinstance(name, str) else None
        if local is not None:
            return local.info()
        if isinstance(name, str):
            for info in self.store.tasks_list():
                if info.name == name:
                    return info
        if name in BUILTIN_TASKS:
            raise InvalidInput("task", f"task {name!r} is disabled until an admin "
                                       f"allow-lists it ({BUILTIN_TASKS[name]})")
        known = sorted({t.name for t in self.registry} | {t.name for t in self.store.tasks_list()})
        raise InvalidInput("task", f"unknown task {name!r}; known tasks: "
                                   f"{', '.join(known) or 'none (is a worker running?)'}")

    def tasks_list(self) -> list[TaskInfo]:
        """The tasks running workers advertise (``registry`` holds this process's own)."""
        return self.store.tasks_list()

    def workers_list(self) -> list[WorkerInfo]:
        return self.store.workers_list()

    def queues_stats(self) -> tuple[float, list[QueueStats]]:
        """The database's now and every queue's backlog, lag and workers
        (:class:`horae.store.QueueStats`)."""
        return self.store.queues_stats()

    def queue_warnings(self, queues: Sequence[str]) -> list[dict[str, str]]:
        """A warning for each of ``queues`` that no live worker serves (one cheap read)."""
        from horae.queue_warnings import unserved_queue_warnings

        return unserved_queue_warnings(self.store.queues_unserved(queues))

    def now(self) -> float:
        """The database's clock."""
        return self.store.now()

    # -- store -----------------------------------------------------------------------

    @property
    def store(self) -> Store:
        if self._store is not None and self._store_pid != os.getpid():
            # Forked (gunicorn --preload): the parent's connections are not ours to use or
            # close; keep them referenced so no finalizer closes the parent's sockets.
            self._abandoned.append(self._store)
            self._store = None
        if self._store is None:
            with self._store_lock:
                if self._store is None:
                    store = Store(self.database_url)
                    if self.migrate:
                        store.migrate()
                    self._store = store
                    self._store_pid = os.getpid()
        return self._store

    # -- running parts ---------------------------------------------------------------

    def start(
        self,
        *,
        scheduler: bool = True,
        worker: bool = True,
        queues: Sequence[str] | None = None,
        concurrency: int = 8,
        hooks: bool = True,
        **worker_options: Any,
    ) -> None:
        """Start a scheduler and/or a worker in background threads of this process, and
        the hooks dispatcher when hooks are registered (``hooks=False``: not here).

        The worker serves ``queues``; by default the queues of the tasks registered so far
        (as ``horae server`` does), or ``default`` when there are none: a run waits for a
        worker on its queue, so serving only ``default`` left other queues' runs waiting.
        """
        from horae.scheduler import Scheduler
        from horae.worker.worker import Worker

        self.store  # noqa: B018 - connect and migrate before any thread starts
        if len(self.declarations):
            # Before the scheduler starts, so it plans from the declared definitions.
            self.schedules.sync()
        if hooks and len(self.hooks):
            from horae.hooks.dispatcher import HookDispatcher

            # First in, so stopped last: it may still deliver what the others' stop wrote.
            self._parts.append(HookDispatcher(self, self.hooks))
        if scheduler:
            self._parts.append(Scheduler(self))
        if worker:
            if queues is None:
                queues = self.task_queues()
            self._parts.append(Worker(self, queues=queues, concurrency=concurrency,
                                      **worker_options))
        for part in self._parts:
            part.start()

    def task_queues(self) -> list[str]:
        """The queues the registered tasks name, sorted; ``["default"]`` when there is none."""
        return sorted({task.queue for task in self.registry}) or ["default"]

    def stop(self, grace: float | None = None) -> None:
        """Stop what :meth:`start` started (workers drain within ``grace`` s) and disconnect."""
        from horae.worker.worker import Worker

        for part in reversed(self._parts):
            if isinstance(part, Worker):
                part.stop(grace)
            else:
                part.stop()
        self._parts.clear()
        if self._store is not None:
            self._store.close()
            self._store = None

    def asgi(self, prefix: str = "", *, start: bool = False) -> Any:
        """The REST API and the web console as one ASGI app to mount in FastAPI, Starlette
        or any ASGI server (:func:`horae.mounting.asgi`); ``start=True``: its lifespan
        starts and stops a scheduler and a worker in this process."""
        from horae.mounting import asgi

        return asgi(self, prefix, start=start)

    @property
    def scheduler(self) -> Any:
        from horae.scheduler import Scheduler

        return next((p for p in self._parts if isinstance(p, Scheduler)), None)

    @property
    def worker(self) -> Any:
        from horae.worker.worker import Worker

        return next((p for p in self._parts if isinstance(p, Worker)), None)

    @property
    def hook_dispatcher(self) -> Any:
        from horae.hooks.dispatcher import HookDispatcher

        return next((p for p in self._parts if isinstance(p, HookDispatcher)), None)

    def __enter__(self) -> Horae:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
