"""The scheduler prunes by itself: old runs go in batches while new ones keep coming, and
the newest fires of every schedule stay."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from horae import Horae, RunState, interval
from horae.config import RetentionSettings
from horae.scheduler import Scheduler
from tests.conftest import eventually
from tests.integration import sample_tasks

KEEP = 3


@pytest.fixture
def app(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Horae]:
    # Settings as an operator gives them: runs finished over a second ago go (except the
    # newest KEEP fires of each schedule), checked every 0.1 s, five runs per batch.
    for name, value in (("RUNS_KEEP_DAYS", str(1.0 / 86400)), ("RUNS_KEEP_PER_SCHEDULE",
                        str(KEEP)), ("RETENTION_INTERVAL", "0.1"), ("RETENTION_BATCH", "5")):
        monkeypatch.setenv(f"HORAE_{name}", value)
    app = Horae(database_url)
    sample_tasks.register(app)
    yield app
    app.stop(grace=1.0)


def finished_of(app: Horae, schedule_id: str) -> list[int]:
    return [r.id for r in app.runs.list(schedule_id=schedule_id, limit=1000)
            if r.state is RunState.SUCCEEDED]


def test_the_scheduler_prunes_in_batches_while_runs_keep_coming_and_keeps_the_newest(
        app: Horae) -> None:
    app.schedules.add("ticker", "add", interval(0.2), args=[1, 2])
    adhoc = [app.runs.create("add", args=[i, i]).id for i in range(12)]
    app.start(concurrency=4, lease=5.0)
    retention = app.scheduler.retention
    assert retention is not None and retention.settings.retention_batch == 5

    seen: list[int] = []  # the schedule's finished runs at each look

    def pruned_while_firing() -> bool:
        finished = finished_of(app, "ticker")
        if seen and max(seen) >= KEEP:  # once it had KEEP, the newest KEEP always stay
            assert len(finished) >= KEEP, (seen, finished)
        seen.append(len(finished))
        left = {r.id for r in app.runs.list(limit=1000)}
        fires = app.schedules.get("ticker").fires
        return not left & set(adhoc) and fires > len(finished) + 5 and len(finished) >= KEEP

    eventually(pruned_while_firing, timeout=30)
    assert retention.passes > 1 and retention.total.runs >= 12 + 5  # batches of five


def test_retention_settings_are_checked_when_the_scheduler_is_made(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from horae.errors import InvalidInput

    monkeypatch.setenv("HORAE_RUNS_KEEP_PER_SCHEDULE", "2.5")
    with pytest.raises(InvalidInput) as err:
        Scheduler(Horae(database_url))
    assert err.value.field == "runs_keep_per_schedule"
    monkeypatch.setenv("HORAE_RUNS_KEEP_PER_SCHEDULE", "0")
    monkeypatch.setenv("HORAE_RUNS_KEEP_DAYS", "0")
    monkeypatch.setenv("HORAE_EVENTS_KEEP_HOURS", "0")
    monkeypatch.setenv("HORAE_EVENTS_KEEP_MAX", "0")
    assert not RetentionSettings.from_config().enabled
