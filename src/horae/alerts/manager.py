"""``app.channels``: add, read, list, change, remove and test notification channels.

Every write validates first (``horae.alerts.channels``), so bad input writes nothing.
Secrets are write-only: the methods return :class:`Channel`, which says only which
secrets are set. On :meth:`ChannelManager.update`, a secret not named is kept, a value
replaces it and ``None`` clears it. A later deliverer sends through
:meth:`ChannelManager.sender`, which reads the secrets at send time.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from horae.alerts import senders
from horae.alerts.channels import (
    Channel,
    check_config,
    check_kind,
    check_name,
    check_pairing,
    merge_secrets,
)
from horae.alerts.message import DeliveryResult, Message, sample_message
from horae.errors import InvalidInput

if TYPE_CHECKING:
    from horae.app import Horae

log = logging.getLogger("horae.alerts")
_UNSET: Any = object()


class SendableChannel:
    """A channel with its secrets, ready to :meth:`send`. Its repr names the channel
    only; hold it no longer than a delivery."""

    def __init__(self, channel: Channel, secrets: Mapping[str, str]) -> None:
        self.channel = channel
        self._secrets = dict(secrets)

    def send(self, message: Message) -> DeliveryResult:
        """Send ``message``; a delivery problem is a failed result, never an exception."""
        result = senders.send(self.channel.kind, self.channel.config, self._secrets, message)
        # The result is already redacted; the log line names the channel, never a URL.
        log.info("channel %s (%s) %s: code=%s duration=%.3fs%s", self.channel.name,
                 self.channel.kind, result.status, result.code, result.duration,
                 f" error={result.error}" if result.error else "")
        return result

    def __repr__(self) -> str:
        return f"<SendableChannel {self.channel.name!r} ({self.channel.kind})>"


class ChannelManager:
    """``app.channels``."""

    def __init__(self, app: Horae) -> None:
        self._app = app

    def add(self, name: str, kind: str, config: Mapping[str, Any] | None = None,
            secrets: Mapping[str, str | None] | None = None, *,
            enabled: bool = True) -> Channel:
        """Create a channel; InvalidInput (nothing written) or Conflict (name taken)."""
        name, kind = check_name(name), check_kind(kind)
        clean = check_config(kind, config or {})
        merged = merge_secrets(kind, {}, secrets or {})
        check_pairing(kind, clean, merged)
        if not isinstance(enabled, bool):
            raise InvalidInput("enabled", "must be true or false")
        return self._app.store.channel_add(name, kind, clean, merged, enabled=enabled)

    def get(self, channel: int | str) -> Channel:
        """A channel by id, or by name."""
        if isinstance(channel, int):
            return self._app.store.channel_get(channel)
        return self._app.store.channel_by_name(channel)

    def list(self, *, kind: str | None = None) -> list[Channel]:
        return self._app.store.channel_list(kind=None if kind is None else check_kind(kind))

    def update(self, channel: int | str, *, name: str | None = None,
               config: Mapping[str, Any] | None = None,
               secrets: Mapping[str, str | None] | None = None,
               enabled: bool | None = None, expected_version: int | None = None) -> Channel:
        """Change a channel. ``config`` fields given replace those stored (``None``
        resets one to its default); ``secrets``: a value sets, ``None`` clears, a name not
        given is kept. The kind never changes (remove and add instead)."""
        current = self.get(channel)
        new_name = current.name if name is None else check_name(name)
        merged_config = dict(current.config)
        if config is not None:
            if not isinstance(config, Mapping):
                raise InvalidInput("config", "must be an object")
            merged_config.update(config)
            merged_config = {k: v for k, v in merged_config.items() if v is not None}
            if current.kind == "email" and "security" in config and "port" not in config:
                merged_config.pop("port", None)  # the new security's default port
        clean = check_config(current.kind, merged_config)
        stored = self._app.store.channel_secrets(current.id)
        merged = merge_secrets(current.kind, stored, secrets or {})
        check_pairing(current.kind, clean, merged)
        if enabled is not None and not isinstance(enabled, bool):
            raise InvalidInput("enabled", "must be true or false")
        return self._app.store.channel_update(
            current.id, name=new_name, config=clean, secrets=merged,
            enabled=current.enabled if enabled is None else enabled,
            expected_version=expected_version)

    def remove(self, channel: int | str, *, expected_version: int | None = None) -> None:
        self._app.store.channel_delete(self.get(channel).id,
                                       expected_version=expected_version)

    def sender(self, channel: int | str) -> SendableChannel:
        """The channel with its secrets, to send through (enabled or not: the caller
        decides whether a disabled channel is skipped)."""
        found = self.get(channel)
        return SendableChannel(found, self._app.store.channel_secrets(found.id))

    def test(self, channel: int | str, *, locale: str = "en") -> DeliveryResult:
        """Send a sample message now (also through a disabled channel) and return what
        came of it."""
        sendable = self.sender(channel)
        return sendable.send(sample_message(sendable.channel.name, locale))
