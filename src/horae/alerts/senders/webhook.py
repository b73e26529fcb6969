"""Generic webhook: the Message as JSON, signed so the receiver can trust it.

Headers: ``X-Horae-Timestamp`` (epoch seconds) and, when a signing secret is set,
``X-Horae-Signature: sha256=<hex HMAC-SHA256 of "{timestamp}.{body}">`` with the secret as
key: the receiver recomputes it over the raw body bytes and rejects an old timestamp
(docs/alerts.md shows how). Any 2xx answer is success.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from horae.alerts.message import Message
from horae.alerts.senders.http import HttpRequest


def payload(message: Message, now: float) -> dict[str, Any]:
    return {"title": message.title, "text": message.text, "severity": message.severity,
            "fields": dict(message.fields), "link": message.link, "locale": message.locale,
            "sent_at": int(now)}


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Horae-Signature value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def build(config: dict[str, Any], secrets: dict[str, str], message: Message,
          now: float) -> HttpRequest:
    body = json.dumps(payload(message, now), ensure_ascii=False,
                      separators=(",", ":")).encode()
    timestamp = str(int(now))
    headers = {"X-Horae-Timestamp": timestamp}
    if secrets.get("signing_secret"):
        headers["X-Horae-Signature"] = signature(secrets["signing_secret"], timestamp, body)
    return HttpRequest(config["url"], body, headers)


def check(status: int, text: str) -> str | None:
    return None if 200 <= status < 300 else f"the receiver answered HTTP {status}"
