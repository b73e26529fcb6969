"""Microsoft Teams: an Adaptive Card in a ``message`` with one attachment.

Format: https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/
add-incoming-webhook (Send Adaptive Cards using an Incoming Webhook) -- ``{"type":
"message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
"content": <AdaptiveCard>}]}``, which both the Workflows ("Post to a channel when a
webhook request is received") and the older connector webhooks accept. Any 2xx (Workflows
answer 202) is success.
"""

from __future__ import annotations

import json
from typing import Any

from horae.alerts.message import Message
from horae.alerts.senders.http import HttpRequest
from horae.alerts.senders.labels import label

_COLOUR = {"info": "Accent", "warning": "Warning", "error": "Attention",
           "critical": "Attention"}


def adaptive_card(message: Message) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": message.title, "size": "Large", "weight": "Bolder",
         "color": _COLOUR[message.severity], "wrap": True}]
    if message.text:
        body.append({"type": "TextBlock", "text": message.text, "wrap": True})
    if message.fields:
        body.append({"type": "FactSet", "facts": [{"title": k, "value": v}
                                                  for k, v in message.fields.items()]})
    out: dict[str, Any] = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                           "type": "AdaptiveCard", "version": "1.4", "body": body}
    if message.link:
        out["actions"] = [{"type": "Action.OpenUrl", "title": label("open", message.locale),
                           "url": message.link}]
    return out


def build(config: dict[str, Any], secrets: dict[str, str], message: Message,
          now: float) -> HttpRequest:
    body = {"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
        "content": adaptive_card(message)}]}
    return HttpRequest(secrets["webhook_url"], json.dumps(body, ensure_ascii=False).encode())


def check(status: int, text: str) -> str | None:
    if 200 <= status < 300:
        return None
    return f"Teams answered HTTP {status}: {text.strip()[:100] or '-'}"
