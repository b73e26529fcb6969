"""Settings: explicit arguments, then environment (HORAE_*), then ``horae.toml``."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

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
