"""The bridge task: a Horae run that publishes one Celery message and waits for its outcome.

A Horae worker that has the bridge registered claims the run like any other (a real lease,
kept by its heartbeat while the bridge waits), so schedules, overlap, retries, timeouts,
alerts, workflows and the run page need nothing Celery-specific.

Exactly-once publication per attempt (the rule, and where it holds):

1. The message id is deterministic: ``<id_prefix>-<run id>-<attempt>`` (``id_prefix``
   ``horae`` by default; give each Horae database its own when several share one Celery
   result backend, or their run ids would meet).
2. Before ``send_task``, the id is committed on the run (``external_id``, the *intent*:
   store/external_runs.py) in its own transaction; right after, ``external_published_at``
   (the *confirmation*).
3. An attempt that takes over a run whose previous attempts since the publishing one were
   all ``lost`` (their worker died) does not publish a new message: it re-attaches to the
   recorded id. If the send was confirmed, it only waits. If it was not, the send may or may
   not have happened (a crash between the intent and the confirmation); the result backend
   is asked first: any state but PENDING proves the message reached a worker. Still PENDING,
   the message is sent again under the SAME id.
4. So without anything on the Celery side the guarantee is at-least-once: the only window
   with two messages is a crash after the broker took the message and before the
   confirmation commit (while the first message still waits in a queue). With
   :mod:`horae.integrations.celery.guard` installed in the Celery app, a second delivery of
   an id is skipped there (``SET NX`` in Redis), which makes execution exactly-once.
   A crash after the intent and before the send leaves no message; the next attempt sends
   exactly one.

An attempt that ended with an outcome (a Celery failure, a timeout) is followed by a new
message under the new attempt's id. Cancel and timeout revoke the Celery task
(``control.revoke(id, terminate=True)``); a Horae worker that stops (drain) does not: the
run goes back to the queue with its attempt unspent, and its next claim re-attaches. A
``send_task`` that raises ends the attempt as failed (its retry publishes under a new id).
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from horae.app import Horae
    from horae.worker.context import Context

#: Test-only crash points (``after_intent``, ``after_publish``): the process kills itself
#: with SIGKILL there, so a system test can prove both windows of the rule above.
CRASH_ENV = "HORAE_CELERY_CRASH_AT"

_READY = frozenset({"SUCCESS", "FAILURE", "REVOKED"})


class CeleryTaskRevoked(Exception):
    """The Celery task was revoked (by this run's cancel or timeout, or by someone else)."""


class Released(Exception):
    """This Horae worker stops and gave the run back; the Celery task goes on."""


class LeaseLost(Exception):
    """The run's lease was taken from this worker before it could publish."""


class _RemoteTraceback(Exception):
    """Carries the Celery worker's traceback text into the run's traceback (as the cause)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f"\n\nTraceback in the Celery worker:\n{self.text}"


@dataclass
class Bridge:
    """Publishes runs to one Celery app and waits for their outcomes.

    ``options`` go to every ``send_task`` (e.g. ``queue``); without a queue, the Celery
    app's own routing (``task_routes``) decides. ``poll`` is the first wait between two
    reads of the result backend, doubled up to ``max_poll``.
    """

    app: Horae
    celery_app: Any
    options: dict[str, Any] = field(default_factory=dict)
    poll: float = 0.05
    max_poll: float = 1.0
    id_prefix: str = "horae"

    def execute(self, name: str, ctx: Context, args: list[Any],
                kwargs: dict[str, Any]) -> Any:
        """Run one attempt of a bridged run: publish (or re-attach), then wait."""
        task_id = self.publish(name, ctx, args, kwargs)
        return self.wait(task_id, ctx)

    def publish(self, name: str, ctx: Context, args: list[Any],
                kwargs: dict[str, Any]) -> str:
        """Send the attempt's message once (the rule in the module docstring); its id."""
        store = self.app.store
        if ctx.cancelled:  # stopped before anything was sent: send nothing
            raise CeleryTaskRevoked(f"run {ctx.run_id} stopped before it was published")
        plan = store.run_external_plan(ctx.run_id, ctx.attempt)
        if plan.action == "attach":
            assert plan.external_id is not None
            task_id = plan.external_id
            if plan.published:
                ctx.logger.info("re-attached to Celery task %s (published by an earlier "
                                "attempt)", task_id)
                return task_id
            if self._state(self.celery_app.AsyncResult(task_id), task_id, ctx) != "PENDING":
                ctx.logger.info("re-attached to Celery task %s (a worker has it)", task_id)
            else:
                # Unconfirmed and unseen: it may never have been sent. Sending again under
                # the same id is at most a duplicate, which the guard drops.
                self._send(name, task_id, args, kwargs)
                ctx.logger.info("sent Celery task %s again (its first send was not "
                                "confirmed)", task_id)
            store.run_external_published(ctx.run_id, ctx.attempt, ctx.worker_id, task_id)
            return task_id
        task_id = f"{self.id_prefix}-{ctx.run_id}-{ctx.attempt}"
        if not store.run_external_intent(ctx.run_id, ctx.attempt, ctx.worker_id, task_id):
            raise LeaseLost(f"run {ctx.run_id} attempt {ctx.attempt} is no longer ours")
        _crash_point("after_intent")
        self._send(name, task_id, args, kwargs)
        _crash_point("after_publish")
        store.run_external_published(ctx.run_id, ctx.attempt, ctx.worker_id, task_id)
        ctx.logger.info("published Celery task %s as %s", name, task_id)
        return task_id

    def wait(self, task_id: str, ctx: Context) -> Any:
        """Poll the result backend until the task is ready; revoke it if the run is
        cancelled or times out. Returns the result, or raises Celery's exception.

        A result backend that cannot be read does not end the attempt (its retry would
        publish a second message while the first may still run): the wait goes on, warning
        once a minute, until the backend answers or the run's timeout revokes the task.
        """
        result = self.celery_app.AsyncResult(task_id)
        delay = self.poll
        while True:
            if self._state(result, task_id, ctx) in _READY:
                return _outcome(result, task_id)
            time.sleep(delay)  # waiting is this run's work: it holds a pool thread anyway
            delay = min(delay * 2, self.max_poll)

    def _state(self, result: Any, task_id: str, ctx: Context) -> str:
        """The task's state in the result backend, read until the backend answers (or
        the run is asked to stop)."""
        delay = self.poll
        warned = 0.0
        while True:
            if ctx.cancelled:
                self._stop(task_id, ctx)
            try:
                return str(result.state)
            except Exception as exc:
                if time.monotonic() - warned >= 60:
                    warned = time.monotonic()
                    ctx.logger.warning("cannot read Celery task %s from the result "
                                       "backend (waiting on): %s", task_id, exc)
            time.sleep(delay)
            delay = min(delay * 2, self.max_poll)

    def _stop(self, task_id: str, ctx: Context) -> NoReturn:
        """The run was asked to stop: revoke the Celery task, unless this Horae worker is
        only draining (the run goes back to the queue and its next claim re-attaches)."""
        if ctx.stop_reason == "drain":
            raise Released(f"released while Celery task {task_id} runs on")
        self.celery_app.control.revoke(task_id, terminate=True)
        ctx.logger.warning("revoked Celery task %s (%s)", task_id, ctx.stop_reason)
        raise CeleryTaskRevoked(f"Celery task {task_id} revoked")

    def _send(self, name: str, task_id: str, args: list[Any], kwargs: dict[str, Any]) -> None:
        self.celery_app.send_task(name, args=args, kwargs=kwargs, task_id=task_id,
                                  **self.options)


def _outcome(result: Any, task_id: str) -> Any:
    state = result.state
    if state == "SUCCESS":
        return result.result
    if state == "REVOKED":
        raise CeleryTaskRevoked(f"Celery task {task_id} was revoked")
    exc = result.result
    if not isinstance(exc, BaseException):
        exc = RuntimeError(f"Celery task {task_id} failed: {exc!r}")
    remote = result.traceback
    if remote:
        raise exc from _RemoteTraceback(str(remote))
    raise exc


def _crash_point(where: str) -> None:
    if os.environ.get(CRASH_ENV) == where:
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(10)  # SIGKILL is asynchronous on some systems: never go past this point
