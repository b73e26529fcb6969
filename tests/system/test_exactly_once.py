"""Guarantee 1 with real processes: four schedulers, 200 schedules every second."""

from __future__ import annotations

from collections import defaultdict

import pytest

from horae import Horae, interval
from tests.conftest import eventually
from tests.system.procs import spawn, stop

pytestmark = pytest.mark.system

SCHEDULES = 200
WINDOW = 6.0  # seconds of firing
SCHEDULERS = 4


def test_four_schedulers_fire_each_instant_exactly_once(shared_db_url: str, tmp_path) -> None:
    app = Horae(shared_db_url)
    app.task("noop")(lambda: None)
    start = app.store.now()
    anchor = float(int(start) + 2)  # every schedule fires on whole seconds from here
    for i in range(SCHEDULES):
        app.schedules.add(f"s{i:03d}", "noop", interval(seconds=1, anchor=anchor),
                          overlap="allow")
    procs = [spawn(shared_db_url, "scheduler", app=None, log=tmp_path / f"sched{i}.log")
             for i in range(SCHEDULERS)]
    try:
        end = anchor + WINDOW
        # Every fire up to `end` must have its row; a missing fire keeps this polling.
        expected = int(WINDOW) + 1
        eventually(lambda: app.store.now() > end + 1.5 and _fires_per_schedule(app, end),
                   timeout=WINDOW + 30)
    finally:
        codes = [stop(p) for p in procs]
    assert codes == [0] * SCHEDULERS, [p.read_text() for p in tmp_path.glob("sched*.log")]

    fires = _fires_per_schedule(app, end)
    assert len(fires) == SCHEDULES
    for sid, times in fires.items():
        assert len(times) == len(set(times)), f"{sid} fired an instant twice"
        assert times == [anchor + k for k in range(expected)], f"{sid}: {times}"
    states = {r["state"] for r in _rows(app, end)}
    assert states == {"queued"}, "on-time fires with overlap=allow are all queued"
    app.stop()


def _rows(app: Horae, end: float) -> list[dict]:
    with app.store.db.read() as tx:
        return tx.all(
            "SELECT schedule_id, fire_time, state FROM horae_runs WHERE fire_time <= :end",
            {"end": end},
        )


def _fires_per_schedule(app: Horae, end: float) -> dict[str, list[float]]:
    fires: dict[str, list[float]] = defaultdict(list)
    for r in _rows(app, end):
        fires[r["schedule_id"]].append(r["fire_time"])
    expected = int(WINDOW) + 1
    out = {sid: sorted(times) for sid, times in fires.items()}
    if len(out) < SCHEDULES or any(len(t) < expected for t in out.values()):
        return {}
    return out


def test_schedulers_do_not_need_each_other(shared_db_url: str, tmp_path) -> None:
    """Killing all but one scheduler mid-window loses no fire."""
    app = Horae(shared_db_url)
    app.task("noop")(lambda: None)
    anchor = float(int(app.store.now()) + 1)
    app.schedules.add("lone", "noop", interval(seconds=0.5, anchor=anchor), overlap="allow")
    procs = [spawn(shared_db_url, "scheduler", app=None, log=tmp_path / f"s{i}.log")
             for i in range(3)]
    try:
        eventually(lambda: len(app.runs.list(schedule_id="lone")) >= 3, timeout=20)
        for p in procs[1:]:
            p.kill()
            p.wait()
        seen = len(app.runs.list(schedule_id="lone"))
        eventually(lambda: len(app.runs.list(schedule_id="lone")) >= seen + 4, timeout=20)
    finally:
        stop(procs[0])
    times = sorted(r.fire_time for r in app.runs.list(schedule_id="lone", limit=1000))
    assert times == [anchor + 0.5 * k for k in range(len(times))]
    app.stop()
