"""Mapping between table rows and model objects (JSON columns, booleans, enums)."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from horae.models import (
    Catchup,
    Fanout,
    LogLine,
    Overlap,
    Policies,
    Run,
    RunAttempt,
    RunState,
    Schedule,
    TaskInfo,
    WorkerInfo,
)

SCHEDULE_COLUMNS = tuple(
    f.name for f in fields(Schedule)
)
RUN_COLUMNS = tuple(f.name for f in fields(Run))
LOG_COLUMNS = ("id", "run_id", "ts", "level", "message", "attempt")
WORKER_COLUMNS = tuple(f.name for f in fields(WorkerInfo))
ATTEMPT_COLUMNS = tuple(f.name for f in fields(RunAttempt))
TASK_COLUMNS = (*(f.name for f in fields(TaskInfo)), "updated_at")

_RUN_JSON = ("args", "kwargs", "result", "inputs")


# One encoder for every call: json.dumps with options builds a JSONEncoder each time.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def dumps(value: Any) -> str:
    return _ENCODER.encode(value)


def policies_from_json(text: str) -> Policies:
    data = json.loads(text)
    data["catchup"] = Catchup(data.get("catchup", "latest"))
    data["overlap"] = Overlap(data.get("overlap", "skip"))
    data["fanout"] = Fanout(data.get("fanout", "one"))
    known = {f.name for f in fields(Policies)}
    return Policies(**{k: v for k, v in data.items() if k in known})


def policies_to_json(p: Policies) -> str:
    return dumps({f.name: getattr(p, f.name) for f in fields(Policies)})


def schedule_from_row(row: dict[str, Any]) -> Schedule:
    data = dict(row)
    data["trigger"] = json.loads(data["trigger"])
    data["args"] = json.loads(data["args"])
    data["kwargs"] = json.loads(data["kwargs"])
    data["tags"] = json.loads(data["tags"])
    data["policies"] = policies_from_json(data["policies"])
    data["paused"] = bool(data["paused"])
    data["declared"] = bool(data["declared"])
    return Schedule(**data)


def schedule_to_row(s: Schedule) -> dict[str, Any]:
    row = {name: getattr(s, name) for name in SCHEDULE_COLUMNS}
    row["trigger"] = dumps(s.trigger)
    row["args"] = dumps(s.args)
    row["kwargs"] = dumps(s.kwargs)
    row["tags"] = dumps(s.tags)
    row["policies"] = policies_to_json(s.policies)
    row["paused"] = int(s.paused)
    row["declared"] = int(s.declared)
    return row


def _json_or_none(value: str | None) -> Any:
    # Most runs have no arguments and no result yet: skip the decoder for those.
    if value is None or value == "null":
        return None
    if value == "[]":
        return []
    if value == "{}":
        return {}
    return json.loads(value)


def run_from_row(row: dict[str, Any]) -> Run:
    data = dict(row)
    for key in _RUN_JSON:
        data[key] = _json_or_none(data[key])
    data["args"] = data["args"] or []
    data["kwargs"] = data["kwargs"] or {}
    data["state"] = RunState(data["state"])
    data["cancel_requested"] = bool(data["cancel_requested"])
    return Run(**data)


#: The columns of a :class:`horae.store.base.ClaimedRun`, in its fields' order.
CLAIM_COLUMNS = ("id", "task", "attempt", "max_attempts", "retry_backoff",
                 "retry_backoff_max", "timeout", "args", "kwargs", "schedule_id",
                 "fire_time", "shard_index", "shard_total", "priority", "not_before",
                 "parent_id", "step", "inputs")


def claimed_args(row: dict[str, Any]) -> tuple[Any, ...]:
    """The arguments of a ``ClaimedRun`` from a claim row: positional, JSON decoded."""
    return (row["id"], row["task"], row["attempt"], row["max_attempts"],
            row["retry_backoff"], row["retry_backoff_max"], row["timeout"],
            _json_or_none(row["args"]) or [], _json_or_none(row["kwargs"]) or {},
            row["schedule_id"], row["fire_time"], row["shard_index"], row["shard_total"],
            row["priority"], row["not_before"], row["parent_id"], row["step"],
            _json_or_none(row["inputs"]))


def log_from_row(row: dict[str, Any]) -> LogLine:
    return LogLine(**row)


def worker_from_row(row: dict[str, Any]) -> WorkerInfo:
    data = dict(row)
    data["queues"] = json.loads(data["queues"])
    data["labels"] = json.loads(data["labels"])
    return WorkerInfo(**data)


def task_from_row(row: dict[str, Any]) -> TaskInfo:
    data = {k: v for k, v in row.items() if k != "updated_at"}
    data["schema"] = json.loads(data["schema"])
    return TaskInfo(**data)


def columns(names: tuple[str, ...], prefix: str = "") -> str:
    return ", ".join(f"{prefix}{n}" for n in names)
