"""Liveness and readiness.

``/health/live`` answers 200 while the process serves HTTP: restart the process when it
does not. ``/health/ready`` (and ``/health``, for callers of the first version) answers 200
only when this process can do its work, else 503; its body names each check:

- ``database``: a real write commits (a counter row; the write lock is free, the disk has
  room, the server answers);
- ``scheduler`` and ``worker``: the loops running in this process went round within
  ``ApiSettings.ready_max_age`` seconds and their last pass did not fail. A part this
  process does not run is ``absent`` and does not make it unready.
"""

from __future__ import annotations

import time
from typing import Any

from horae import __version__
from horae.api import schemas as S
from horae.api.framework import Call, Operation, Reply
from horae.api.problems import database_unavailable


def live(c: Call) -> Reply:
    return Reply({"status": "ok", "version": __version__})


def ready(c: Call) -> Reply:
    horae = c.api.horae
    max_age = c.api.settings.ready_max_age
    checks = {"database": _database(c),
              "scheduler": _loop(horae.scheduler, max_age, "beat"),
              "worker": _worker(horae.worker, max_age)}
    ok = all(check["status"] in ("ok", "absent") for check in checks.values())
    body = {"status": "ok" if ok else "unavailable", "database": horae.store.dialect,
            "version": __version__, "checks": checks}
    return Reply(body, 200 if ok else 503, {"Cache-Control": "no-store"}
                 | ({} if ok else {"Retry-After": "5"}))


def _database(c: Call) -> dict[str, Any]:
    start = time.monotonic()
    try:
        c.api.store.probe_write()
    except Exception as exc:
        known = database_unavailable(exc)
        detail = known.detail if known is not None else f"{type(exc).__name__}: {exc}"
        return {"status": "failing", "detail": detail}
    return {"status": "ok", "took": round(time.monotonic() - start, 4)}


def _loop(part: Any, max_age: float, attribute: str) -> dict[str, Any]:
    if part is None:
        return {"status": "absent", "detail": "not running in this process"}
    age = round(time.monotonic() - getattr(part, attribute), 3)
    if not part.alive:
        return {"status": "stopped", "age": age, "detail": "its thread has ended"}
    if age > max_age:
        return {"status": "stalled", "age": age,
                "detail": f"no pass for {age:.0f}s (more than {max_age:g}s)"}
    if part.failing:
        return {"status": "failing", "age": age, "detail": part.failing}
    return {"status": "ok", "age": age}


def _worker(worker: Any, max_age: float) -> dict[str, Any]:
    claim = _loop(worker, max_age, "beat")
    if claim["status"] != "ok":
        return claim
    beat = _loop(worker, max_age, "heartbeat_beat")
    if beat["status"] == "ok" and worker.heartbeat_failing:
        return {"status": "failing", "age": beat["age"],
                "detail": f"heartbeat: {worker.heartbeat_failing}"}
    return {**beat, "age": max(claim["age"], beat["age"])} if beat["status"] == "ok" else beat


HEALTH_OPERATIONS = [
    Operation("GET", "/health", "health", "Is this process ready? (= /health/ready)",
              "meta", None, ready, response=S.Health, errors=(503,), unavailable=S.Health,
              description="Kept for callers of the first version: the same answer as "
                          "/health/ready."),
    Operation("GET", "/health/live", "healthLive", "Is the process serving? Always 200",
              "meta", None, live, response=S.Liveness),
    Operation("GET", "/health/ready", "healthReady",
              "Can this process do its work? 200, or 503 naming the failing check", "meta",
              None, ready, response=S.Health, errors=(503,), unavailable=S.Health,
              description="Checks that the database commits a write and that the scheduler "
                          "and worker loops of this process are alive and not failing."),
]
