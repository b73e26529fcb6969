"""The records Horae keeps: schedules, runs, workers, and the run state machine."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field


class RunState(StrEnum):
    SCHEDULED = "scheduled"  # waiting for not_before (run_at, backoff)
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"  # an attempt failed; another is due at not_before
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"  # overlap policy decided not to run this fire
    MISSED = "missed"  # misfire policy decided not to run this fire
    LOST = "lost"  # the lease expired and no attempt is left


WAITING_STATES = frozenset({RunState.SCHEDULED, RunState.QUEUED, RunState.RETRYING})
ACTIVE_STATES = WAITING_STATES | {RunState.RUNNING}
TERMINAL_STATES = frozenset(set(RunState) - ACTIVE_STATES)


class Catchup(StrEnum):
    LATEST = "latest"
    ALL = "all"
    NONE = "none"


class Overlap(StrEnum):
    SKIP = "skip"
    QUEUE_ONE = "queue_one"
    ALLOW = "allow"
    CANCEL_PREVIOUS = "cancel_previous"


class Fanout(StrEnum):
    """How one fire becomes runs: one run, one per live worker, or N shards."""

    ONE = "one"
    BROADCAST = "broadcast"
    SHARD = "shard"


Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
PositiveSeconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
QueueName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")]


@dataclass(frozen=True)
class Policies:
    """Per-schedule policies; docs/semantics.md explains each one.

    The pydantic annotations are the validation rules, applied wherever a schedule is
    written (Python, CLI, REST).
    """

    misfire_grace: Seconds = 60.0
    catchup: Catchup = Catchup.LATEST
    catchup_window: Seconds = 3600.0
    overlap: Overlap = Overlap.SKIP
    jitter: Seconds = 0.0
    start_at: float | None = None
    end_at: float | None = None
    max_fires: Annotated[int, Field(ge=1)] | None = None
    timeout: PositiveSeconds | None = None
    retries: Annotated[int, Field(ge=0, le=1000)] = 0
    retry_backoff: PositiveSeconds = 1.0
    retry_backoff_max: PositiveSeconds = 3600.0
    queue: QueueName = "default"
    priority: Annotated[int, Field(ge=-1000, le=1000)] = 0
    fanout: Fanout = Fanout.ONE
    shards: Annotated[int, Field(ge=1, le=10_000)] = 1
    #: A fired run not started within this many seconds of its fire time is not started
    #: at all: it becomes ``missed`` with the reason (a poll that waited past its period
    #: is stale; running it late only delays the fresh ones). None: a run waits as long
    #: as it takes.
    expire_after: PositiveSeconds | None = None


@dataclass
class Schedule:
    id: str
    task: str
    trigger: dict[str, Any]
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    policies: Policies = field(default_factory=Policies)
    paused: bool = False
    description: str = ""
    tags: list[str] = field(default_factory=list)
    next_fire_at: float | None = None
    fires: int = 0
    missed: int = 0
    skipped: int = 0
    successes: int = 0
    failures: int = 0
    last_state: str | None = None
    last_run_at: float | None = None
    version: int = 1
    created_at: float = 0.0
    updated_at: float = 0.0
    # Declared in code (``app.schedules.ensure``, ``@app.periodic``): the fingerprint of
    # the definition the code last wrote; a start with the same definition writes nothing.
    declared: bool = False
    declared_fingerprint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "policies"}
        data["policies"] = {k: _plain(v) for k, v in self.policies.__dict__.items()}
        return data


@dataclass
class Run:
    id: int
    task: str
    state: RunState
    schedule_id: str | None = None
    fire_time: float | None = None
    origin: str = "manual"
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    queue: str = "default"
    priority: int = 0
    not_before: float = 0.0
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    attempt: int = 0
    max_attempts: int = 1
    retry_backoff: float = 1.0
    retry_backoff_max: float = 3600.0
    timeout: float | None = None
    lease_owner: str | None = None
    lease_expires_at: float | None = None
    worker_id: str | None = None
    result: Any = None
    error: str | None = None
    traceback: str | None = None
    progress: float | None = None
    progress_message: str | None = None
    cancel_requested: bool = False
    parent_id: int | None = None
    shard_index: int | None = None
    shard_total: int | None = None
    retry_of: int | None = None
    target_worker: str | None = None  # a broadcast child runs on this worker only
    fanout: str | None = None  # "broadcast" or "shard" on a parent run
    expires_at: float | None = None  # not started by then: missed (Policies.expire_after)
    workflow_id: str | None = None  # a workflow run (fanout "workflow") and its steps' runs
    workflow_version: int | None = None  # the definition the workflow run started from
    step: str | None = None  # on a workflow's child: its step id (or on_success...)
    inputs: dict[str, Any] | None = None  # on a step's run: its predecessors' results

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    def to_dict(self) -> dict[str, Any]:
        data = {k: _plain(v) for k, v in self.__dict__.items()}
        data["duration"] = self.duration
        return data


@dataclass
class LogLine:
    run_id: int
    ts: float
    level: str
    message: str
    id: int = 0
    attempt: int | None = None  # the attempt that wrote it (None: written before 0012)


@dataclass
class WorkerInfo:
    id: str
    host: str
    pid: int
    queues: list[str]
    concurrency: int
    labels: dict[str, str] = field(default_factory=dict)
    state: str = "active"  # active | draining | gone
    started_at: float = 0.0
    heartbeat_at: float = 0.0
    running: int = 0
    version: str = ""  # the Horae version the worker runs


@dataclass
class RunAttempt:
    """One attempt of a run: its outcome, times, worker and error (``state`` is the run's
    state while it is the run's current attempt)."""

    run_id: int
    attempt: int
    state: str
    worker_id: str | None
    started_at: float | None
    finished_at: float | None
    error: str | None
    traceback: str | None

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


@dataclass
class TaskInfo:
    """What a worker advertises about a task, readable without the task's code."""

    name: str
    schema: dict[str, Any]
    queue: str = "default"
    mode: str = "thread"
    doc: str = ""
    retries: int = 0
    timeout: float | None = None
    concurrency: int | None = None  # at most this many running at once, all workers


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, StrEnum) else value


@dataclass(frozen=True)
class QueueStats:
    """A queue as an operator sees it (see ``Store.queues_stats``)."""

    queue: str
    queued: int  # ready to run, waiting for a worker slot
    scheduled: int  # waiting for their not_before (jitter, run-at)
    retrying: int  # waiting for a retry's backoff
    running: int
    oldest_queued_at: float | None  # not_before of the oldest ready run
    workers: int  # live (active) workers serving the queue
    slots: int  # their concurrency, summed

    def lag(self, now: float) -> float:
        """Seconds the oldest ready run has been waiting (0 with nothing ready)."""
        return 0.0 if self.oldest_queued_at is None else max(0.0, now - self.oldest_queued_at)

    def as_dict(self, now: float) -> dict[str, Any]:
        """The JSON form (API, CLI): counts, lag in seconds, instants in ISO-8601."""
        from horae.instants import iso

        return {"queue": self.queue, "queued": self.queued, "scheduled": self.scheduled,
                "retrying": self.retrying, "running": self.running,
                "lag_seconds": round(self.lag(now), 3),
                "oldest_queued_at": (None if self.oldest_queued_at is None
                                     else iso(self.oldest_queued_at)),
                "workers": self.workers, "slots": self.slots}
