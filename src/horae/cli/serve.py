"""``horae server``, ``horae scheduler``, ``horae worker``: long-running processes.

Each runs until SIGINT or SIGTERM, then drains: the worker stops claiming, lets running
work finish within ``--grace`` seconds and gives the rest back to the queue; the process
exits 0. A second signal exits at once (leases then expire and runs are rescued).
"""

from __future__ import annotations

import faulthandler
import gc
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import click

from horae import __version__
from horae.app import Horae
from horae.cli.env import Env, pass_env, safe_url, split_list
from horae.cli.render import Out
from horae.cli.supervisor import Supervisor, child_command, watch_parent
from horae.errors import InvalidInput


@dataclass
class WorkerOptions:
    queues: list[str]
    concurrency: int
    name: str | None
    lease: float
    grace: float
    labels: dict[str, str] = field(default_factory=dict)
    prefetch: int | None = None
    max_backlog: int | None = None
    processes: int = 1
    log_level: str = "info"

    def start_kwargs(self) -> dict[str, Any]:
        options: dict[str, Any] = {"queues": self.queues, "concurrency": self.concurrency,
                                   "lease": self.lease, "grace": self.grace,
                                   "labels": self.labels, "prefetch": self.prefetch,
                                   "max_backlog": self.max_backlog}
        if self.name:
            options["name"] = self.name
        return options

    def child_args(self, index: int) -> list[str]:
        """The ``horae worker`` options of child ``index`` (1-based) of ``--processes``."""
        args = ["-Q", ",".join(self.queues), "-c", str(self.concurrency),
                "--lease", repr(self.lease), "--grace", repr(self.grace),
                "--log-level", self.log_level]
        if self.prefetch is not None:
            args += ["--prefetch", str(self.prefetch)]
        if self.max_backlog is not None:
            args += ["--max-backlog", str(self.max_backlog)]
        if self.name:
            args += ["--name", f"{self.name}-{index}"]
        for key, value in self.labels.items():
            args += ["--label", f"{key}={value}"]
        return args


@dataclass
class Service:
    """Something else this process serves, with the same start/stop lifecycle."""

    name: str
    detail: str
    start: Callable[[], None]
    stop: Callable[[float], None]
    # The banner's lines for it, asked once it started (a port given as 0 is known then).
    lines: Callable[[], list[tuple[str, str]]] | None = None


@dataclass
class Plan:
    scheduler: bool
    worker: WorkerOptions | None
    services: list[Service] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: ``--processes N`` (N > 1): the worker runs in N supervised child processes.
    supervisor: Supervisor | None = None


