"""Ways to execute a run: on an event loop, in a thread pool, or in a child process.

What each mode can enforce, honestly:
- ``async``: cancellation and timeouts interrupt the coroutine at its next ``await``.
- ``thread``: Python cannot stop a thread. A timeout or cancel sets ``ctx.cancelled``; the
  run stays ``running`` (holding its pool slot and its place in every concurrency count)
  until the function returns, and is then recorded ``timed_out`` or ``cancelled``.
- ``process``: a child process per run; a timeout or cancel kills it.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import IO, Any

from horae.tasks import Task, bind_arguments
from horae.worker.context import Context, LogCapture, RunTracker, bind, unbind


@dataclass
class Outcome:
    result: Any = None
    error: str | None = None
    traceback: str | None = None


@dataclass
class Execution:
    """One claimed run while this worker executes it."""

    task: Task
    tracker: RunTracker
    worker_id: str
    deadline: float | None = None  # time.monotonic() value
    stop_reason: str | None = None  # "cancel", "timeout" or "drain" once we asked it to stop
    recorded: bool = False  # its outcome was written (or it was released)
    stopper: Callable[[], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Whether ``started_at`` is in the database (written by the claim, or a heartbeat).
    start_written: bool = True
    started: float = field(default_factory=time.monotonic)

    def ran_for(self) -> float:
        return time.monotonic() - self.started

    @property
    def run_id(self) -> int:
        return self.tracker.run.id

    def ask_to_stop(self, reason: str) -> None:
        with self.lock:
            if self.stop_reason is None:
                self.stop_reason = reason
            stopper = self.stopper
        self.tracker.cancel.set()
        if stopper is not None:
            stopper()

    def call_kwargs(self) -> dict[str, Any]:
        """Every argument by name (so ``ctx`` may be any parameter), plus ``ctx``."""
        run = self.tracker.run
        kwargs = bind_arguments(self.task.schema, run.args, run.kwargs)
        if self.task.wants_ctx:
            kwargs["ctx"] = Context(self.tracker, self.worker_id)
        return kwargs


def _failure(exc: BaseException) -> Outcome:
    return Outcome(error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())


class Executors:
    """Owns the thread pool and the event loop thread; runs an Execution in its mode."""

    def __init__(self, concurrency: int) -> None:
        self._pool = DaemonPool(concurrency, "horae-run")
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(
            target=self._loop.run_forever, name="horae-async", daemon=True
        )
        self._loop_thread.start()

    def shutdown(self) -> None:
        self._pool.shutdown()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._loop_thread.join(timeout=5)

    def submit(self, ex: Execution, done: Callable[[Execution, Outcome], None]) -> None:
        mode = ex.task.mode
        if mode == "async":
            self._submit_async(ex, done)
            return
        target = self._run_thread if mode == "thread" else self._run_process
        future: Future[Outcome] = self._pool.submit(target, ex)
        future.add_done_callback(lambda f: done(ex, _result_of(f)))

    # -- thread ----------------------------------------------------------------------

    @staticmethod
    def _run_thread(ex: Execution) -> Outcome:
        token = bind(ex.tracker)
        try:
            result = ex.task.func(**ex.call_kwargs())
            return Outcome(result=result)
        except BaseException as exc:
            return _failure(exc)
        finally:
            LogCapture.finish(ex.tracker)
            unbind(token)

    # -- async -----------------------------------------------------------------------

    def _submit_async(self, ex: Execution, done: Callable[[Execution, Outcome], None]) -> None:
        async def runner() -> Outcome:
            token = bind(ex.tracker)
            try:
                coro = ex.task.func(**ex.call_kwargs())
                return Outcome(result=await coro)
            except asyncio.CancelledError as exc:
                return Outcome(error=f"cancelled ({ex.stop_reason or 'by the worker'})",
                               traceback="".join(traceback.format_exception(exc)))
            except BaseException as exc:
                return _failure(exc)
            finally:
                LogCapture.finish(ex.tracker)
                unbind(token)

        def start() -> None:
            task = self._loop.create_task(runner())
            with ex.lock:
                ex.stopper = lambda: (self._loop.call_soon_threadsafe(task.cancel), None)[1]
                stop_now = ex.stop_reason is not None
            if stop_now:
                task.cancel()
            task.add_done_callback(lambda t: done(ex, _result_of(t)))

        self._loop.call_soon_threadsafe(start)

    # -- process ---------------------------------------------------------------------

    @staticmethod
    def _run_process(ex: Execution) -> Outcome:
        func, run = ex.task.func, ex.tracker.run
        if func.__module__ == "__main__":
            return Outcome(error="process mode needs the task defined in an importable module, "
                                 "not in __main__")
        request = {
            "module": func.__module__, "qualname": func.__qualname__, "task": run.task,
            "run_id": run.id, "attempt": run.attempt, "args": run.args, "kwargs": run.kwargs,
            "schedule_id": run.schedule_id, "fire_time": run.fire_time,
            "shard_index": run.shard_index, "shard_total": run.shard_total,
            "wants_ctx": ex.task.wants_ctx, "worker_id": ex.worker_id,
        }
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        # The protocol has its own pipe: whatever the child writes on its stdout or
        # stderr (a print that bypassed the capture, a C library, a grandchild) is log
        # text, never a message, so it cannot forge a result.
        read_fd, write_fd = os.pipe()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "horae.worker.child", str(write_fd)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, env=env, pass_fds=(write_fd,),
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)  # the child's copy is the only writer: EOF when it exits
        with ex.lock:
            ex.stopper = proc.kill
            stop_now = ex.stop_reason is not None
        if stop_now:
            proc.kill()
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        readers = [_OutputReader(proc.stdout, ex.tracker, "INFO"),
                   _OutputReader(proc.stderr, ex.tracker, "ERROR")]
        try:
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.close()
        except BrokenPipeError:
            pass
        outcome: Outcome | None = None
        with open(read_fd, encoding="utf-8", errors="replace") as protocol:
            for line in protocol:
                reported = _child_message(ex.tracker, line)
                outcome = outcome or reported  # the first result or error is final
        code = proc.wait()
        for reader in readers:
            reader.join()
        if outcome is not None and (outcome.error is not None or code == 0):
            return outcome
        # A result counts only from a child that then exited cleanly.
        why = (f"killed ({ex.stop_reason})" if ex.stop_reason
               else f"exited with code {code}" if code else "exited")
        when = "before" if outcome is None else "after"
        return Outcome(error=f"child process {why} {when} reporting a result")


class _OutputReader:
    """Turns a child's stdout or stderr into log lines of the run, line by line."""

    #: How long to wait for the stream's end once the child exited: a grandchild that
    #: inherited it may keep it open.
    LINGER = 2.0

    def __init__(self, stream: IO[str], tracker: RunTracker, level: str) -> None:
        self._stream, self._tracker, self._level = stream, tracker, level
        self._thread = threading.Thread(target=self._read, name="horae-child-output",
                                        daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with self._stream:
            for line in self._stream:
                self._tracker.log(self._level, line.rstrip("\n"))

    def join(self) -> None:
        self._thread.join(self.LINGER)


class DaemonPool:
    """A fixed pool of daemon threads.

    ``ThreadPoolExecutor`` joins its threads when the interpreter exits, so a worker that
    released a still-running sync task on SIGTERM could not exit until that task returned.
    These threads do not hold the process: what was released is already back in the queue.
    """

    def __init__(self, size: int, name: str) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], Any] | None] = (
            queue.SimpleQueue())
        self._threads = [threading.Thread(target=self._serve, name=f"{name}_{i}", daemon=True)
                         for i in range(size)]
        for t in self._threads:
            t.start()

    def submit(self, fn: Callable[..., Any], arg: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._jobs.put((future, fn, arg))
        return future

    def shutdown(self) -> None:
        """Stop idle threads; busy ones end when their function returns (or with the process)."""
        for _ in self._threads:
            self._jobs.put(None)

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, fn, arg = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(arg))
            except BaseException as exc:  # handed to the future's owner, like the stdlib pool
                future.set_exception(exc)


def _child_message(tracker: RunTracker, line: str) -> Outcome | None:
    try:
        message = json.loads(line)
    except ValueError:
        message = None
    if not isinstance(message, dict):
        tracker.log("ERROR", line.rstrip("\n"))
        return None
    if "log" in message:
        tracker.log(*message["log"])
    elif "progress" in message:
        tracker.set_progress(*message["progress"])
    elif "result" in message:
        return Outcome(result=message["result"])
    elif "error" in message:
        return Outcome(error=message["error"], traceback=message.get("traceback"))
    return None


def _result_of(future: Any) -> Outcome:
    try:
        outcome = future.result()
    except BaseException as exc:  # cancelled future, or a bug in the runner itself
        return Outcome(error=f"{type(exc).__name__}: {exc}")
    assert isinstance(outcome, Outcome)
    return outcome
