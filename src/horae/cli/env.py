"""What every command shares: the global options, the app they name, and input parsing."""

from __future__ import annotations

import importlib
import json
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import click

from horae.app import Horae
from horae.config import database_url
from horae.errors import InvalidInput
from horae.triggers import parse_duration

if TYPE_CHECKING:
    from horae.client import RemoteHorae

# What `schedules`, `runs`, `tasks list` and `workers list` use: the database or a server.
Client: TypeAlias = "Horae | RemoteHorae"


@dataclass
class Env:
    """The global options of one ``horae`` invocation, and the app built from them.

    The app is built on first use, so ``horae --help`` and usage errors never import user
    code or touch the database; :meth:`close` disconnects it when the command ends.
    """

    app_spec: str | None = None
    db: str | None = None
    debug: bool = False
    color: str = "auto"
    remote_url: str | None = None  # --url / HORAE_URL: talk to a server over the API
    token: str | None = None  # --token / HORAE_TOKEN
    _app: Horae | None = field(default=None, repr=False)
    _client: RemoteHorae | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        if self._app is not None:
            return self._app.database_url
        return database_url(self.db)

    def app(self, *, demo: bool = False, migrate: bool = True) -> Horae:
        """The operator's app (``-A``), the demo app, or a bare app with no tasks.

        Commands that call this need the database; with ``--url`` they refuse (exit 2).
        """
        if self.remote_url is not None:
            ctx = click.get_current_context(silent=True)
            command = ctx.command_path if ctx is not None else "this command"
            raise InvalidInput("url", f"`{command}` needs direct database access; it cannot "
                                      "work through a server's API (drop --url / HORAE_URL "
                                      "and give --db)")
        if self._app is None:
            if self.app_spec is not None:
                app = load_app(self.app_spec)
                if self.db is not None:
                    app.database_url = database_url(self.db)
            elif demo:
                from horae.demo import make_app

                app = make_app(self.db)
            else:
                app = Horae(self.db)
            app.migrate = migrate
            self._app = app
        return self._app

    def client(self) -> Client:
        """The remote server (``--url``), else the local app: what ``schedules``, ``runs``,
        ``tasks list`` and ``workers list`` work through."""
        if self.remote_url is None:
            return self.app()
        if self._client is None:
            from horae.client import RemoteHorae

            self._client = RemoteHorae(self.remote_url, self.token)
        return self._client

    def warn_unserved(self, queues: Sequence[str]) -> None:
        """Say on stderr (exit code unchanged) which of ``queues`` no live worker serves:
        the change is made, but its runs would otherwise wait in silence."""
        for warning in self.client().queue_warnings(queues):
            click.echo(f"warning: {warning['field']}: {warning['reason']}", err=True)

    def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            client.close()
        if self._app is not None:
            app, self._app = self._app, None
            try:
                app.stop()
            except Exception:  # the command's outcome is already reported
                if self.debug:
                    raise


def load_app(spec: str) -> Horae:
    """Import ``module:attr`` (attr defaults to ``app``), as gunicorn does for its APP."""
    module_name, _, attr = spec.partition(":")
    attr = attr or "app"
    if not module_name:
        raise InvalidInput("app", f"{spec!r} names no module; write -A module:attribute, "
                                  "e.g. -A myproject.jobs:app")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise InvalidInput("app", f"cannot import module {module_name!r} ({exc}); run horae "
                                      "from your project's directory or fix PYTHONPATH") from None
        raise InvalidInput("app", f"importing {module_name!r} failed: {exc}") from None
    except Exception as exc:
        raise InvalidInput("app", f"importing {module_name!r} failed: "
                                  f"{type(exc).__name__}: {exc}") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise InvalidInput("app", f"module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not isinstance(obj, Horae):
        raise InvalidInput("app", f"{module_name}:{attr} is a {type(obj).__name__}, not a Horae "
                                  "instance; point -A at the object made with Horae(...)")
    return obj


pass_env = click.make_pass_decorator(Env, ensure=True)


# -- input --------------------------------------------------------------------------


def parse_json(text: str, field_name: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(field_name, f"not valid JSON: {exc}") from None


def parse_seconds(text: str, field_name: str) -> float:
    """Seconds as a number ("90", "1.5") or a duration ("5m", "1h30m")."""
    try:
        value = float(text)
    except ValueError:
        return parse_duration(text, field_name)
    if not math.isfinite(value):
        raise InvalidInput(field_name, "must be a finite number of seconds")
    return value


def is_none(text: str) -> bool:
    return text.strip().lower() in ("none", "null", "")


def split_list(values: tuple[str, ...]) -> list[str]:
    """``-Q a,b -Q c`` -> ``["a", "b", "c"]``."""
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def safe_url(url: str) -> str:
    """The URL without its password, for messages and banners."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