def worker_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("-Q", "--queues", "queues", multiple=True, metavar="Q1,Q2",
                     help="Queues to serve (default: the queues of the app's tasks)."),
        click.option("-c", "--concurrency", type=click.IntRange(min=1), default=8,
                     show_default=True, help="Runs executed at the same time."),
        click.option("--name", help="A stable worker identity; a restarted worker with the "
                                    "same name takes back its crashed runs at once."),
        click.option("--lease", type=click.FloatRange(min=1), default=30.0, show_default=True,
                     help="Seconds a claimed run stays ours without a heartbeat."),
        click.option("--grace", type=click.FloatRange(min=0), default=30.0, show_default=True,
                     help="On SIGTERM, seconds running work may take to finish."),
        click.option("--prefetch", type=click.IntRange(min=0), default=None,
                     help="Runs claimed ahead of free slots (default: the concurrency). "
                          "0 for long tasks shared by several workers."),
        click.option("--processes", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Worker processes, sharing nothing but the database (one per "
                          "core). N > 1: this process supervises N `horae worker` "
                          "children, restarting those that crash."),
        click.option("--max-backlog", type=click.IntRange(min=1), default=None,
                     help="Outcomes waiting to be written at which the worker stops "
                          "claiming (default: 1000 or twice the concurrency)."),
        click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
                     default="info", show_default=True),
        click.option("--label", "labels", multiple=True, metavar="KEY=VALUE",
                     help="Describe this worker (e.g. segment=dmz, host-role=scanner); "
                          "shown in `horae workers list` and the console. Repeatable."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _worker_plan(app: Horae, queues: tuple[str, ...], concurrency: int, name: str | None,
                 lease: float, grace: float, labels: tuple[str, ...] = (),
                 prefetch: int | None = None, **more: Any) -> WorkerOptions:
    chosen = split_list(queues) or app.task_queues()
    parsed: dict[str, str] = {}
    for label in labels:
        key, sep, value = label.partition("=")
        if not sep or not key.strip():
            raise InvalidInput("label", f"{label!r} is not KEY=VALUE")
        parsed[key.strip()] = value.strip()
    return WorkerOptions(chosen, concurrency, name, lease, grace, parsed, prefetch, **more)


def _supervise(env: Env, plan: Plan) -> None:
    """``--processes N`` > 1: the worker of ``plan`` becomes N supervised children."""
    options = plan.worker
    if options is None or options.processes <= 1:
        return
    if env.app_spec is None:
        raise InvalidInput("processes", "worker processes load the app's tasks by name: "
                                        "give -A module:app (--demo runs in one process)")
    global_args = ["-A", env.app_spec, "--color", "never", *(["--debug"] if env.debug else [])]
    # The URL goes through the environment: a password on a command line is visible to
    # every user of the machine (ps).
    child_env = dict(os.environ, HORAE_DATABASE_URL=env.url)
    plan.supervisor = Supervisor(
        [child_command(global_args, options.child_args(i))
         for i in range(1, options.processes + 1)], child_env)


@click.command()
@click.option("--demo", is_flag=True,
              help="Add the demo tasks and schedules (horae.demo) to try Horae out.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address the REST API listens on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port of the REST API.")
@click.option("--no-api", is_flag=True, help="Do not serve the REST API.")
@click.option("--trusted-proxies", metavar="ADDRS", default=None,
              help="Comma-separated addresses/networks of reverse proxies whose "
                   "X-Forwarded-For is believed (default: none; HORAE_TRUSTED_PROXIES).")
@worker_options
@pass_env
def server(env: Env, demo: bool, host: str, port: int, no_api: bool,
           trusted_proxies: str | None, queues: tuple[str, ...],
           concurrency: int, name: str | None, lease: float, grace: float,
           prefetch: int | None, processes: int, max_backlog: int | None, log_level: str,
           labels: tuple[str, ...]) -> None:
    """Scheduler and worker in one process (SQLite by default): the quickest start.

    It serves the REST API too (--host, --port; --no-api leaves it out). With
    --processes N the scheduler and the API stay in this process and the worker runs in N
    child processes.
    """
    _logging(log_level)
    app = env.app(demo=demo)
    notes = []
    if demo:
        from horae.demo import add_demo_schedules, register_tasks

        if env.app_spec is not None and "demo.hello" not in app.registry:
            register_tasks(app)
        added = add_demo_schedules(app)
        notes.append(f"demo: added schedules {', '.join(added)}" if added
                     else "demo: schedules already present")
    services = [] if no_api else web_services(app, host, port, trusted_proxies)
    plan = Plan(scheduler=True, worker=None, services=services, notes=notes)
    if len(app.registry):
        plan.worker = _worker_plan(app, queues, concurrency, name, lease, grace, labels,
                                   prefetch, processes=processes, max_backlog=max_backlog,
                                   log_level=log_level)
        _supervise(env, plan)
    else:
        plan.notes.append("no tasks registered, so no worker here: give -A module:app or "
                          "--demo, or run `horae -A ... worker` elsewhere")
    serve(env, app, plan, grace)


@click.command()
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="info", show_default=True)
@pass_env
def scheduler(env: Env, log_level: str) -> None:
    """A scheduler alone: turns due fires into runs. Run as many as you like."""
    _logging(log_level)
    app = env.app()
    serve(env, app, Plan(scheduler=True, worker=None), grace=0.0)


@click.command()
@worker_options
@pass_env
def worker(env: Env, queues: tuple[str, ...], concurrency: int, name: str | None, lease: float,
           grace: float, prefetch: int | None, processes: int, max_backlog: int | None,
           log_level: str, labels: tuple[str, ...]) -> None:
    """A worker alone: runs the app's tasks from its queues. Needs -A module:app."""
    _logging(log_level)
    app = env.app()
    if not len(app.registry):
        raise InvalidInput("app", "a worker needs tasks to run; give -A module:app naming "
                                  "your Horae object (e.g. horae -A myproject.jobs:app worker)")
    plan = Plan(scheduler=False,
                worker=_worker_plan(app, queues, concurrency, name, lease, grace, labels,
                                    prefetch, processes=processes, max_backlog=max_backlog,
                                    log_level=log_level))
    _supervise(env, plan)
    serve(env, app, plan, grace)


def web_services(app: Horae, host: str = "127.0.0.1", port: int = 8765,
                 trusted_proxies: str | None = None) -> list[Service]:
    """The REST API and the web console, served by ``horae server``."""
    from horae.api import ApiServer
    from horae.console import mount_console

    api = ApiServer(app, host, port, proxies=trusted_proxies)
    mount_console(api.app, app)

    def lines() -> list[tuple[str, str]]:
        console = api.url.removesuffix("/api/v1") + "/"
        return [("api", api.url), ("console", console),
                ("sign in", "with an API token (the first start prints one; `horae tokens "
                            "create --role editor` makes more) or as a user (`horae users "
                            "create NAME --role editor`)")]

    return [Service("api", api.url, api.start, api.stop, lines)]


