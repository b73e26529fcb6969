"""Backfill end to end: a real scheduler tops a backfill up and a real worker runs it; each
run sees its logical fire time, and no more runs than the bound ever ran at once."""

from __future__ import annotations

import math
import time

from horae import Horae, RunState, cron
from horae.backfill import Backfill
from horae.worker.context import Context
from tests.conftest import eventually


def logical(ctx: Context) -> float | None:
    time.sleep(0.02)  # long enough for overlapping runs to show in their timestamps
    return ctx.fire_time


def overlap(spans: list[tuple[float, float]]) -> int:
    """The most spans (start, end) that were open at one instant."""
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def test_a_backfill_of_a_one_minute_cron_runs_every_fire_within_its_bound(
        shared_db_url: str) -> None:
    app = Horae(shared_db_url)
    app.task("logical")(logical)
    app.schedules.add("minutely", "logical", cron("* * * * *"))
    first = math.floor(app.store.now() / 60) * 60 - 40 * 60
    app.start(concurrency=8)
    try:
        b = app.schedules.backfill("minutely", first, first + 30 * 60, concurrency=2)
        assert isinstance(b, Backfill) and (b.total, b.concurrency) == (30, 2)

        def finished() -> Backfill | None:
            now = app.store.backfill_get(b.id)
            return now if now.state == "done" else None

        done = eventually(finished, timeout=60)
        assert (done.created, done.skipped_existing) == (30, 0)
        runs = [r for r in app.runs.list(schedule_id="minutely", limit=1000)
                if r.origin == "backfill"]
        assert len(runs) == 30
        assert {r.state for r in runs} == {RunState.SUCCEEDED}
        assert sorted(r.fire_time for r in runs) == [first + 60 * i for i in range(30)]
        for r in runs:
            assert r.result == r.fire_time  # ctx.fire_time is the logical instant
        spans = [(r.started_at, r.finished_at) for r in runs]
        assert all(s is not None and e is not None for s, e in spans)
        assert overlap(spans) <= 2  # type: ignore[arg-type]
        by_fire = sorted(runs, key=lambda r: r.fire_time or 0)
        assert [r.id for r in by_fire] == sorted(r.id for r in runs)  # queued in fire order
        s = app.schedules.get("minutely")
        assert (s.successes, s.failures) == (0, 0)  # shown apart, not in the counters

        again = app.schedules.backfill("minutely", first, first + 30 * 60)
        assert isinstance(again, Backfill)
        twice = eventually(lambda: (x := app.store.backfill_get(again.id)).state == "done"
                           and x, timeout=30)
        assert (twice.created, twice.skipped_existing) == (0, 30)
        assert len([r for r in app.runs.list(schedule_id="minutely", limit=1000)
                    if r.origin == "backfill"]) == 30
    finally:
        app.stop(grace=1.0)


def test_a_dry_run_across_the_berlin_spring_forward_shows_the_markers_and_writes_nothing(
        database_url: str) -> None:
    from horae.backfill import BackfillPlan

    app = Horae(database_url)
    app.task("logical")(logical)
    app.schedules.add("berlin", "logical", cron("30 * * * *", "Europe/Berlin"))
    p = app.schedules.backfill("berlin", "2026-03-29T00:00:00+01:00",
                               "2026-03-29T05:00:00+02:00", dry_run=True)
    assert isinstance(p, BackfillPlan)
    wire = p.to_dict()
    assert [(f["fire_time"], f["markers"]) for f in wire["fires"]] == [
        ("2026-03-28T23:30:00.000Z", []),
        ("2026-03-29T00:30:00.000Z", []),
        ("2026-03-29T01:00:00.000Z", ["dst_gap_shifted"]),  # 02:30 CET does not exist
        ("2026-03-29T01:30:00.000Z", []),
        ("2026-03-29T02:30:00.000Z", []),
    ]
    assert (wire["zone"], wire["total"], wire["already_run"]) == ("Europe/Berlin", 5, 0)
    assert app.schedules.backfills("berlin") == []
    assert app.runs.list(schedule_id="berlin") == []
