"""Alerts: notification channels (email, webhooks, chat robots) and the messages they carry.

``message.py`` the platform-neutral :class:`Message` and the :class:`DeliveryResult` of a
send; ``channels.py`` the channel model and its validation per kind; ``senders/`` one
module per platform, each rendering a Message the way that platform expects;
``manager.py`` ``app.channels``. Rules and the delivery outbox come later and call
:meth:`horae.alerts.manager.SendableChannel.send`.
"""

from __future__ import annotations

from horae.alerts.channels import KINDS, Channel
from horae.alerts.message import DeliveryResult, Message

__all__ = ["KINDS", "Channel", "DeliveryResult", "Message"]
