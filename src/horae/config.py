"""Settings: explicit arguments, then environment (HORAE_*), then ``horae.toml``."""

from __future__ import annotations

import json
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from horae.errors import InvalidInput

DEFAULT_DATABASE_URL = "sqlite:///horae.db"


def file_settings(path: str | os.PathLike[str] = "horae.toml") -> dict[str, Any]:
    """The ``[horae]`` table of horae.toml (or the whole file), if it exists."""
    p = Path(path)
    if not p.is_file():
        return {}
    data = tomllib.loads(p.read_text())
    table = data.get("horae", data)
    return dict(table) if isinstance(table, dict) else {}


def setting(name: str, explicit: Any = None, default: Any = None) -> Any:
    """One setting: explicit value, else ``HORAE_<NAME>``, else horae.toml, else default."""
    if explicit is not None:
        return explicit
    env = os.environ.get(f"HORAE_{name.upper()}")
    if env:
        return env
    return file_settings().get(name, default)


def database_url(explicit: str | None = None) -> str:
    return str(setting("database_url", explicit, DEFAULT_DATABASE_URL))


def number_setting(name: str, default: float, *, integer: bool = False,
                   minimum: float = 0.0) -> float:
    """A numeric setting (see :func:`setting`), checked: a clear error names it otherwise."""
    raw = setting(name, default=default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise InvalidInput(name, f"{raw!r} is not a number") from None
    if not math.isfinite(value) or value < minimum:
        raise InvalidInput(name, f"must be a finite number >= {minimum:g}, not {raw!r}")
    if integer and value != int(value):
        raise InvalidInput(name, f"must be a whole number, not {raw!r}")
    return int(value) if integer else value


@dataclass(frozen=True)
class RetentionSettings:
    """What the scheduler's retention pass keeps (docs/operations.md, "Retention").

    Each is set as ``HORAE_<NAME>`` or ``<name>`` in horae.toml; 0 turns a rule off.
    """

    #: Finished runs (and their log lines) are deleted this many days after they ended: a
    #: month of history covers a monthly review and most investigations, and bounds the
    #: table (the demo alone makes ~8,600 runs a day). 0: runs are never deleted.
    runs_keep_days: float = 30.0
    #: ...except the newest N finished fires of every schedule that still exists, whatever
    #: their age, so a weekly or monthly job keeps its history (20 weeks of a weekly job).
    #: Runs of deleted schedules and ad-hoc runs follow the age rule alone. 0: no exception.
    runs_keep_per_schedule: int = 20
    #: Events (the /api/v1/events stream and the console's live updates) are a cursor,
    #: not history: a client away longer than this reloads its lists. A day is what a
    #: client reconnecting after a night still finds. 0: no age of their own (they still go
    #: with the runs' age and the count limit).
    events_keep_hours: float = 24.0
    #: ...and at most this many, the newest (a day at thousands of runs a second would be
    #: hundreds of millions of rows). 0: no count limit.
    events_keep_max: int = 1_000_000
    #: Seconds between retention passes once nothing old is left; while a backlog remains,
    #: batches follow each other with short pauses instead.
    retention_interval: float = 60.0
    #: Runs examined per transaction (their log lines go in the same one; events go in
    #: batches five times as large): small enough that the SQLite write lock is held for
    #: milliseconds, so fires never wait for retention.
    retention_batch: int = 1000

    @classmethod
    def from_config(cls) -> RetentionSettings:
        """Defaults, overridden by HORAE_<NAME> (environment) or <name> (horae.toml)."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            default = getattr(cls, f.name)
            integer = isinstance(default, int)
            minimum = 1.0 if f.name == "retention_batch" else 0.0
            values[f.name] = number_setting(f.name, default, integer=integer, minimum=minimum)
        if values["retention_interval"] <= 0:
            raise InvalidInput("retention_interval", "must be more than 0 seconds")
        return cls(**values)

    @property
    def enabled(self) -> bool:
        """Whether anything is ever deleted."""
        return (self.runs_age is not None or self.events_age(None) is not None
                or self.events_keep_max > 0)

    @property
    def runs_age(self) -> float | None:
        """Seconds after which finished runs go; None: never."""
        return self.runs_keep_days * 86400.0 if self.runs_keep_days > 0 else None

    def events_age(self, runs_age: float | None) -> float | None:
        """Seconds after which events go: never later than the runs deleted by age (an
        event never outlives its run); None: by count alone."""
        ages = [a for a in (self.events_keep_hours * 3600.0 if self.events_keep_hours > 0
                            else None, runs_age) if a is not None]
        return min(ages) if ages else None


@dataclass(frozen=True)
class IntegrationSettings:
    """What the built-in tasks may reach (docs/integrations.md). Each is off until an admin
    sets it: as an argument of ``Horae(...)``, as ``HORAE_<NAME>`` or in horae.toml.

    - ``http_allow_hosts``: hosts the ``horae.http`` task may call: ``api.example.com``,
      ``*.example.com`` (its subdomains, not itself), an IP address or a network
      (``10.0.0.0/8``). Empty: the task is not registered. Environment: comma-separated.
    - ``http_secrets``: secret name -> the environment variable (of the worker) holding
      its value. Environment: a JSON object, or ``NAME=VAR,NAME2=VAR2``.
    - ``shell_allow``: command name -> its argv (a list of strings; no shell). Empty: the
      ``horae.shell`` task is not registered. Environment: a JSON object.
    """

    http_allow_hosts: tuple[str, ...] = ()
    http_secrets: tuple[tuple[str, str], ...] = ()
    shell_allow: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def from_config(cls, http_allow_hosts: Any = None, http_secrets: Any = None,
                    shell_allow: Any = None) -> IntegrationSettings:
        """Explicit values, else HORAE_<NAME>, else horae.toml, else off; checked."""
        return cls(_host_list(setting("http_allow_hosts", http_allow_hosts)),
                   _secret_map(setting("http_secrets", http_secrets)),
                   _command_map(setting("shell_allow", shell_allow)))

    @property
    def secrets(self) -> dict[str, str]:
        return dict(self.http_secrets)

    @property
    def commands(self) -> dict[str, tuple[str, ...]]:
        return dict(self.shell_allow)


def _json_text(name: str, raw: Any) -> Any:
    if not isinstance(raw, str) or not raw.strip().startswith(("{", "[")):
        return raw
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(name, f"is not valid JSON: {exc}") from None


def _host_list(raw: Any) -> tuple[str, ...]:
    raw = _json_text("http_allow_hosts", raw)
    if raw is None:
        return ()
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise InvalidInput("http_allow_hosts", "must be a list of host names, patterns like "
                                               "'*.example.com', IP addresses or networks")
    return tuple(i.strip() for i in items if i.strip())


def _secret_map(raw: Any) -> tuple[tuple[str, str], ...]:
    raw = _json_text("http_secrets", raw)
    if raw is None:
        return ()
    if isinstance(raw, str):
        pairs = [p.split("=", 1) for p in raw.split(",") if p.strip()]
        if any(len(p) != 2 for p in pairs):
            raise InvalidInput("http_secrets", "write NAME=ENV_VAR pairs separated by commas, "
                                               "or a JSON object")
        raw = {k.strip(): v.strip() for k, v in pairs}
    if not isinstance(raw, Mapping) or not all(
            isinstance(k, str) and k and isinstance(v, str) and v for k, v in raw.items()):
        raise InvalidInput("http_secrets", "must map each secret name to the name of an "
                                           "environment variable holding its value")
    return tuple(sorted(raw.items()))


def _command_map(raw: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    raw = _json_text("shell_allow", raw)
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise InvalidInput("shell_allow", "must map each command name to its argv, e.g. "
                                          '{"backup-db": ["/usr/local/bin/backup", "--full"]}')
    commands = []
    for name, argv in raw.items():
        if (not isinstance(name, str) or not name or not isinstance(argv, list | tuple)
                or not argv or not all(isinstance(a, str) for a in argv)):
            raise InvalidInput(f"shell_allow.{name}", "must be a non-empty list of strings "
                                                      "(the program, then its arguments)")
        commands.append((name, tuple(argv)))
    return tuple(sorted(commands))
