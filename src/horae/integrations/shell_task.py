"""The built-in ``horae.shell`` task: run a command an admin allow-listed, by its name.

``shell_allow`` (:class:`horae.config.IntegrationSettings`) maps a name to an argv; a run's
only argument is that name, so nobody who can create schedules or runs can choose a
program or an argument. The argv is executed directly, never through a shell. The
command's stdout and stderr become the run's log (``INFO`` and ``ERROR``); an exit code
other than 0 fails the run. A timeout or a cancel kills the command (a run's
``ctx.cancelled`` is watched while it runs).
"""

from __future__ import annotations

import subprocess
import threading
from typing import IO, Any

from horae.config import IntegrationSettings
from horae.tasks import Task, make_task
from horae.worker.context import Context, current_tracker

TASK_NAME = "horae.shell"
#: Seconds between looks at ``ctx.cancelled`` while the command runs.
POLL = 0.1


class ShellTaskError(Exception):
    """The command is unknown or failed; the run's error."""


def run_command(commands: dict[str, tuple[str, ...]], command: str,
                ctx: Context) -> dict[str, Any]:
    """Run the allow-listed ``command``; its output goes to the run's log."""
    argv = commands.get(command)
    if argv is None:
        raise ShellTaskError(f"command {command!r} is not in shell_allow "
                             f"(allowed: {', '.join(sorted(commands)) or 'none'})")
    tracker = current_tracker()
    try:
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, errors="replace")
    except OSError as exc:
        raise ShellTaskError(f"command {command!r} could not start: {exc}") from None
    assert proc.stdout is not None and proc.stderr is not None
    readers = [_reader(proc.stdout, tracker, "INFO"), _reader(proc.stderr, tracker, "ERROR")]
    while True:
        try:
            code = proc.wait(POLL)
            break
        except subprocess.TimeoutExpired:
            if ctx.cancelled:  # a timeout or a cancel: the worker records which
                proc.kill()
    for reader in readers:
        reader.join(2.0)
    if code != 0:
        raise ShellTaskError(f"command {command!r} exited with code {code}")
    return {"command": command, "exit_code": code}


def _reader(stream: IO[str], tracker: Any, level: str) -> threading.Thread:
    def read() -> None:
        with stream:
            for line in stream:
                if tracker is not None:
                    tracker.log(level, line.rstrip("\n"))

    thread = threading.Thread(target=read, name="horae-shell-output", daemon=True)
    thread.start()
    return thread


def shell_task(settings: IntegrationSettings) -> Task:
    """The ``horae.shell`` task under ``settings`` (whose ``shell_allow`` is not empty)."""
    commands = settings.commands

    def shell(command: str, ctx: Context) -> dict[str, Any]:
        """Run a command an admin allow-listed (shell_allow), by its name; its output is
        the run's log, and an exit code other than 0 fails the run."""
        return run_command(commands, command, ctx)

    task = make_task(shell, name=TASK_NAME, mode="thread")
    task.schema = {"type": "object", "required": ["command"], "additionalProperties": False,
                   "properties": {"command": {"enum": sorted(commands)}}}
    return task
