"""Time ``next_fire`` for Horae, croniter and cronsim side by side (a script, not a test).

Run: python tests/unit/triggers/bench_cron.py
Each library walks the same expressions from the same start for N successive fires; the
figure is microseconds per call (best of 5 repeats, so background noise counts less).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from croniter import croniter  # type: ignore[import-untyped]
from cronsim import CronSim

from horae.triggers import cron

EXPRESSIONS = [
    ("*/5 * * * *", "UTC"),
    ("0 2 * * 1", "UTC"),
    ("15 10 1,15 * MON-FRI", "UTC"),
    ("0 0 L * *", "UTC"),
    ("0 9 * * 1-5", "Europe/Berlin"),
    ("*/15 * * * *", "America/New_York"),
    ("30 2 * * *", "America/New_York"),
    ("0 12 * * 1#2", "Asia/Shanghai"),
]
# Rare matches: Horae only (croniter gives up on some of them after its own search limit).
HOSTILE = ["0 0 */7 2 5#5", "*/1 */1 L 2 5#5", "0 0 ? 2 5#5"]
CALLS = 2000
REPEATS = 5
START = datetime(2025, 1, 1, tzinfo=UTC)


def best_microseconds(step: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        began = time.perf_counter()
        for _ in range(CALLS):
            step()
        best = min(best, time.perf_counter() - began)
    return best / CALLS * 1e6


def horae_step(expr: str, tz: str) -> Callable[[], object]:
    trigger = cron(expr, tz)
    state = [START.timestamp()]

    def step() -> object:
        # Restart instead of returning None if a walk ever reaches year 9998.
        state[0] = trigger.next_fire(state[0]) or START.timestamp()
        return state[0]

    return step


def croniter_step(expr: str, tz: str) -> Callable[[], object]:
    iterator = croniter(expr, START.astimezone(ZoneInfo(tz)))
    return lambda: iterator.get_next(float)


def cronsim_step(expr: str, tz: str) -> Callable[[], object]:
    iterator = CronSim(expr.replace("1#2", "MON#2"), START.astimezone(ZoneInfo(tz)))
    return lambda: next(iterator)


def main() -> None:
    print(f"python {sys.version.split()[0]}, {CALLS} successive next_fire calls, best of {REPEATS}")
    print(f"{'expression':<24} {'zone':<17} {'horae':>8} {'croniter':>9} {'cronsim':>8}  ratios")
    for expr, tz in EXPRESSIONS:
        ours = best_microseconds(horae_step(expr, tz))
        theirs = best_microseconds(croniter_step(expr, tz))
        sims = best_microseconds(cronsim_step(expr, tz))
        print(
            f"{expr:<24} {tz:<17} {ours:>6.1f}us {theirs:>7.1f}us {sims:>6.1f}us"
            f"  croniter/horae {theirs / ours:4.1f}x, cronsim/horae {sims / ours:4.1f}x"
        )
    for expr in HOSTILE:
        print(
            f"{expr:<24} {'UTC':<17} {best_microseconds(horae_step(expr, 'UTC')):>6.1f}us  (rare)"
        )


if __name__ == "__main__":
    main()
