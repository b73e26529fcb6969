"""Feishu / Lark custom bot (自定义机器人): an ``interactive`` card (or, with ``format:
text``, a ``text`` message), signed in the body.

Format and signing, per Feishu's custom-bot guide
(https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot): with "签名校验" on,
the body carries ``timestamp`` (epoch *seconds*, as a string) and ``sign`` =
base64(HMAC-SHA256(key="{timestamp}\\n{secret}", msg=empty)) -- note the key is the
string to sign and the message is empty, unlike DingTalk. Feishu answers ``{"code": 0}``
on success (older deployments ``{"StatusCode": 0}``), else a code and ``msg``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from horae.alerts.message import Message
from horae.alerts.senders.dingtalk import errcode_check
from horae.alerts.senders.http import HttpRequest
from horae.alerts.senders.labels import label

_TEMPLATE = {"info": "blue", "warning": "orange", "error": "red", "critical": "carmine"}


def sign(secret: str, timestamp: str) -> str:
    mac = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def card(message: Message) -> dict[str, Any]:
    elements: list[dict[str, Any]] = []
    if message.text:
        elements.append({"tag": "div", "text": {"tag": "plain_text", "content": message.text}})
    if message.fields:
        elements.append({"tag": "div", "fields": [
            {"is_short": True, "text": {"tag": "lark_md", "content": f"**{k}**\n{v}"}}
            for k, v in message.fields.items()]})
    if message.link:
        elements.append({"tag": "action", "actions": [{
            "tag": "button", "type": "primary", "url": message.link,
            "text": {"tag": "plain_text", "content": label("open", message.locale)}}]})
    return {"config": {"wide_screen_mode": True},
            "header": {"template": _TEMPLATE[message.severity],
                       "title": {"tag": "plain_text", "content": message.title}},
            "elements": elements}


def build(config: dict[str, Any], secrets: dict[str, str], message: Message,
          now: float) -> HttpRequest:
    body: dict[str, Any] = {}
    if secrets.get("signing_secret"):
        timestamp = str(int(now))
        body = {"timestamp": timestamp, "sign": sign(secrets["signing_secret"], timestamp)}
    if config.get("format") == "text":
        text = f"{message.title}\n{message.plain()}".strip()
        body |= {"msg_type": "text", "content": {"text": text}}
    else:
        body |= {"msg_type": "interactive", "card": card(message)}
    return HttpRequest(secrets["webhook_url"], json.dumps(body, ensure_ascii=False).encode())


def check(status: int, text: str) -> str | None:
    return errcode_check("Feishu", status, text, key="code", reason="msg")
