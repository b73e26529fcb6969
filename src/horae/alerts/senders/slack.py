"""Slack incoming webhook: ``text`` (the notification's fallback) and Block Kit ``blocks``.

Format: https://api.slack.com/messaging/webhooks and
https://api.slack.com/reference/block-kit/blocks (header, section with mrkdwn ``fields``,
at most 10 fields; ``&``, ``<``, ``>`` escaped in mrkdwn). Slack answers ``ok`` (HTTP 200)
on success and a short error code (``invalid_payload``, ``no_service``...) otherwise.
"""

from __future__ import annotations

import json
from typing import Any

from horae.alerts.message import Message
from horae.alerts.senders.http import HttpRequest
from horae.alerts.senders.labels import label

_ICON = {"info": ":information_source:", "warning": ":warning:", "error": ":x:",
         "critical": ":rotating_light:"}


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def payload(message: Message) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": message.title[:150]}}]
    if message.text:
        blocks.append({"type": "section", "text": {
            "type": "mrkdwn", "text": f"{_ICON[message.severity]} {_esc(message.text)}"[:3000]}})
    if message.fields:
        blocks.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*{_esc(k)}*\n{_esc(v)}"[:2000]}
            for k, v in list(message.fields.items())[:10]]})
    if message.link:
        blocks.append({"type": "section", "text": {
            "type": "mrkdwn", "text": f"<{message.link}|{label('open', message.locale)}>"}})
    return {"text": f"{message.title}: {message.text}" if message.text else message.title,
            "blocks": blocks}


def build(config: dict[str, Any], secrets: dict[str, str], message: Message,
          now: float) -> HttpRequest:
    return HttpRequest(secrets["webhook_url"],
                       json.dumps(payload(message), ensure_ascii=False).encode())


def check(status: int, text: str) -> str | None:
    if status == 200 and text.strip() == "ok":
        return None
    return f"Slack answered HTTP {status}: {text.strip()[:100] or '-'}"
