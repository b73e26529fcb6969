"""A process that declares schedules in code and starts a scheduler, on a signal.

``python -m tests.system.declared_starts URL GO_FILE [VARIANT]``: builds the app (VARIANT
changes the declared arguments: another version of the code), prints ``ready``, waits
until GO_FILE exists (so several copies start at the same instant), starts (which syncs
the declarations), prints ``started`` and the highest version of a schedule, and stops
when its stdin closes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from horae import Horae, cron, interval

SPARE = 60  # declarations besides tick


def build(url: str, variant: str = "a") -> Horae:
    app = Horae(url)

    @app.periodic("tick", interval(seconds=0.5), kwargs={"n": 1}, overlap="allow")
    @app.task("tick", queue="nowhere")  # no worker: the runs stay queued, one per fire
    def tick(n: int, variant: str = "a") -> int:
        return n

    # Many declarations, so the four starts interleave and race on some of them.
    for i in range(SPARE):
        app.periodic(f"daily-{i}", cron(f"{i % 60} 3 * * *"),
                     kwargs={"n": i, "variant": variant})(tick)
    return app


def main(url: str, go: Path, variant: str) -> None:
    app = build(url, variant)
    app.store.schedule_count()  # connected and migrated: the start races only on the sync
    print("ready", flush=True)
    deadline = time.monotonic() + 30
    while not go.exists():
        if time.monotonic() > deadline:
            raise SystemExit("never told to start")
        time.sleep(0.002)
    app.start(worker=False)
    print("started", max(s.version for s in app.schedules.list(limit=1000)), flush=True)
    sys.stdin.read()
    app.stop()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "a")
