"""The ``polling`` workload's population and its figures, the same for Horae and every peer
(stdlib only: the peer scripts import it from their own venvs).

Population (seed 004): order ``i`` gets an interval schedule of a random period in
``periods`` (30-60 s in the full run), a random phase (its first fire one uniform fraction
of a period after it is created) and settles after ``k`` periods (k uniform in 4-12); from
then on its next poll removes the schedule. :func:`population` draws it from a fixed seed,
so every system polls the same orders at the same relative instants.

Figures (:func:`polling_result`), over the measured window ``[t0, t1)``:

- **offered** fires: the trigger instants ``anchor + j*period`` in the window of every
  schedule, up to the instant it was removed (computed, not observed: a scheduler that
  falls behind does not lower it);
- **fired**: fires the system turned into runs/jobs (any state) due in the window;
- **done**: polls that finished inside the window, per second; ``done_ratio``: polls due
  in the window that started ÷ offered (a fire skipped, missed, coalesced or never
  handed out lowers it);
- **lateness** of a poll: its start - its due instant, for the runnable fires due in the
  window; one that has not started when observation ends counts with the lower bound
  ``observed_until - due`` (never left out), and ``not_started`` says how many;
- per minute of the window: p50/p99/max of the same lateness by due minute;
- **stall**: the longest stretch of the window in which no poll started;
- **after_removal**: runs/jobs of a schedule that appeared after its self-removal had been
  committed (must be 0).
"""

from __future__ import annotations

import itertools
import math
import os
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.common import percentiles

SEED = 4  # seed 004
CREATE_LIMIT_S = 600.0  # creating the population stops there; the note says how far it got


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    period: float
    phase: float  # first fire = created + phase
    k: int  # settles k periods after creation


@dataclass(slots=True)
class Spec:
    """An order as created: absolute instants."""

    id: str
    period: float
    anchor: float  # first fire
    settle_at: float


def population(n: int, periods: Sequence[float], seed: int = SEED,
               prefix: str = "o") -> list[Order]:
    rng = random.Random(seed)
    lo, hi = periods
    out = []
    for i in range(n):
        period = round(rng.uniform(lo, hi), 3)
        out.append(Order(f"{prefix}{i:07d}", period, round(rng.uniform(0, period), 3),
                         rng.randint(4, 12)))
    return out


def spec(order: Order, now: float) -> Spec:
    return Spec(order.id, order.period, now + order.phase, now + order.k * order.period)


@dataclass(slots=True)
class Poll:
    """One fire as the system handled it."""

    schedule: str
    due: float
    state: str  # done | failed | skipped | missed | waiting (not started yet) | running
    started: float | None = None
    finished: float | None = None
    appeared: float | None = None  # run row created / job submitted (after-removal check)
    reason: str | None = None  # of a skipped/missed fire


class PollLog:
    """A peer's poll records as lines appended to a file, so the measured processes keep
    none in memory (their RSS is measured). One ``write`` per line on an ``O_APPEND``
    descriptor: lines from several threads and processes never interleave.

    ``S id due at`` a poll started; ``E id due at removed|-`` it finished (and when it
    removed its schedule); ``F id due at`` a fire handed to execution (published);
    ``K id due skipped|missed reason...`` a fire not run. ``due`` is ``repr`` of the
    float, so the lines of one fire match exactly.
    """

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def line(self, *fields: object) -> None:
        os.write(self.fd, (" ".join(str(f) for f in fields) + "\n").encode())

    def close(self) -> None:
        os.close(self.fd)


def read_poll_log(path: str) -> tuple[list[Poll], dict[str, float]]:
    """The polls (fires published but never started are ``waiting``) and each schedule's
    self-removal instant, from a :class:`PollLog` file."""
    polls: dict[tuple[str, str], Poll] = {}
    removed: dict[str, float] = {}
    with open(path) as f:
        for raw in f:
            kind, sid, due, *rest = raw.split(" ", 4)
            key = (sid, due)
            if kind == "F":
                polls.setdefault(key, Poll(sid, float(due), "waiting"))
            elif kind == "S":
                at = float(rest[0])
                p = polls.setdefault(key, Poll(sid, float(due), "running"))
                p.state, p.started, p.appeared = "running", at, at
            elif kind == "E":
                p = polls.setdefault(key, Poll(sid, float(due), "running"))
                p.state, p.finished = "done", float(rest[0])
                if rest[1].strip() != "-":
                    removed[sid] = float(rest[1])
            elif kind == "K":
                polls[key] = Poll(sid, float(due), rest[0], reason=rest[1].strip())
    return list(polls.values()), removed


