"""Stdlib-only helpers shared by Horae's side and the peer scripts (which run in the
peers' own virtual environments, with the repository root on ``PYTHONPATH``).

Measurements read ``/proc`` directly: CPU seconds of a process tree (children reaped by
it included), resident memory of one process.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / ".work"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_DB = 13  # a dedicated Redis database number, flushed before each peer run
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
MARK = "BENCH_RESULT "
_TICK = os.sysconf("SC_CLK_TCK")


def pg_url(db: str, driver: str = "postgresql") -> str:
    return f"{driver}://postgres@127.0.0.1:5432/{db}"


# -- /proc --------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()  # fields from "state" on


def tree(pid: int) -> list[int]:
    """``pid`` and every live descendant."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None:
                children.setdefault(int(st[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU of these processes' trees, with their reaped children."""
    total = 0
    for root in pids:
        for p in tree(root):
            st = _stat(p)
            if st is not None:  # utime stime cutime cstime are fields 14-17 (1-based)
                total += sum(int(x) for x in st[11:15])
    return total / _TICK


def own_cpu_seconds(pids: Sequence[int]) -> dict[int, float]:
    """User + system CPU of each live process alone (no children): for server processes
    shared with others, such as the PostgreSQL backends of one database."""
    out = {}
    for p in pids:
        st = _stat(p)
        if st is not None:
            out[p] = (int(st[11]) + int(st[12])) / _TICK
    return out


def rss_mb(pid: int) -> float:
    """Resident memory of one process, in MiB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tree_rss_mb(pids: Sequence[int]) -> float:
    """Resident memory of these processes' trees together, in MiB."""
    total = 0.0
    for root in pids:
        for p in tree(root):
            with contextlib.suppress(OSError):
                total += rss_mb(p)
    return total


class PeakRss(threading.Thread):
    """Samples the trees' RSS every ``every`` s until :meth:`finish`; ``peak`` in MiB."""

    def __init__(self, pids: Callable[[], Sequence[int]], every: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.pids, self.every, self.peak = pids, every, 0.0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            self.peak = max(self.peak, tree_rss_mb(self.pids()))
            self.halt.wait(self.every)

    def finish(self) -> float:
        self.halt.set()
        self.join(timeout=10)
        return round(self.peak, 1)


def redis_server() -> tuple[int | None, float]:
    """The Redis server's pid and its used memory in MiB (``INFO``)."""
    try:
        info = subprocess.run(["redis-cli", "INFO"], capture_output=True, text=True,
                              timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None, 0.0
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    pid = int(fields["process_id"]) if "process_id" in fields else None
    return pid, int(fields.get("used_memory", "0")) / 2**20


def self_cpu() -> float:
    t = os.times()
    return t.user + t.system


# -- processes ----------------------------------------------------------------------


def spawn(cmd: Sequence[str], *, env: dict[str, str] | None = None, log: Path | None = None,
          cwd: Path = ROOT) -> subprocess.Popen[bytes]:
    """A child in its own process group (so :func:`stop` ends all of it)."""
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    full_env = dict(os.environ, **(env or {}))
    full_env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *(p for p in full_env.get("PYTHONPATH", "").split(os.pathsep) if p)])
    return subprocess.Popen(list(cmd), env=full_env, cwd=cwd, stdout=out, stderr=out,
                            start_new_session=True)


def stop(proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """SIGTERM the child's process group, then SIGKILL what is left after ``grace`` s."""
    if proc.poll() is not None:
        _kill_group(proc.pid, signal.SIGKILL)
        return
    _kill_group(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    _kill_group(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def _kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def wait_for(check: Callable[[], Any], timeout: float, every: float = 0.01) -> Any:
    """Poll ``check`` until it returns something truthy; None after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    return None


# -- numbers ------------------------------------------------------------------------


def percentiles(values: Sequence[float], scale: float = 1000.0) -> dict[str, float | None]:
    """Nearest-rank p50/p99/max of seconds, in milliseconds (``scale``)."""
    if not values:
        return {"p50": None, "p99": None, "max": None}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    return {"p50": round(rank(50) * scale, 2), "p99": round(rank(99) * scale, 2),
            "max": round(ordered[-1] * scale, 2)}


def sustained_result(late: Sequence[float], n: int, period: float, duration: float,
                     cpu_s: float) -> dict[str, Any]:
    """The sustained workload's record, the same for every system: lateness percentiles of
    the fires due in the window, CPU over it, and the share of due fires handed on."""
    pc = percentiles(late)
    return {"fires_per_s": round(n / period, 1), "lateness_p50_ms": pc["p50"],
            "lateness_p99_ms": pc["p99"], "lateness_max_ms": pc["max"],
            "cpu_s": round(cpu_s, 2), "cpu_pct": round(cpu_s / duration * 100, 1),
            "done_ratio": round(min(1.0, len(late) / (n * duration / period)), 4)}


class Drain:
    """Observe a drain with one uniform rule for every system: poll a completion count
    every ``every`` s; the clock starts at the first poll that sees a completion (so
    process start-up is excluded for everybody) and stops when ``n`` are done.
    Worker CPU is taken over the same window."""

    def __init__(self, n: int, count: Callable[[], int], pids: Callable[[], list[int]],
                 timeout: float, every: float = 0.05, max_seconds: float = 120.0) -> None:
        self.n, self.count, self.pids, self.timeout, self.every = n, count, pids, timeout, every
        self.max_seconds = max_seconds  # a slow system is measured over this long, not to n

    def run(self) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        t_first = c_first = cpu_first = None
        done = 0
        partial = False
        while time.monotonic() < deadline:
            done = self.count()
            now = time.monotonic()
            if t_first is None and done > 0:
                t_first, c_first, cpu_first = now, done, cpu_seconds(self.pids())
            if done >= self.n:
                break
            if t_first is not None and now - t_first >= self.max_seconds:
                partial = True
                break
            time.sleep(self.every)
        else:
            return {"error": f"drained {done} of {self.n} in {self.timeout:.0f}s"}
        t_end, cpu_end = time.monotonic(), cpu_seconds(self.pids())
        assert t_first is not None and c_first is not None and cpu_first is not None
        runs = min(done, self.n) - c_first
        secs = max(t_end - t_first, 1e-6)
        return {"runs_per_s": round(runs / secs, 1), "seconds": round(secs, 2),
                "cpu_s_per_1000": round((cpu_end - cpu_first) / max(runs, 1) * 1000, 3),
                "measured_runs": runs,
                **({"note": f"measured over {secs:.0f}s: {done} of {self.n} done"}
                   if partial else {})}


def paced(n: int, rate: float, action: Callable[[int], None]) -> None:
    """Call ``action(k)`` for k in range(n) at ``rate`` per second (no catch-up bursts
    beyond what lateness forces)."""
    t0 = time.monotonic()
    for k in range(n):
        delay = t0 + k / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        action(k)


# -- output -------------------------------------------------------------------------


def emit(metrics: dict[str, Any]) -> None:
    """Print the one result line the orchestrator reads."""
    sys.stdout.write(MARK + json.dumps(metrics) + "\n")
    sys.stdout.flush()


def args() -> tuple[str, dict[str, Any]]:
    """``script WORKLOAD '{"json": "params"}'``."""
    return sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
