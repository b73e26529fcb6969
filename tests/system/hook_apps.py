"""An app with hooks for system tests: each ``run.succeeded`` appends a line (the event
id, the run id and this process's pid) to the file HORAE_HOOKS_OUT names."""

from __future__ import annotations

import os

from horae import HookEvent, Horae

app = Horae()
app.hooks.lease = 2.0


@app.task("noop")
def noop() -> None:
    return None


@app.on("run.succeeded")
def record(event: HookEvent) -> None:
    with open(os.environ["HORAE_HOOKS_OUT"], "a") as out:
        out.write(f"{event.id} {event.run_id} {os.getpid()}\n")
