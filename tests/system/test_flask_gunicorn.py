"""The Flask example under ``gunicorn -w 4``, a scheduler in every web worker.

200 schedules fire every second, created through the views; while they fire, the views
change one schedule's kwargs, one's interval, one's trigger to cron, pause and resume one,
and delete one. Every (schedule, fire time) must have exactly one run, no fire may be
missing, and each edit must hold from the first fire after it.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from horae import Horae
from tests.conftest import eventually
from tests.system.procs import ROOT

pytestmark = pytest.mark.system

EXAMPLE = ROOT / "examples" / "flask_app"
WEB_WORKERS = 4
SCHEDULES = 200
WINDOW = 7.0  # seconds of firing: each untouched schedule fires WINDOW + 1 times
EDIT_AT = 2.5  # seconds after the first fire: mid-second, so every earlier fire is done
RESUME_AT = 4.5


# -- a tiny JSON client ---------------------------------------------------------------------

@dataclass
class Web:
    base: str

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=15) as resp:
                status, text = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, text = err.code, err.read()
        return status, json.loads(text) if text else None

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        got, data = self.call(method, path, body)
        assert got == status, f"{method} {path} -> {got}: {data}"
        return data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


STARTED = r"scheduler started in web worker pid=(\d+)"
STOPPED = r"scheduler stopped in web worker pid=(\d+) after (\d+) passes"


@dataclass
class Gunicorn:
    proc: subprocess.Popen[bytes]
    web: Web
    log: Path
    workers: int
    exit_code: int | None = None

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"gunicorn exited {self.proc.returncode}:\n{self.text()}")
        if len(set(re.findall(STARTED, self.text()))) < self.workers:
            return False
        try:
            return self.web.call("GET", "/health")[0] == 200
        except OSError:
            return False

    def stop(self) -> int:
        """SIGTERM (a graceful stop) and the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.exit_code = self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        return self.exit_code

    def schedulers(self) -> tuple[set[int], dict[int, int]]:
        """Pids whose scheduler started, and the passes each made by the time it stopped."""
        text = self.text()
        return ({int(p) for p in re.findall(STARTED, text)},
                {int(p): int(n) for p, n in re.findall(STOPPED, text)})


@contextmanager
def gunicorn(db_url: str, tmp_path: Path, workers: int = WEB_WORKERS,
             *extra: str) -> Iterator[Gunicorn]:
    """``gunicorn -w N -c examples/flask_app/gunicorn.conf.py app:flask_app`` on loopback."""
    from gunicorn.config import KNOWN_SETTINGS

    port, log = free_port(), tmp_path / "gunicorn.log"
    cmd = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
           "-c", str(EXAMPLE / "gunicorn.conf.py"), *extra]
    if any(s.name == "control_socket_disable" for s in KNOWN_SETTINGS):
        cmd.append("--no-control-socket")  # newer gunicorns open one per user by default
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUNICORN")}
    env["HORAE_DATABASE_URL"] = db_url
    with log.open("wb") as out:
        proc = subprocess.Popen([*cmd, "app:flask_app"], env=env, cwd=tmp_path, stdout=out,
                                stderr=subprocess.STDOUT)
    g = Gunicorn(proc, Web(f"http://127.0.0.1:{port}"), log, workers)
    try:
        eventually(g.ready, timeout=30)
        yield g
    finally:
        g.stop()


# -- checking fire times against a trigger's grid -------------------------------------------

def grid(start: float, step: float, lo: float, hi: float) -> list[float]:
    """``start + k*step`` (k >= 0) inside (lo, hi]."""
    k = 0 if lo == -math.inf else max(0, math.floor((lo - start) / step))
    out = []
    while (t := start + k * step) <= hi:
        if t > lo:
            out.append(t)
        k += 1
    return out


def within(times: list[float], lo: float, hi: float) -> list[float]:
    return [t for t in times if lo < t <= hi]


