"""What a channel sends (:class:`Message`) and what came of it (:class:`DeliveryResult`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

SEVERITIES = ("info", "warning", "error", "critical")
Severity = Literal["info", "warning", "error", "critical"]


@dataclass(frozen=True)
class Message:
    """A platform-neutral notification; each sender renders it its platform's way.

    ``text`` is plain text (senders escape or quote it as their markup needs); ``fields``
    are short name -> value facts shown as a list or table, in their order; ``link`` is the
    console URL of the run it is about; ``locale`` ('en' or 'zh-CN') the language the
    text is in, for senders whose platform has a per-language form (Feishu cards).
    """

    title: str
    text: str = ""
    severity: Severity = "info"
    fields: Mapping[str, str] = field(default_factory=dict)
    link: str | None = None
    locale: str = "en"

    def plain(self) -> str:
        """The message as plain text: text, the fields one per line, then the link."""
        parts = [self.text] if self.text else []
        parts += [f"{name}: {value}" for name, value in self.fields.items()]
        if self.link:
            parts.append(self.link)
        return "\n".join(parts)


_SAMPLE = {
    "en": ("Horae test notification",
           "This is a test sent from Horae; if you can read it, the channel works.",
           {"Channel": "{name}", "Severity": "info"}),
    "zh-CN": ("Horae 测试通知",
              "这是 Horae 发送的测试消息；能看到它，说明该通道可用。",
              {"通道": "{name}", "级别": "info"}),
}


def sample_message(channel_name: str, locale: str = "en") -> Message:
    """The message "send test" sends, in ``locale`` ('en' or 'zh-CN')."""
    title, text, fields = _SAMPLE.get(locale, _SAMPLE["en"])
    return Message(title=title, text=text, severity="info",
                   fields={k: v.format(name=channel_name) for k, v in fields.items()},
                   locale=locale if locale in _SAMPLE else "en")


@dataclass(frozen=True)
class DeliveryResult:
    """What came of one send: a deliverer records it as it is.

    ``status`` 'sent' (the platform accepted the message) or 'failed'; ``code`` the HTTP
    status or the SMTP reply code, when there was an answer; ``reply`` the start of the
    answer (the response body, the SMTP reply text); ``error`` why it failed, in a
    sentence (never a secret: senders redact secret values out of it); ``duration`` the
    seconds the attempt took.
    """

    status: Literal["sent", "failed"]
    code: int | None = None
    reply: str | None = None
    error: str | None = None
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "sent"

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "code": self.code, "reply": self.reply,
                "error": self.error, "duration": round(self.duration, 3)}
