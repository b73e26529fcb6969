"""The one persistence layer: every SQL statement Horae runs lives in this package."""

from horae.store.base import ChangeHook, on_change
from horae.store.connection import Database, open_database
from horae.store.store import (
    ClaimedRun,
    DueRow,
    Finish,
    FireOutcome,
    NewRun,
    QueueStats,
    RunFilter,
    Store,
)

__all__ = [
    "ChangeHook",
    "ClaimedRun",
    "Database",
    "DueRow",
    "Finish",
    "FireOutcome",
    "NewRun",
    "QueueStats",
    "RunFilter",
    "Store",
    "on_change",
    "open_database",
]