def same(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(abs(x - y) < 1e-6 for x, y in zip(a, b, strict=True))


@dataclass
class Edit:
    before: float  # database time just before the request
    after: float  # database time just after the answer
    answer: Any


def edit(app: Horae, web: Web, method: str, path: str, body: Any = None,
         status: int = 200) -> Edit:
    before = app.store.now()
    answer = web.ok(method, path, body, status)
    return Edit(before, app.store.now(), answer)


def runs_by_schedule(app: Horae) -> dict[str, list[dict[str, Any]]]:
    with app.store.db.read() as tx:
        rows = tx.all("SELECT schedule_id, fire_time, created_at, kwargs, state"
                      " FROM horae_runs ORDER BY fire_time")
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        out[r["schedule_id"]].append(dict(r, kwargs=json.loads(r["kwargs"])))
    return out


def test_flask_example_under_gunicorn_fires_each_instant_once(
    shared_db_url: str, tmp_path: Path
) -> None:
    app = Horae(shared_db_url)  # the test's own reader; the web workers create the tables
    try:
        with gunicorn(shared_db_url, tmp_path) as g:
            _scenario(app, g.web)
    finally:
        app.stop()
    assert g.exit_code == 0, g.text()
    started, stopped = g.schedulers()
    assert len(started) == WEB_WORKERS, g.text()
    assert set(stopped) == started, g.text()
    assert all(passes > 0 for passes in stopped.values()), stopped  # each one really looped
    assert g.proc.pid not in started  # the master runs no scheduler


def _scenario(app: Horae, web: Web) -> None:
    anchor = float(math.ceil(app.store.now()) + 3)

    def create(i: int) -> None:
        web.ok("POST", "/schedules", {"id": f"s{i:03d}", "task": "example.tick",
                                      "every": 1, "anchor": anchor, "kwargs": {"n": 0},
                                      "overlap": "allow"}, status=201)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(SCHEDULES)))
    created = app.store.now()
    assert created < anchor, f"creating {SCHEDULES} schedules took too long ({created=})"

    # The views map Horae's errors to HTTP (checked while nothing fires yet).
    status, bad = web.call("POST", "/schedules", {"id": "bad", "task": "example.tick",
                                                  "cron": "61 * * * *"})
    assert (status, bad) == (422, {"field": "cron", "reason": bad["reason"]})
    assert "61" in bad["reason"]
    status, dup = web.call("POST", "/schedules", {"id": "s000", "task": "example.tick",
                                                  "every": 1})
    assert status == 409 and "already exists" in dup["error"]
    assert web.call("PATCH", "/schedules/nope", {"kwargs": {}})[0] == 404
    status, bad = web.call("PATCH", "/schedules/s000", {"kwargs": {"n": "one"}})
    assert (status, bad["field"]) == (422, "kwargs.n")

    end = anchor + WINDOW
    eventually(lambda: app.store.now() >= anchor + EDIT_AT, timeout=15, interval=0.005)
    edits = {
        "s000": edit(app, web, "PATCH", "/schedules/s000", {"kwargs": {"n": 1}}),
        "s001": edit(app, web, "PATCH", "/schedules/s001", {"every": 2}),
        "s002": edit(app, web, "POST", "/schedules/s002/pause"),
        "s003": edit(app, web, "PATCH", "/schedules/s003", {"cron": "*/2 * * * * *"}),
        "s004": edit(app, web, "DELETE", "/schedules/s004", status=204),
    }
    # Mid-second and done before the next fire, so every fire before an edit has its run.
    assert max(e.after for e in edits.values()) < anchor + EDIT_AT + 0.45, "edits too slow"
    eventually(lambda: app.store.now() >= anchor + RESUME_AT, timeout=15, interval=0.005)
    resume = edit(app, web, "POST", "/schedules/s002/resume")

    untouched = [f"s{i:03d}" for i in range(5, SCHEDULES)]

    def complete() -> bool:
        runs = runs_by_schedule(app)
        return app.store.now() > end + 1.0 and all(
            len(within([r["fire_time"] for r in runs[sid]], -math.inf, end)) >= WINDOW + 1
            for sid in untouched
        )

    eventually(complete, timeout=WINDOW + 30)
    runs = runs_by_schedule(app)

    # Exactly one run per (schedule, fire time), and every fire queued (overlap=allow).
    with app.store.db.read() as tx:
        twice = tx.all("SELECT schedule_id, fire_time, count(*) AS n FROM horae_runs"
                       " GROUP BY schedule_id, fire_time HAVING count(*) > 1")
    assert twice == []
    assert {r["state"] for rs in runs.values() for r in rs} == {"queued"}
    assert set(runs) == {f"s{i:03d}" for i in range(SCHEDULES)}

    times = {sid: [r["fire_time"] for r in rs] for sid, rs in runs.items()}
    for sid in untouched:  # every second from the anchor, none missing, none extra
        assert same(within(times[sid], -math.inf, end), grid(anchor, 1, -math.inf, end)), sid
        assert same(times[sid], grid(anchor, 1, -math.inf, times[sid][-1])), sid

    # s000: kwargs changed; fires untouched; the runs switch to the new kwargs once.
    s000 = runs["s000"]
    assert same(within(times["s000"], -math.inf, end), grid(anchor, 1, -math.inf, end))
    ns = [r["kwargs"]["n"] for r in s000]
    assert ns == sorted(ns) and ns.count(0) >= 2 and ns.count(1) >= 3, ns
    e = edits["s000"]
    assert all(r["kwargs"] == {"n": 0} for r in s000 if r["created_at"] < e.before)
    assert all(r["kwargs"] == {"n": 1} for r in s000 if r["created_at"] > e.after)
    assert all(r["kwargs"] == {"n": 1} for r in s000 if r["fire_time"] > e.after)
    status, listed = web.call("GET", "/runs?schedule=s000&limit=3")
    assert status == 200 and [r["kwargs"] for r in listed] == [{"n": 1}] * 3

    # s001: every 2 s from the anchor the edit stored (one period after the edit).
    e = edits["s001"]
    trig = e.answer["trigger"]
    assert trig["seconds"] == 2.0 and e.before + 2 <= trig["anchor"] <= e.after + 2
    _changed_grid(times["s001"], anchor, 1.0, trig["anchor"], 2.0, e, end)
    assert len(grid(trig["anchor"], 2.0, e.after, end)) >= 1

    # s003: now cron every even second.
    e = edits["s003"]
    assert e.answer["trigger"] == {"kind": "cron", "expr": "*/2 * * * * *", "tz": "UTC"}
    _changed_grid(times["s003"], anchor, 1.0, 0.0, 2.0, e, end)

    # s002: fires up to the pause, none while paused, then every second again from now.
    p = edits["s002"]
    assert p.answer["paused"] is True and resume.answer["paused"] is False
    assert same(within(times["s002"], -math.inf, p.before), grid(anchor, 1, -math.inf, p.before))
    assert within(times["s002"], p.after, resume.before) == []
    assert not [r for r in runs["s002"] if p.after < r["created_at"] < resume.before]
    assert same(within(times["s002"], resume.after, end), grid(anchor, 1, resume.after, end))
    sat_out = len(within(times["s005"], -math.inf, end)) - len(within(times["s002"], -math.inf,
                                                                         end))
    assert sat_out >= 2, times["s002"]  # it really sat out the fires of its pause

    # s004: deleted; its runs stay as history, none after the delete.
    d = edits["s004"]
    assert same(within(times["s004"], -math.inf, d.before), grid(anchor, 1, -math.inf, d.before))
    assert within(times["s004"], d.after, math.inf) == []
    assert web.call("GET", "/schedules/s004")[0] == 404
    listed = web.ok("GET", "/schedules?limit=1000")
    assert len(listed) == SCHEDULES - 1
    assert [s["id"] for s in web.ok("GET", "/schedules?paused=true")] == []