def serve(env: Env, app: Horae, plan: Plan, grace: float) -> None:
    """Start the plan, print the banner, wait for a signal, then drain and return."""
    out = Out(env.color)
    app.store  # noqa: B018 - connect and migrate now, so a bad database fails before the banner
    stop = threading.Event()
    supervisor = plan.supervisor
    in_process = plan.worker is not None and supervisor is None
    with _signals(stop) as signalled:
        watch_parent(stop)
        app.start(scheduler=plan.scheduler, worker=in_process,
                  **(plan.worker.start_kwargs() if in_process and plan.worker else {}))
        tune_gc()
        started: list[Service] = []
        failed = 0
        try:
            if supervisor is not None:
                supervisor.start(on_give_up=stop)
            for service in plan.services:
                service.start()
                started.append(service)
            _banner(out, app, plan, grace)
            # Wake now and then: the kernel may hand SIGTERM to any thread, and Python runs
            # its handler only when the main thread runs bytecode, so a main thread blocked
            # in an endless wait could sleep through the signal (seen: a server that did
            # not stop). The handler only raises a flag; no lock is taken in it.
            while not signalled.got and not stop.wait(0.2):
                pass
            stop.set()  # for the threads that watch it (the parent watcher, supervisor)
            out.hint(f"stopping: draining running work (up to {grace:g}s)…"
                     if plan.worker else "stopping…")
        finally:
            if supervisor is not None:
                failed = supervisor.stop(grace)
            for service in reversed(started):
                service.stop(grace)
            app.stop(grace)
    if supervisor is not None and supervisor.failed:
        raise click.ClickException(supervisor.failed)
    if failed:
        out.hint(f"{failed} worker process(es) did not stop cleanly")
    out.hint("stopped")


#: Container objects allocated (net) between two young-generation collections; Python's
#: default is 700.
GC_YOUNG_THRESHOLD = 10_000


def tune_gc() -> None:
    """Once a ``horae`` process has started: the objects it holds now (modules, the app,
    its tasks) are moved out of the collector's sight for good (``gc.freeze``), and young
    collections run every 10,000 net allocations instead of 700.

    A busy worker allocates a few objects per run that die by reference count, yet the
    default threshold ran about 700 collections per 50,000 runs, each older one walking
    every object of the process: 8 % of a no-op worker's CPU. (This process is ours; an
    application that embeds Horae keeps its own settings.)
    """
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


class _Signalled:
    """Set by the SIGINT/SIGTERM handler: a plain attribute, as a handler must not take a
    lock (it runs between two bytecodes of the main thread, which may hold that lock)."""

    got = False


@contextmanager
def _signals(stop: threading.Event) -> Iterator[_Signalled]:
    """SIGINT/SIGTERM raise the flag it yields; a second one (or one once ``stop`` is set)
    exits at once."""
    signalled = _Signalled()

    def handle(signum: int, frame: FrameType | None) -> None:
        if signalled.got or stop.is_set():  # is_set() takes no lock
            os._exit(128 + signum)  # the operator insists; leases expire and runs are rescued
        signalled.got = True

    if threading.current_thread() is not threading.main_thread():
        yield signalled  # signals can only be handled in the main thread (embedded use)
        return
    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    # `kill -USR1 <pid>` prints every thread's stack to stderr: what a process that does not
    # stop (or does not answer) is waiting for, without stopping it.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        yield signalled
    finally:
        faulthandler.unregister(signal.SIGUSR1)
        for s, handler in previous.items():
            signal.signal(s, handler)


def _banner(out: Out, app: Horae, plan: Plan, grace: float) -> None:
    roles = [r for r, on in (("scheduler", plan.scheduler), ("worker", plan.worker)) if on]
    roles += [s.name for s in plan.services]
    out.line(f"Horae {__version__}: {' + '.join(roles) or 'nothing'} (pid {os.getpid()})",
             "bold")
    pairs: list[tuple[str, str]] = [("database", safe_url(app.database_url))]
    if plan.supervisor is not None:
        pairs += [("workers", f"{len(plan.supervisor.pids)} processes (pids "
                              f"{', '.join(map(str, plan.supervisor.pids))})")]
    if plan.worker is not None:
        w = app.worker
        pairs += [("worker", str(getattr(w, "id", "") or "in the worker processes")),
                  ("queues", ", ".join(plan.worker.queues)),
                  ("concurrency", str(plan.worker.concurrency)),
                  ("tasks", ", ".join(t.name for t in app.registry))]
    for service in plan.services:
        pairs += service.lines() if service.lines else [(service.name, service.detail)]
    out.fields(pairs)
    for note in plan.notes:
        out.line(note, "yellow")
    drain = f" (running work gets {grace:g}s to finish)" if plan.worker else ""
    out.hint(f"Press Ctrl-C to stop{drain}.")


def _logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper()),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
