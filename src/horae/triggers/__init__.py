"""Pure trigger math: when schedules fire. No I/O, no clock; instants are UTC epoch seconds.

See docs/triggers.md for the cron dialect, the DST rule and the performance figures.
"""

from horae.triggers.base import Trigger
from horae.triggers.combine import AnyTrigger, any_of
from horae.triggers.cron import CronTrigger, cron
from horae.triggers.date import DateTrigger, at
from horae.triggers.interval import IntervalTrigger, interval, parse_duration
from horae.triggers.serialization import trigger_from_dict, zone_of
from horae.triggers.window import next_in_window, preview

__all__ = [
    "AnyTrigger",
    "CronTrigger",
    "DateTrigger",
    "IntervalTrigger",
    "Trigger",
    "any_of",
    "at",
    "cron",
    "interval",
    "next_in_window",
    "parse_duration",
    "preview",
    "trigger_from_dict",
    "zone_of",
]
