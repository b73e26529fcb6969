"""An app for system tests: its database comes from HORAE_DATABASE_URL."""

from __future__ import annotations

import time

from horae import Horae

app = Horae()


@app.task("noop")
def noop() -> None:
    return None


@app.task("sleepy")
def sleepy(seconds: float = 60.0) -> str:
    time.sleep(seconds)
    return "woke"


@app.task("sleepy.retry", retries=1, retry_backoff=0.1)
def sleepy_retry(seconds: float = 60.0, marker: str = "") -> str:
    """Sleeps the first time; returns at once on a later attempt (marker file exists)."""
    import os

    if marker and os.path.exists(marker):
        return "second attempt"
    if marker:
        open(marker, "w").close()
    time.sleep(seconds)
    return "woke"
