"""The warning that a change was made but its runs will wait: no live worker serves the
queue they go to. A run on such a queue is not an error (a worker may start later, or
serve it from another host), so it is never refused; but waiting in silence is how people
lose an hour, so every face says so when the change is made (API ``warnings``, CLI stderr,
console banner)."""

from __future__ import annotations

from collections.abc import Iterable


def unserved_queue_warnings(queues: Iterable[str]) -> list[dict[str, str]]:
    """``[{"field": "queue", "reason": …}]``, one per queue no live worker serves."""
    return [{"field": "queue",
             "reason": f"no live worker serves queue '{q}': its runs wait until a worker "
                       f"serving it starts (horae worker -Q {q})"}
            for q in queues]
