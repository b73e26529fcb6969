"""``--processes N``: N worker processes that share nothing but the database.

One Python process runs one interpreter lock, so a worker uses about one core however many
slots it has. ``horae worker --processes N`` (and ``horae server --processes N``) starts
N ``horae worker`` children and supervises them:

- each child is a worker of its own (its own claims, leases, heartbeat and record); with
  ``--name W`` the children are ``W-1`` … ``W-N``, so a restarted child takes back its
  predecessor's runs at once;
- a child that exits while the parent is not stopping is started again after a backoff
  (0.5 s, doubling up to 30 s; a child that lived a minute starts from 0.5 s again); when
  one slot dies more than ``MAX_DEATHS`` times within ``DEATH_WINDOW`` seconds the parent
  stops every child and exits non-zero;
- SIGTERM/SIGINT to the parent is forwarded once to each child, which drains as a lone
  worker does; the parent waits for them, then exits;
- the children run in their own process group (a Ctrl-C on the terminal reaches only the
  parent, which forwards it once: two signals would make a child exit without draining)
  and watch their parent: if it dies (even ``kill -9``) they drain and exit.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

log = logging.getLogger("horae.supervisor")

#: The environment variable that tells a child whom to watch.
PARENT_ENV = "HORAE_SUPERVISOR_PID"
MAX_DEATHS = 5
DEATH_WINDOW = 60.0
MAX_BACKOFF = 30.0


@dataclass
class _Slot:
    index: int
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    deaths: list[float] = field(default_factory=list)
    restart_at: float | None = None
    backoff: float = 0.5


class Supervisor:
    """Starts the children, restarts those that die, stops them all on request."""

    def __init__(self, commands: Sequence[list[str]], env: dict[str, str] | None = None
                 ) -> None:
        self._slots = [_Slot(i + 1, list(argv)) for i, argv in enumerate(commands)]
        self._env = dict(os.environ if env is None else env, **{PARENT_ENV: str(os.getpid())})
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="horae-supervisor",
                                        daemon=True)
        #: Why the supervisor gave up (children kept dying), or None.
        self.failed: str | None = None

    @property
    def pids(self) -> list[int]:
        with self._lock:
            return [s.proc.pid for s in self._slots if s.proc is not None
                    and s.proc.poll() is None]

    def start(self, on_give_up: threading.Event) -> None:
        """Start every child; ``on_give_up`` is set if children keep dying."""
        self._give_up = on_give_up
        with self._lock:
            for slot in self._slots:
                self._spawn(slot)
        self._thread.start()

    def stop(self, grace: float) -> int:
        """Forward one SIGTERM to each child and wait for their drain (``grace`` plus a
        margin, then SIGKILL). Returns how many did not exit with code 0."""
        self._stopping.set()
        self._thread.join(timeout=5)
        with self._lock:
            procs = [s.proc for s in self._slots if s.proc is not None]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace + 15
        bad = 0
        for proc in procs:
            try:
                code = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("worker process %d did not drain in time; killing it", proc.pid)
                proc.kill()
                code = proc.wait()
            bad += code not in (0, None)
        return bad

    def _spawn(self, slot: _Slot) -> None:
        # Its own process group: a terminal's Ctrl-C reaches the parent only, which
        # forwards exactly one signal (a second one makes a worker exit without draining).
        slot.proc = subprocess.Popen(slot.argv, env=self._env, process_group=0)
        slot.started = time.monotonic()
        slot.restart_at = None
        log.info("worker process %d started (pid %d)", slot.index, slot.proc.pid)

    def _watch(self) -> None:
        while not self._stopping.wait(0.2):
            with self._lock:
                if self._stopping.is_set():
                    return
                for slot in self._slots:
                    if not self._check(slot):
                        self._give_up.set()
                        return

    def _check(self, slot: _Slot) -> bool:
        """Restart ``slot``'s child if it died (after its backoff); False to give up."""
        now = time.monotonic()
        if slot.restart_at is not None:
            if now >= slot.restart_at:
                self._spawn(slot)
            return True
        assert slot.proc is not None
        code = slot.proc.poll()
        if code is None:
            return True
        if now - slot.started >= DEATH_WINDOW:
            slot.backoff = 0.5  # it had been healthy: a fresh start
        slot.deaths = [t for t in slot.deaths if now - t < DEATH_WINDOW] + [now]
        if len(slot.deaths) > MAX_DEATHS:
            self.failed = (f"worker process {slot.index} exited {len(slot.deaths)} times in "
                           f"{DEATH_WINDOW:g}s (last exit code {code}); giving up")
            log.error("%s", self.failed)
            return False
        log.warning("worker process %d (pid %d) exited with code %s; restarting it in %.1fs",
                    slot.index, slot.proc.pid, code, slot.backoff)
        slot.restart_at = now + slot.backoff
        slot.backoff = min(slot.backoff * 2, MAX_BACKOFF)
        return True


def watch_parent(stop: threading.Event) -> None:
    """In a supervised child: set ``stop`` (a drain) when the supervisor is gone."""
    parent = os.environ.get(PARENT_ENV)
    if not parent or not parent.isdigit():
        return

    def watch() -> None:
        while not stop.wait(0.5):
            if os.getppid() != int(parent):
                log.error("the supervising process %s is gone; draining", parent)
                stop.set()

    threading.Thread(target=watch, name="horae-parent-watch", daemon=True).start()


def child_command(global_args: Sequence[str], worker_args: Sequence[str]) -> list[str]:
    """``python -m horae.cli GLOBAL... worker WORKER...`` with this interpreter."""
    return [sys.executable, "-m", "horae.cli", *global_args, "worker", *worker_args]
