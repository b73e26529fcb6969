"""Ways to execute a run: on an event loop, in a thread pool, or in a child process.

What each mode can enforce, honestly:
- ``async``: cancellation and timeouts interrupt the coroutine at its next ``await``.
- ``thread``: Python cannot stop a thread. A timeout or cancel sets ``ctx.cancelled``; the
  run stays ``running`` (holding its pool slot and its place in every concurrency count)
  until the function returns, and is then recorded ``timed_out`` or ``cancelled``.
- ``process``: a child process per run; a timeout kills it. A cancel sets ``ctx.cancelled``
  in the child (SIGTERM) so that the task can stop and log on its way out, and kills the
  child if it is still there :data:`CANCEL_GRACE` seconds later.
"""

from __future__ import annotations

import asyncio
import functools
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

from horae.tasks import Task, call_arguments
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
    stopper: Callable[[], object] | None = None
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
        self.tracker.cancel.set(reason)
        if stopper is not None:
            stopper()

    def call(self) -> Any:
        """Call the task's function with the run's arguments (and ``ctx``)."""
        run = self.tracker.run
        ctx = Context(self.tracker, self.worker_id) if self.task.wants_ctx else None
        args, kwargs = call_arguments(self.task, run.args, run.kwargs, ctx)
        return self.task.func(*args, **kwargs)


async def _run_async(ex: Execution, done: Callable[[Execution, Outcome], None]) -> None:
    """One async run as one task (one coroutine: a frame per run is measurable); its
    outcome goes to ``done`` from here, once the run is unbound from the log capture."""
    token = bind(ex.tracker)
    try:
        outcome = Outcome(result=await ex.call())
    except asyncio.CancelledError as exc:
        outcome = Outcome(error=f"cancelled ({ex.stop_reason or 'by the worker'})",
                          traceback="".join(traceback.format_exception(exc)))
    except BaseException as exc:
        outcome = _failure(exc)
    finally:
        LogCapture.finish(ex.tracker)
        unbind(token)
    done(ex, outcome)


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
        self.submit_many([ex], done)

    def submit_many(self, batch: list[Execution],
                    done: Callable[[Execution, Outcome], None]) -> None:
        """Start every execution of ``batch``. The async ones reach the event loop in one
        hand-off (one wake-up of the loop's thread for the batch, not one per run)."""
        coros = []
        for ex in batch:
            if ex.task.mode == "async":
                coros.append(ex)
                continue
            target = self._run_thread if ex.task.mode == "thread" else self._run_process
            future: Future[Outcome] = self._pool.submit(target, ex)
            future.add_done_callback(functools.partial(_future_done, done, ex))
        if coros:
            if threading.get_ident() == self._loop_thread.ident:
                self._start_async(coros, done)  # from a run that just ended on the loop
            else:
                self._loop.call_soon_threadsafe(self._start_async, coros, done)

    # -- thread ----------------------------------------------------------------------

    @staticmethod
    def _run_thread(ex: Execution) -> Outcome:
        token = bind(ex.tracker)
        try:
            result = ex.call()
            return Outcome(result=result)
        except BaseException as exc:
            return _failure(exc)
        finally:
            LogCapture.finish(ex.tracker)
            unbind(token)

    # -- async -----------------------------------------------------------------------

    def _start_async(self, batch: list[Execution],
                     done: Callable[[Execution, Outcome], None]) -> None:
        """On the loop's thread: one task per run. Its outcome is handed to ``done`` from
        the task itself, on this thread, so a run that ends costs no other hand-off."""
        loop = self._loop
        for ex in batch:
            with ex.lock:
                if ex.stop_reason is None:
                    # A cancel from another thread is queued behind the task's first step,
                    # so the task is inside _run_async (which turns it into an outcome).
                    task = loop.create_task(_run_async(ex, done))
                    ex.stopper = functools.partial(loop.call_soon_threadsafe, task.cancel)
                    continue
            done(ex, Outcome(error=f"cancelled ({ex.stop_reason}) before it started"))

    # -- process ---------------------------------------------------------------------

    @staticmethod
    def _run_process(ex: Execution) -> Outcome:
        func, run = ex.task.func, ex.tracker.run
        if func.__module__ == "__main__":
            return Outcome(error="process mode needs the task defined in an importable module, "
                                 "not in __main__")
        request = {
            "module": func.__module__, "qualname": func.__qualname__, "task": run.task,
            "run_id": run.id, "attempt": run.attempt, "max_attempts": run.max_attempts,
            "args": run.args, "kwargs": run.kwargs,
            "schedule_id": run.schedule_id, "fire_time": run.fire_time,
            "shard_index": run.shard_index, "shard_total": run.shard_total,
            "parent_id": run.parent_id, "step": run.step, "inputs": run.inputs,
            "wants_ctx": ex.task.wants_ctx, "ctx_position": ex.task.ctx_position,
            "worker_id": ex.worker_id,
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
            ex.stopper = functools.partial(_stop_child, proc, ex)
            stop_now = ex.stop_reason is not None
        if stop_now:
            _stop_child(proc, ex)
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


#: Seconds a cancelled child has to return after SIGTERM set its ``ctx.cancelled``.
CANCEL_GRACE = 3.0


def _stop_child(proc: subprocess.Popen[str], ex: Execution) -> None:
    """Kill the child at once for a timeout or a drain. For a cancel, ask first: a task
    that watches ``ctx.cancelled`` returns, and the lines it logs on its way out reach the
    run's log (a kill dropped them); one that does not is killed after the grace."""
    if ex.stop_reason != "cancel":
        proc.kill()
        return
    proc.terminate()
    timer = threading.Timer(CANCEL_GRACE, proc.kill)  # a no-op once the child was reaped
    timer.daemon = True
    timer.start()


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
    """A pool of up to ``size`` daemon threads, started when work needs them.

    ``ThreadPoolExecutor`` joins its threads when the interpreter exits, so a worker that
    released a still-running sync task on SIGTERM could not exit until that task returned.
    These threads do not hold the process: what was released is already back in the queue.
    A thread starts only when a job finds none idle, so a worker of ``-c 2000`` that runs
    async tasks has no run threads at all (each costs a stack and a scheduler entry).
    """

    def __init__(self, size: int, name: str) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], Any] | None] = (
            queue.SimpleQueue())
        self._size, self._name = size, name
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[..., Any], arg: Any) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._idle:
                self._idle -= 1  # that thread takes this job
            elif len(self._threads) < self._size and not self._closed:
                t = threading.Thread(target=self._serve, daemon=True,
                                     name=f"{self._name}_{len(self._threads)}")
                self._threads.append(t)
                t.start()
            self._jobs.put((future, fn, arg))
        return future

    @property
    def threads(self) -> int:
        return len(self._threads)

    def shutdown(self) -> None:
        """Stop idle threads; busy ones end when their function returns (or with the process)."""
        with self._lock:
            self._closed = True
            for _ in self._threads:
                self._jobs.put(None)

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, fn, arg = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(arg))
                except BaseException as exc:  # handed to its owner, like the stdlib pool
                    future.set_exception(exc)
            del job, future, fn, arg
            with self._lock:
                self._idle += 1


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


def _future_done(done: Callable[[Execution, Outcome], None], ex: Execution,
                 future: Future[Outcome]) -> None:
    done(ex, _result_of(future))


def _result_of(future: Any) -> Outcome:
    try:
        outcome = future.result()
    except BaseException as exc:  # cancelled future, or a bug in the runner itself
        return Outcome(error=f"{type(exc).__name__}: {exc}")
    assert isinstance(outcome, Outcome)
    return outcome