def offered(specs: Iterable[Spec], removed: dict[str, float], t0: float, t1: float) -> int:
    """Trigger instants in [t0, t1) of every schedule, each up to its removal."""
    total = 0
    for s in specs:
        end = min(t1, removed.get(s.id, math.inf))
        if end <= t0 or end <= s.anchor:
            continue
        first = _first_at_or_after(s, max(t0, s.anchor))
        last = _first_at_or_after(s, end)  # instants anchor + j*p < end: j < last
        total += max(0, last - first)
    return total


def _first_at_or_after(s: Spec, t: float) -> int:
    """The least j >= 0 with ``anchor + j*period >= t``, in the trigger's own arithmetic
    (a division alone is off by one when an instant falls on ``t`` within rounding)."""
    j = max(0, math.ceil((t - s.anchor) / s.period))
    while j > 0 and s.anchor + (j - 1) * s.period >= t:
        j -= 1
    while s.anchor + j * s.period < t:
        j += 1
    return j


def stall(starts: Sequence[float], t0: float, t1: float) -> float:
    """The longest part of [t0, t1] with no start in it."""
    edges = [t0, *sorted(x for x in starts if t0 <= x <= t1), t1]
    return max(b - a for a, b in itertools.pairwise(edges))


def polling_result(specs: Sequence[Spec], polls: Sequence[Poll], removed: dict[str, float],
                   t0: float, t1: float, observed_until: float) -> dict[str, Any]:
    """The lateness, throughput, skip and removal figures of one run (see the module)."""
    duration = t1 - t0
    window = [p for p in polls if t0 <= p.due < t1]
    runnable = [p for p in window if p.state not in ("skipped", "missed")]
    late: list[float] = []
    by_minute: dict[int, list[float]] = {}
    not_started = 0
    for p in runnable:
        if p.started is None:
            not_started += 1
        value = (p.started if p.started is not None else observed_until) - p.due
        late.append(value)
        by_minute.setdefault(int((p.due - t0) // 60), []).append(value)
    pc = percentiles(late)
    owed = offered(specs, removed, t0, t1)
    out: dict[str, Any] = {
        "schedules": len(specs),
        "fires_per_s_offered": round(owed / duration, 1),
        "fires_per_s_fired": round(len(window) / duration, 1),
        "runs_per_s_done": round(sum(1 for p in polls if p.state == "done" and p.finished
                                     is not None and t0 <= p.finished < t1) / duration, 1),
        "lateness_p50_ms": pc["p50"], "lateness_p99_ms": pc["p99"],
        "lateness_max_ms": pc["max"], "not_started": not_started,
        "done_ratio": round(min(1.0, (len(runnable) - not_started) / owed), 4) if owed else None,
        "stall_s": round(stall([p.started for p in polls if p.started is not None], t0, t1), 2),
        "skipped": sum(1 for p in window if p.state == "skipped"),
        "missed": sum(1 for p in window if p.state == "missed"),
        "failed": sum(1 for p in window if p.state == "failed"),
        "removed": sum(1 for r in removed.values() if t0 <= r < observed_until),
        "after_removal": sum(1 for p in polls if p.appeared is not None
                             and p.appeared > removed.get(p.schedule, math.inf)),
    }
    for minute in sorted(by_minute):
        m = percentiles(by_minute[minute])
        for q in ("p50", "p99", "max"):
            out[f"lateness_{q}_ms_m{minute + 1}"] = m[q]
    return out


def behind(out: dict[str, Any]) -> str:
    """The note of a system that did not keep up (empty when it did)."""
    ratio = out.get("done_ratio")
    if ratio is None or ratio >= 0.99:
        return ""
    return (f"fell behind: {ratio:.0%} of the offered fires started "
            f"({out['fires_per_s_fired']} of {out['fires_per_s_offered']} fires/s handed out)")


def skip_reasons(polls: Iterable[Poll], t0: float, t1: float) -> str:
    """"skipped: 12 (reason: 10; other: 2)" for the note; empty when none."""
    parts = []
    for state in ("skipped", "missed"):
        reasons = Counter(p.reason or "no reason recorded" for p in polls
                          if p.state == state and t0 <= p.due < t1)
        if reasons:
            detail = "; ".join(f"{r}: {c}" for r, c in reasons.most_common(4))
            parts.append(f"{state} {sum(reasons.values())} ({detail})")
    return ", ".join(parts)
