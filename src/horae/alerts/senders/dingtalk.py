"""DingTalk custom robot ("自定义机器人"): a ``markdown`` message, signed in the URL.

Format and signing, per DingTalk's custom-robot docs
(https://open.dingtalk.com/document/robots/custom-robot-access and
https://open.dingtalk.com/document/robots/customize-robot-security-settings): with the
"加签" security setting, the URL gets ``&timestamp=<epoch milliseconds>&sign=<urlencoded
base64(HMAC-SHA256(key=secret, msg="{timestamp}\\n{secret}"))>``; the timestamp must be
within an hour of DingTalk's clock. DingTalk answers HTTP 200 with ``{"errcode": 0}`` on
success and a non-zero ``errcode`` and ``errmsg`` otherwise.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import quote_plus

from horae.alerts.message import Message
from horae.alerts.senders.http import HttpRequest
from horae.alerts.senders.labels import label


def sign(secret: str, timestamp_ms: str) -> str:
    """The ``sign`` query value (already URL-encoded)."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return quote_plus(base64.b64encode(mac.digest()).decode())


def payload(message: Message, at_all: bool = False) -> dict[str, Any]:
    lines = [f"#### {message.title}", "",
             f"**[{label(message.severity, message.locale)}]** {message.text}".rstrip()]
    if message.fields:
        lines.append("")
        lines += [f"- **{k}**: {v}" for k, v in message.fields.items()]
    if message.link:
        lines += ["", f"[{label('open', message.locale)}]({message.link})"]
    return {"msgtype": "markdown",
            "markdown": {"title": message.title, "text": "\n".join(lines)},
            "at": {"isAtAll": at_all}}


def build(config: dict[str, Any], secrets: dict[str, str], message: Message,
          now: float) -> HttpRequest:
    url = secrets["webhook_url"]
    if secrets.get("signing_secret"):
        timestamp = str(int(now * 1000))
        url += ("&" if "?" in url else "?") + \
            f"timestamp={timestamp}&sign={sign(secrets['signing_secret'], timestamp)}"
    body = json.dumps(payload(message, bool(config.get("at_all"))), ensure_ascii=False)
    return HttpRequest(url, body.encode())


def errcode_check(platform: str, status: int, text: str, key: str = "errcode",
                  reason: str = "errmsg") -> str | None:
    """Robots that answer HTTP 200 with a JSON error code (DingTalk, WeCom, Feishu)."""
    if status != 200:
        return f"{platform} answered HTTP {status}"
    try:
        answer = json.loads(text)
    except ValueError:
        return f"{platform} answered something that is not JSON"
    code = answer.get(key, answer.get("StatusCode")) if isinstance(answer, dict) else None
    if code == 0:
        return None
    return f"{platform} refused the message: {key} {code}: " \
           f"{str(answer.get(reason, ''))[:100] if isinstance(answer, dict) else ''}"


def check(status: int, text: str) -> str | None:
    return errcode_check("DingTalk", status, text)
