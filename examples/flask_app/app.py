"""A Flask app whose views create, edit, pause and delete Horae schedules.

Run it (from this folder; README.md has the details):

    HORAE_DATABASE_URL=postgresql://user@host/db gunicorn -w 4 -c gunicorn.conf.py app:flask_app
    HORAE_DATABASE_URL=postgresql://user@host/db horae -A app:horae worker

Views are plain synchronous Flask views calling ``horae.schedules`` / ``horae.runs``: each
call is a short database transaction, and a committed edit reaches every scheduler at once.
Nothing here connects at import: ``Horae()`` only reads its settings, and the first view (or
gunicorn's ``post_fork`` hook) opens this process's own connections.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, Response, jsonify, request

from horae import Conflict, Horae, InvalidInput, NotFound, Run, Schedule, cron, interval
from horae.instants import iso, to_epoch
from horae.schedules import POLICY_NAMES
from horae.triggers import Trigger

# The database URL comes from HORAE_DATABASE_URL (or horae.toml): one setting for the web
# workers, the `horae worker` processes and the CLI alike.
horae = Horae()


# -- tasks: only registered tasks can be scheduled ------------------------------------------

@horae.task("example.tick")
def tick(n: int = 0, note: str = "") -> dict[str, Any]:
    """A tiny task: returns what it was given and which process ran it."""
    return {"n": n, "note": note, "pid": os.getpid()}


@horae.task("example.report", queue="reports", retries=2, timeout=600)
def report(region: str, ctx: Any = None) -> dict[str, Any]:
    if ctx is not None:
        ctx.logger.info("building the %s report", region)
        ctx.progress(1.0, "done")
    return {"region": region, "rows": 42}


# -- the web app ----------------------------------------------------------------------------

flask_app = Flask(__name__)

_TRIGGER_KEYS = {"every", "cron", "tz", "anchor", "trigger"}
_FIELDS = {"args", "kwargs", "paused", "description", "tags"}


def body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput("body", "send a JSON object (Content-Type: application/json)")
    return data


def trigger_from(data: dict[str, Any]) -> Trigger | dict[str, Any] | None:
    """The trigger a request describes, or None: ``every`` (seconds or "30s") with an
    optional ``anchor`` (epoch seconds or ISO-8601), ``cron`` with an optional ``tz``, or a
    ``trigger`` in its JSON form ({"kind": "cron", "expr": "0 2 * * *", "tz": "UTC"})."""
    given = [k for k in ("every", "cron", "trigger") if k in data]
    if len(given) > 1:
        raise InvalidInput(given[1], f"give one of every, cron or trigger, not {given}")
    for key, belongs_to in (("anchor", "every"), ("tz", "cron")):
        if key in data and belongs_to not in data:
            raise InvalidInput(key, f"goes with {belongs_to}")
    if "every" in data:
        return _every(data["every"], data.get("anchor"))
    if "cron" in data:
        return _cron(data["cron"], data.get("tz", "UTC"))
    if "trigger" in data:
        if not isinstance(data["trigger"], dict):
            raise InvalidInput("trigger", 'an object such as {"kind": "cron", "expr": ...}')
        return dict(data["trigger"])
    return None


def _every(every: Any, anchor: Any) -> Trigger:
    start = None if anchor is None else to_epoch(anchor, "anchor")
    if isinstance(every, bool) or not isinstance(every, int | float | str):
        raise InvalidInput("every", "a number of seconds or a duration such as '30s'")
    try:
        if isinstance(every, str):
            return interval(every=every, anchor=start)
        return interval(seconds=every, anchor=start)
    except InvalidInput as exc:  # name the field as this API spells it
        field = "anchor" if exc.field.endswith("anchor") else "every"
        raise InvalidInput(field, exc.reason) from None


def _cron(expr: Any, tz: Any) -> Trigger:
    if not isinstance(expr, str):
        raise InvalidInput("cron", "a cron expression such as '*/5 * * * *'")
    if not isinstance(tz, str):
        raise InvalidInput("tz", "an IANA time zone name such as 'Europe/Berlin'")
    try:
        return cron(expr, tz=tz)
    except InvalidInput as exc:
        raise InvalidInput("tz" if exc.field.endswith(".tz") else "cron", exc.reason) from None


def split(data: dict[str, Any], *, allowed: set[str]) -> dict[str, Any]:
    """The schedule fields and policies of a request; unknown keys are refused by name."""
    unknown = sorted(set(data) - allowed - _TRIGGER_KEYS - _FIELDS - set(POLICY_NAMES))
    if unknown:
        raise InvalidInput(unknown[0], "not a field of a schedule")
    return {k: v for k, v in data.items() if k not in _TRIGGER_KEYS and k not in allowed}


def schedule_json(s: Schedule) -> dict[str, Any]:
    data = s.to_dict()
    data["next_fire_at_iso"] = iso(s.next_fire_at)
    data["updated_at_iso"] = iso(s.updated_at)
    return data


def run_json(r: Run) -> dict[str, Any]:
    data = r.to_dict()
    data["fire_time_iso"] = iso(r.fire_time)
    return data


@flask_app.post("/schedules")
def create_schedule() -> tuple[Response, int]:
    data = body()
    for key in ("id", "task"):
        if key not in data:
            raise InvalidInput(key, "missing")
    trigger = trigger_from(data)
    if trigger is None:
        raise InvalidInput("every", "missing; give every (seconds), cron or trigger")
    fields = split(data, allowed={"id", "task"})
    s = horae.schedules.add(data["id"], data["task"], trigger, **fields)
    return jsonify(schedule_json(s)), 201


@flask_app.patch("/schedules/<schedule_id>")
def edit_schedule(schedule_id: str) -> Response:
    """Change any field; a new trigger counts from now, other changes from the next fire.

    ``expected_version`` (from a GET) makes the edit conditional: 409 if someone else
    changed the schedule meanwhile.
    """
    data = body()
    changes = split(data, allowed={"expected_version", "task"})
    trigger = trigger_from(data)
    if trigger is not None:
        changes["trigger"] = trigger
    if "task" in data:
        changes["task"] = data["task"]
    if not changes:
        raise InvalidInput("body", "nothing to change")
    s = horae.schedules.update(schedule_id, expected_version=data.get("expected_version"),
                               **changes)
    return jsonify(schedule_json(s))


@flask_app.post("/schedules/<schedule_id>/pause")
def pause_schedule(schedule_id: str) -> Response:
    return jsonify(schedule_json(horae.schedules.pause(schedule_id)))


@flask_app.post("/schedules/<schedule_id>/resume")
def resume_schedule(schedule_id: str) -> Response:
    """Resumes from now: fires that fell in the pause are not caught up."""
    return jsonify(schedule_json(horae.schedules.resume(schedule_id)))


@flask_app.post("/schedules/<schedule_id>/trigger")
def trigger_schedule(schedule_id: str) -> tuple[Response, int]:
    return jsonify(run_json(horae.schedules.trigger_now(schedule_id))), 201


@flask_app.delete("/schedules/<schedule_id>")
def delete_schedule(schedule_id: str) -> tuple[str, int]:
    horae.schedules.remove(schedule_id)
    return "", 204


@flask_app.get("/schedules/<schedule_id>")
def get_schedule(schedule_id: str) -> Response:
    return jsonify(schedule_json(horae.schedules.get(schedule_id)))


@flask_app.get("/schedules")
def list_schedules() -> Response:
    """``?after=<id>`` pages on; ``?paused=true|false``, ``?task=``, ``?search=`` filter."""
    filters: dict[str, Any] = {"limit": _limit()}
    for key in ("task", "search"):
        if request.args.get(key):
            filters[key] = request.args[key]
    if request.args.get("after"):
        filters["after_id"] = request.args["after"]
    if "paused" in request.args:
        filters["paused"] = request.args["paused"].lower() in ("1", "true", "yes")
    return jsonify([schedule_json(s) for s in horae.schedules.list(**filters)])


@flask_app.get("/runs")
def list_runs() -> Response:
    """Newest first; ``?schedule=``, ``?state=``, ``?task=``, ``?before=<id>`` to page on."""
    filters: dict[str, Any] = {"limit": _limit()}
    if request.args.get("schedule"):
        filters["schedule_id"] = request.args["schedule"]
    if request.args.get("state"):
        filters["state"] = request.args["state"]
    if request.args.get("task"):
        filters["task"] = request.args["task"]
    if request.args.get("before"):
        filters["before_id"] = _int("before")
    return jsonify([run_json(r) for r in horae.runs.list(**filters)])


@flask_app.get("/runs/<int:run_id>")
def get_run(run_id: int) -> Response:
    return jsonify(run_json(horae.runs.get(run_id)))


@flask_app.get("/health")
def health() -> Response:
    """This web worker's pid and whether it hosts a running scheduler (see gunicorn.conf.py)."""
    scheduler = horae.scheduler
    return jsonify({"pid": os.getpid(), "scheduler": scheduler is not None,
                    "scheduler_passes": getattr(scheduler, "passes", 0)})


def _int(name: str) -> int:
    try:
        return int(request.args[name])
    except ValueError:
        raise InvalidInput(name, "must be a whole number") from None


def _limit() -> int:
    if "limit" not in request.args:
        return 100
    limit = _int("limit")
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit", "must be between 1 and 1000")
    return limit


# -- errors: Horae's errors say what is wrong and where; pass that on ------------------------

@flask_app.errorhandler(InvalidInput)
def invalid_input(exc: InvalidInput) -> tuple[Response, int]:
    return jsonify({"field": exc.field, "reason": exc.reason}), 422


@flask_app.errorhandler(NotFound)
def not_found(exc: NotFound) -> tuple[Response, int]:
    return jsonify({"error": str(exc), "kind": exc.kind}), 404


@flask_app.errorhandler(Conflict)
def conflict(exc: Conflict) -> tuple[Response, int]:
    return jsonify({"error": str(exc)}), 409
