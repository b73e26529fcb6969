"""WeCom (企业微信) group robot: a ``markdown`` message.

Format: https://developer.work.weixin.qq.com/document/path/91770 ("群机器人配置说明"):
``{"msgtype": "markdown", "markdown": {"content": ...}}``, content at most 4096 bytes of
UTF-8, ``<font color="info|comment|warning">`` for colour. The robot's key is in the
webhook URL (no signature). WeCom answers ``{"errcode": 0, "errmsg": "ok"}``.
"""

from __future__ import annotations

import json
from typing import Any

from horae.alerts.message import Message
from horae.alerts.senders.dingtalk import errcode_check
from horae.alerts.senders.http import HttpRequest
from horae.alerts.senders.labels import label

_COLOUR = {"info": "info", "warning": "warning", "error": "warning", "critical": "warning"}
MAX_BYTES = 4096


def content(message: Message) -> str:
    colour = _COLOUR[message.severity]
    lines = [f"**{message.title}**",
             f'<font color="{colour}">{label(message.severity, message.locale)}</font> '
             f"{message.text}".rstrip()]
    lines += [f'> {k}: <font color="comment">{v}</font>' for k, v in message.fields.items()]
    if message.link:
        lines.append(f"[{label('open', message.locale)}]({message.link})")
    text = "\n".join(lines)
    # Cut on a character boundary so the content stays within WeCom's byte limit.
    return text.encode()[:MAX_BYTES].decode(errors="ignore")


def build(config: dict[str, Any], secrets: dict[str, str], message: Message,
          now: float) -> HttpRequest:
    body = {"msgtype": "markdown", "markdown": {"content": content(message)}}
    return HttpRequest(secrets["webhook_url"], json.dumps(body, ensure_ascii=False).encode())


def check(status: int, text: str) -> str | None:
    return errcode_check("WeCom", status, text)
