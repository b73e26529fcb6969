"""gunicorn settings for the example: every web worker also hosts a Horae scheduler.

    gunicorn -w 4 -c gunicorn.conf.py app:flask_app

Why one scheduler per web worker is safe: Horae's schedulers are stateless loops over the
database. A fire is a row with UNIQUE(schedule_id, fire_time), written in the same
transaction that advances the schedule, so four (or forty) schedulers still turn each fire
into exactly one run. More schedulers only add availability: if a worker dies or is
recycled (max_requests), the others keep firing.

Why ``post_fork`` and not at import — the APScheduler ``--preload`` trap:
  * With ``--preload`` gunicorn imports the app once in the master, then forks the workers.
    A scheduler started at import would run its threads in the *master* only (fork copies
    no threads), so the workers would hold a scheduler object that never runs; and forking
    a process that has running threads can copy a lock another thread was holding (logging,
    a database driver), deadlocking the child.
  * Without ``--preload`` each worker imports the app itself, but so does every other
    process that imports it (``horae -A app:horae worker``, a shell, a test) — none of which
    should start a scheduler by surprise. Horae keeps imports free of side effects.
  * ``post_fork`` runs in each worker, right after the fork: its threads and its database
    connections belong to that worker. With or without ``--preload`` it is the right place.
So the rule: never start threads or open connections at import; start them in post_fork
(uwsgi: ``@postfork``), stop them in worker_exit.

Edits made in any web worker reach every scheduler through the database (PostgreSQL
LISTEN/NOTIFY; SQLite: a change counter polled every 20 ms), never through process memory,
which is the other half of the APScheduler trap.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))

# Import the app from this folder wherever gunicorn is started (a relative sqlite:/// URL
# is then relative to this folder too).
chdir = HERE
bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
# Let a worker finish its requests and stop its scheduler on SIGTERM before being killed.
graceful_timeout = 20


def _horae(server: Any) -> Any:
    """The ``horae`` object of the module gunicorn serves (``app`` in ``app:flask_app``).

    Importing it here is what gunicorn is about to do anyway; with ``--preload`` it is
    already imported and this returns it.
    """
    module_name = (server.app.app_uri or "app:flask_app").split(":")[0]
    return importlib.import_module(module_name).horae


def post_fork(server: Any, worker: Any) -> None:
    horae = _horae(server)
    # A scheduler only: runs are executed by `horae -A app:horae worker` processes, so a
    # slow task never takes a web worker's CPU or memory. (worker=True would also work.)
    horae.start(scheduler=True, worker=False)
    server.log.info("horae: scheduler started in web worker pid=%s", worker.pid)


def worker_exit(server: Any, worker: Any) -> None:
    horae = _horae(server)
    passes = getattr(horae.scheduler, "passes", 0)
    horae.stop()
    server.log.info("horae: scheduler stopped in web worker pid=%s after %s passes",
                    worker.pid, passes)
