"""The child process of a ``process``-mode run.

Speaks JSON lines only (never pickle): the parent writes one request on stdin; the child
writes ``{"log": ...}``, ``{"progress": ...}`` and finally ``{"result": ...}`` or
``{"error": ..., "traceback": ...}`` on the protocol pipe, a file descriptor the parent
passed (its number is the only argument). The child's stdout and stderr are only ever log
text for the parent, so nothing the task prints can pass for a message. The function is
found through the registry entry the parent already holds (its module and qualified
name), never through a name taken from user input.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import threading
import traceback
from typing import Any, TextIO

from horae.store import ClaimedRun
from horae.worker.context import Context, LogCapture, RunTracker, bind, place_context


class _Pipe:
    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        line = json.dumps(message, allow_nan=False)
        with self._lock:
            self._out.write(line + "\n")
            self._out.flush()


class _StreamingTracker(RunTracker):
    """Forwards logs and progress to the parent as they happen."""

    pipe: _Pipe

    def log(self, level: str, message: str) -> None:
        self.pipe.send({"log": [level, message]})

    def set_progress(self, fraction: float | None, message: str | None) -> None:
        self.pipe.send({"progress": [fraction, message]})


def resolve(module: str, qualname: str) -> Any:
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return getattr(target, "func", target)


def open_protocol(argv: list[str]) -> TextIO:
    """The protocol pipe, kept from the task's own child processes (it is this process's
    alone: a grandchild that inherited it could write messages, and would hold it open)."""
    if len(argv) != 1 or not argv[0].isdigit():
        raise SystemExit("usage: python -m horae.worker.child PROTOCOL_FD")
    fd = int(argv[0])
    os.set_inheritable(fd, False)
    return open(fd, "w", encoding="utf-8", closefd=True)


def main(argv: list[str]) -> int:
    pipe = _Pipe(open_protocol(argv))
    request = json.loads(sys.stdin.readline())
    run = ClaimedRun(id=request["run_id"], task=request["task"], attempt=request["attempt"],
                     max_attempts=request.get("max_attempts", 1), retry_backoff=1.0,
                     retry_backoff_max=3600.0, timeout=None, args=request["args"],
                     kwargs=request["kwargs"], schedule_id=request.get("schedule_id"),
                     fire_time=request.get("fire_time"),
                     shard_index=request.get("shard_index"),
                     shard_total=request.get("shard_total"), priority=0, not_before=0.0,
                     parent_id=request.get("parent_id"), step=request.get("step"),
                     inputs=request.get("inputs"))
    tracker = _StreamingTracker(run)
    tracker.pipe = pipe
    # The parent cancels with SIGTERM: ctx.cancelled becomes true and the task may return
    # (logging on its way out); the parent kills this process if it does not, soon.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: tracker.cancel.set())
    LogCapture.install()
    bind(tracker)
    try:
        func = resolve(request["module"], request["qualname"])
        args, kwargs = list(request["args"]), dict(request["kwargs"])
        if request.get("wants_ctx"):
            place_context(args, kwargs, request.get("ctx_position"),
                          Context(tracker, request["worker_id"]))
        result = func(*args, **kwargs)
        LogCapture.finish(tracker)
        pipe.send({"result": result})
    except BaseException as exc:  # the parent records every failure, whatever its kind
        LogCapture.finish(tracker)
        pipe.send({"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
