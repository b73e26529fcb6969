"""Task functions of the RQ peer (RQ imports them by dotted path)."""

from __future__ import annotations

from bench.peers.qharness import record_pickup


def noop() -> None:
    return None


def pickup(sent_at: float) -> None:
    record_pickup(sent_at)