def test_preload_still_gives_each_worker_its_own_scheduler(
    shared_db_url: str, tmp_path: Path
) -> None:
    """``--preload`` imports the app in the master; post_fork still starts one scheduler per
    worker (none in the master), and an edit made through a view reaches them."""
    app = Horae(shared_db_url)
    try:
        with gunicorn(shared_db_url, tmp_path, 2, "--preload") as g:
            anchor = float(math.ceil(app.store.now()) + 1)
            g.web.ok("POST", "/schedules", {"id": "pre", "task": "example.tick", "every": 0.5,
                                            "anchor": anchor, "overlap": "allow"}, status=201)
            eventually(lambda: len(app.runs.list(schedule_id="pre")) >= 3, timeout=20)
            e = edit(app, g.web, "PATCH", "/schedules/pre", {"kwargs": {"n": 7}})
            eventually(lambda: len([r for r in app.runs.list(schedule_id="pre")
                                    if r.created_at > e.after]) >= 2, timeout=20)
            edited = [r for r in app.runs.list(schedule_id="pre") if r.created_at > e.after]
            assert {tuple(r.kwargs.items()) for r in edited} == {(("n", 7),)}
        times = sorted(r.fire_time for r in app.runs.list(schedule_id="pre", limit=1000))
        assert same(times, grid(anchor, 0.5, -math.inf, times[-1])), times
    finally:
        app.stop()
    assert g.exit_code == 0, g.text()
    started, stopped = g.schedulers()
    assert len(started) == 2 and g.proc.pid not in started, g.text()
    assert set(stopped) == started and all(n > 0 for n in stopped.values()), g.text()


def _changed_grid(times: list[float], old_start: float, old_step: float, new_start: float,
                  new_step: float, e: Edit, end: float) -> None:
    """Old trigger up to the edit, new trigger after it, nothing missing on either side."""
    assert same(within(times, -math.inf, e.before), grid(old_start, old_step, -math.inf,
                                                         e.before)), times
    assert same(within(times, e.after, end), grid(new_start, new_step, e.after, end)), times
    for t in within(times, e.before, e.after):  # during the request: either grid
        assert grid(old_start, old_step, t - 1e-6, t + 1e-6) or \
            grid(new_start, new_step, t - 1e-6, t + 1e-6), t
