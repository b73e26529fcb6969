"""Notification channels: the model, and the validation of each kind's configuration.

A channel has a ``config`` (what anyone who may read channels sees: SMTP host, recipients,
a generic webhook's URL...) and ``secrets`` (passwords, signing secrets, and robot webhook
URLs, whose path or query *is* the credential). Secrets are write-only: the read model
:class:`Channel` carries only which of them are set, never their values.

Every bad value raises ``InvalidInput(field, reason)`` with ``field`` a dotted path
(``config.port``, ``secrets.webhook_url``); a reason never repeats a secret's value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from horae.errors import InvalidInput, text_problem

KINDS = ("email", "webhook", "slack", "dingtalk", "wecom", "feishu", "teams")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
# A deliberately loose check: one @, no spaces or angle brackets; the SMTP server decides.
EMAIL_RE = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 60.0


@dataclass(frozen=True)
class Channel:
    """A channel as everyone who may read it sees it: never a secret's value.

    ``secrets`` maps each secret field of the kind to whether it is set.
    """

    id: int
    name: str
    kind: str
    config: dict[str, Any]
    secrets: dict[str, bool]
    enabled: bool = True
    created_at: float = 0.0
    updated_at: float = 0.0
    version: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "kind": self.kind, "config": self.config,
                "secrets": self.secrets, "enabled": self.enabled,
                "created_at": self.created_at, "updated_at": self.updated_at,
                "version": self.version}


Check = Callable[[str, Any], Any]


@dataclass(frozen=True)
class Field:
    """One configuration or secret field: its check (returns the clean value), whether
    it must be given, and its default when not."""

    check: Check
    required: bool = False
    default: Any = None
    help: str = ""


@dataclass(frozen=True)
class KindSpec:
    kind: str
    config: dict[str, Field] = field(default_factory=dict)
    secrets: dict[str, Field] = field(default_factory=dict)


# -- checks: each takes the field's dotted path and the value, returns the clean value ----

def _text(path: str, value: Any, *, limit: int = 500) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(path, "must be a non-empty string")
    problem = text_problem(value)
    if problem or len(value) > limit:
        raise InvalidInput(path, problem or f"must be at most {limit} characters")
    return value.strip()


def _secret_text(path: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput(path, "must be a non-empty string")
    if text_problem(value) or len(value) > 4096:
        raise InvalidInput(path, "must be text of at most 4096 characters")
    return value


def check_url(path: str, value: Any) -> str:
    """An absolute http or https URL with a host (no other scheme is ever fetched)."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(path, "must be a URL starting with https:// or http://")
    if text_problem(value) or len(value) > 4096 or any(c.isspace() for c in value):
        raise InvalidInput(path, "must be a URL without spaces, of at most 4096 characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise InvalidInput(path, "is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidInput(path, "must start with https:// or http://")
    if not parts.hostname:
        raise InvalidInput(path, "must name a host")
    if parts.username or parts.password:
        raise InvalidInput(path, "must not carry a user or password; use the secret fields")
    return value


def _secret_url(path: str, value: Any) -> str:
    # The same check; kept apart so a reason never quotes the (secret) value.
    return check_url(path, value)


def _port(path: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise InvalidInput(path, "must be a whole number from 1 to 65535")
    return value


def _timeout(path: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not 0 < value <= MAX_TIMEOUT:
        raise InvalidInput(path, f"must be a number of seconds above 0, at most {MAX_TIMEOUT:g}")
    return float(value)


def _security(path: str, value: Any) -> str:
    if value not in ("starttls", "ssl", "none"):
        raise InvalidInput(path, "must be one of starttls, ssl, none")
    return str(value)


def _address(path: str, value: Any) -> str:
    if not isinstance(value, str) or not EMAIL_RE.match(value) or len(value) > 320:
        raise InvalidInput(path, "must be an email address like ops@example.com")
    return value


def _addresses(path: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not value:
        raise InvalidInput(path, "must be a list of at least one email address")
    if len(value) > 100:
        raise InvalidInput(path, "must list at most 100 addresses")
    return [_address(f"{path}[{i}]", v) for i, v in enumerate(value)]


def _optional_text(path: str, value: Any) -> str | None:
    return None if value is None or value == "" else _text(path, value, limit=320)


def _feishu_format(path: str, value: Any) -> str:
    if value not in ("card", "text"):
        raise InvalidInput(path, "must be one of card, text")
    return str(value)


def _bool(path: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(path, "must be true or false")
    return value


_TIMEOUT = Field(_timeout, default=DEFAULT_TIMEOUT, help="seconds before giving up")
_ROBOT_URL = Field(_secret_url, required=True,
                   help="the robot's webhook URL (its path or query is the credential)")

SPECS: dict[str, KindSpec] = {
    "email": KindSpec("email", config={
        "host": Field(lambda p, v: _text(p, v, limit=255), required=True, help="SMTP host"),
        "port": Field(_port, help="SMTP port (default 587 for starttls, 465 for ssl, 25)"),
        "security": Field(_security, default="starttls", help="starttls, ssl or none"),
        "username": Field(_optional_text, help="SMTP user name, if the server wants AUTH"),
        "from_addr": Field(_address, required=True, help="the From address"),
        "to": Field(_addresses, required=True, help="recipient addresses"),
        "timeout": _TIMEOUT,
    }, secrets={"password": Field(_secret_text, help="SMTP password (with username)")}),
    "webhook": KindSpec("webhook", config={
        "url": Field(check_url, required=True, help="where the JSON is POSTed"),
        "timeout": _TIMEOUT,
    }, secrets={"signing_secret": Field(
        _secret_text, help="HMAC-SHA256 key of the X-Horae-Signature header")}),
    "slack": KindSpec("slack", config={"timeout": _TIMEOUT},
                      secrets={"webhook_url": _ROBOT_URL}),
    "dingtalk": KindSpec("dingtalk", config={
        "at_all": Field(_bool, default=False, help="@all in the group"),
        "timeout": _TIMEOUT,
    }, secrets={"webhook_url": _ROBOT_URL,
                "signing_secret": Field(_secret_text, help="the robot's SEC... secret")}),
    "wecom": KindSpec("wecom", config={"timeout": _TIMEOUT},
                      secrets={"webhook_url": _ROBOT_URL}),
    "feishu": KindSpec("feishu", config={
        "format": Field(_feishu_format, default="card",
                        help="card (an interactive card) or text (plain text)"),
        "timeout": _TIMEOUT,
    },
                       secrets={"webhook_url": _ROBOT_URL,
                                "signing_secret": Field(_secret_text,
                                                        help="the bot's signature secret")}),
    "teams": KindSpec("teams", config={"timeout": _TIMEOUT},
                      secrets={"webhook_url": _ROBOT_URL}),
}

DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


def check_kind(value: Any) -> str:
    if value not in SPECS:
        raise InvalidInput("kind", f"must be one of {', '.join(KINDS)}")
    return str(value)


def check_name(value: Any) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise InvalidInput("name", "must be 1-100 letters, digits, '_', '.' or '-', "
                                   "starting with a letter or digit")
    return value


def check_config(kind: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The full, clean configuration of a ``kind`` channel (defaults filled in)."""
    spec = SPECS[check_kind(kind)]
    if not isinstance(config, Mapping):
        raise InvalidInput("config", "must be an object")
    for name in config:
        if name not in spec.config:
            known = ", ".join(spec.config) or "none"
            raise InvalidInput(f"config.{name}", f"not a field of a {kind} channel "
                                                 f"(its fields: {known})")
    clean: dict[str, Any] = {}
    for name, f in spec.config.items():
        value = config.get(name)
        if value is None:
            if f.required:
                raise InvalidInput(f"config.{name}", "is required")
            if f.default is not None:
                clean[name] = f.default
            continue
        clean[name] = f.check(f"config.{name}", value)
    if kind == "email":
        clean.setdefault("port", DEFAULT_PORTS[clean["security"]])
        if clean.get("username") is None:
            clean.pop("username", None)
    return clean


def merge_secrets(kind: str, current: Mapping[str, str],
                  changes: Mapping[str, str | None]) -> dict[str, str]:
    """The secrets after ``changes``: a value sets a secret, ``None`` clears it, a name not
    given keeps it. Raises InvalidInput for an unknown name, a bad value, or a required
    secret left unset."""
    spec = SPECS[check_kind(kind)]
    if not isinstance(changes, Mapping):
        raise InvalidInput("secrets", "must be an object")
    merged = dict(current)
    for name, value in changes.items():
        if name not in spec.secrets:
            known = ", ".join(spec.secrets) or "none"
            raise InvalidInput(f"secrets.{name}", f"not a secret of a {kind} channel "
                                                  f"(its secrets: {known})")
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = spec.secrets[name].check(f"secrets.{name}", value)
    for name, f in spec.secrets.items():
        if f.required and name not in merged:
            raise InvalidInput(f"secrets.{name}", "is required")
    return merged


def check_pairing(kind: str, config: Mapping[str, Any], secrets: Mapping[str, str]) -> None:
    """Rules across config and secrets: an SMTP password needs a user name."""
    if kind == "email" and "password" in secrets and not config.get("username"):
        raise InvalidInput("config.username", "is required when a password is set")


def secrets_set(kind: str, secrets: Mapping[str, Any]) -> dict[str, bool]:
    """Each secret field of ``kind`` -> whether it is set."""
    return {name: name in secrets for name in SPECS[kind].secrets}


def describe_kinds() -> dict[str, dict[str, Any]]:
    """Each kind's fields, for forms and help: name -> required, default, help."""
    def one(fields: dict[str, Field]) -> dict[str, Any]:
        return {n: {"required": f.required, "default": f.default, "help": f.help}
                for n, f in fields.items()}
    return {k: {"config": one(s.config), "secrets": one(s.secrets)} for k, s in SPECS.items()}
