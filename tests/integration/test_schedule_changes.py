"""A schedule written by another process wakes a sleeping scheduler at once: NOTIFY on
PostgreSQL (no shared counter row), the change counter polled through ``PRAGMA
data_version`` on SQLite. Two Horae objects with their own connections stand for the two
processes: in-process signals do not cross them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from horae import Horae
from horae.scheduler import Scheduler
from tests.conftest import eventually


def _job() -> None:
    pass


@pytest.fixture
def two_apps(shared_db_url: str) -> Iterator[tuple[Horae, Horae]]:
    firing, writing = Horae(shared_db_url), Horae(shared_db_url)
    for app in (firing, writing):
        app.task("job")(_job)
    yield firing, writing
    firing.stop()
    writing.stop()


def test_a_create_and_a_delete_elsewhere_wake_a_sleeping_scheduler(
        two_apps: tuple[Horae, Horae]) -> None:
    firing, writing = two_apps
    # Nothing else would wake it for a minute: no due schedule, no sweep.
    scheduler = Scheduler(firing, max_sleep=60, sweep_interval=60)
    firing.store  # noqa: B018 - migrate before two processes race to
    scheduler.start()
    try:
        # PostgreSQL: the listener's first LISTEN wakes one more pass; wait for it, so
        # every later pass has a cause this test makes.
        eventually(lambda: scheduler.passes >= (2 if firing.store.dialect == "postgres" else 1))
        writing.schedules.add("soon", "job", "now")
        eventually(lambda: firing.store.run_list(), timeout=10)
        passes = scheduler.passes
        writing.schedules.add("later", "job", {"kind": "interval", "seconds": 3600})
        eventually(lambda: scheduler.passes > passes, timeout=10)
        passes = scheduler.passes
        writing.schedules.remove("later")
        eventually(lambda: scheduler.passes > passes, timeout=10)
    finally:
        scheduler.stop()
