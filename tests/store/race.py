"""The loops the concurrency tests run in threads and in separate processes.

As a process: ``python -m tests.store.race fire|claim URL NAME SECONDS``; it opens the
store, prints ``ready``, waits for a line on stdin, runs, and prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time

from horae.store import Store
from tests.store.support import planner

QUEUES = ["default"]


def fire_for(store: Store, seconds: float) -> dict[str, int]:
    """Call schedules_fire_due as fast as possible for ``seconds``."""
    calls = fires = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        fires += store.schedules_fire_due(planner).fires
        calls += 1
    return {"calls": calls, "fires": fires}


def claim_all(store: Store, me: str) -> list[list[int]]:
    """Claim until nothing is left; returns ``[run_id, attempt]`` of each claim."""
    got: list[list[int]] = []
    while runs := store.runs_claim(me, QUEUES, 3, 60.0):
        got.extend([r.id, r.attempt] for r in runs)
    return got


def main(argv: list[str]) -> None:
    mode, url, name, seconds = argv[0], argv[1], argv[2], float(argv[3])
    store = Store(url)
    store.now()  # connected before the start signal
    print("ready", flush=True)
    sys.stdin.readline()
    out = fire_for(store, seconds) if mode == "fire" else claim_all(store, name)
    print(json.dumps(out), flush=True)
    store.close()


if __name__ == "__main__":
    main(sys.argv[1:])
