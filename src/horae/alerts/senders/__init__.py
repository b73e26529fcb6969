"""One module per platform. Each HTTP one has ``build(config, secrets, message, now) ->
HttpRequest`` (pure: the body and signature the platform expects) and ``check(status,
text) -> error or None`` (did the platform accept it); email sends itself over SMTP.

:func:`send` is the one entry: it times the attempt, turns every failure into a failed
:class:`DeliveryResult`, and redacts every secret value out of what it returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from horae.alerts.message import DeliveryResult, Message
from horae.alerts.senders import dingtalk, email, feishu, slack, teams, webhook, wecom
from horae.alerts.senders.http import SendError, post

HTTP_SENDERS: dict[str, ModuleType] = {"webhook": webhook, "slack": slack,
                                       "dingtalk": dingtalk, "wecom": wecom,
                                       "feishu": feishu, "teams": teams}


def send(kind: str, config: Mapping[str, Any], secrets: Mapping[str, str], message: Message,
         *, clock: Callable[[], float] = time.time) -> DeliveryResult:
    """Send ``message`` through a channel of ``kind``; never raises for a delivery
    problem (that is a failed result), only for a programming error."""
    started = time.monotonic()
    cfg, sec = dict(config), dict(secrets)
    if kind == "email":
        result = email.send(cfg, sec, message)
    else:
        module = HTTP_SENDERS[kind]
        try:
            answer = post(module.build(cfg, sec, message, clock()), float(cfg["timeout"]))
        except SendError as e:
            result = DeliveryResult("failed", error=str(e))
        else:
            error = module.check(answer.status, answer.text)
            result = DeliveryResult("failed" if error else "sent", answer.status,
                                    answer.text, error)
    return DeliveryResult(result.status, result.code, redact(result.reply, sec),
                          redact(result.error, sec), time.monotonic() - started)


def redact(text: str | None, secrets: Mapping[str, str]) -> str | None:
    """``text`` with each secret value (and a robot URL's path and query) replaced."""
    if text is None:
        return None
    for value in sorted(secrets.values(), key=len, reverse=True):
        if len(value) >= 4:
            text = text.replace(value, "***")
            if "://" in value:
                # A URL may come back re-encoded or cut: hide its path and query too.
                tail = value.split("://", 1)[1].partition("/")[2]
                if len(tail) >= 4:
                    text = text.replace(tail, "***")
    return text
