"""What docs/triggers.md says about the test oracles (croniter, cronsim) is true of the
installed versions: a one-value range is the whole field in croniter, one value in cronsim
and Horae."""

from __future__ import annotations

from datetime import UTC, datetime

import croniter
import cronsim

from horae.triggers import cron

START = datetime(2025, 1, 1, tzinfo=UTC)


def horae_fires(expr: str, n: int = 4) -> list[datetime]:
    trigger, after, out = cron(expr), START.timestamp(), []
    for _ in range(n):
        after = trigger.next_fire(after)
        out.append(datetime.fromtimestamp(after, UTC))
    return out


def croniter_fires(expr: str, n: int = 4) -> list[datetime]:
    it = croniter.croniter(expr, START)
    return [it.get_next(datetime) for _ in range(n)]


def cronsim_fires(expr: str, n: int = 4) -> list[datetime]:
    it = cronsim.CronSim(expr, START)
    return [next(it) for _ in range(n)]


def test_one_value_range_with_a_step_is_one_value_in_horae_and_cronsim() -> None:
    for fires in (horae_fires("0 12-12/1 * * *"), cronsim_fires("0 12-12/1 * * *")):
        assert [d.hour for d in fires] == [12, 12, 12, 12]


def test_croniter_reads_a_one_value_range_as_the_whole_field() -> None:
    assert [d.hour for d in croniter_fires("0 12-12/1 * * *")] == [1, 2, 3, 4]
    assert [d.hour for d in croniter_fires("0 12-12/5 * * *")] == [5, 10, 15, 20]
    assert [d.minute for d in croniter_fires("19-19 * * * *")] == [1, 2, 3, 4]

