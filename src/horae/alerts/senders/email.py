"""Email over SMTP (stdlib ``smtplib``): STARTTLS, implicit TLS ("ssl") or plain, with
AUTH when a user name is set, and a timeout on every step.

TLS verifies the server's certificate against the system's trust store
(:func:`tls_context`). The result's ``code`` and ``reply`` are the server's answer to
DATA (250 on acceptance); a refused recipient, a failed login or a broken connection is a
failed result with the server's reply code when it gave one.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from horae.alerts.message import DeliveryResult, Message
from horae.alerts.senders.labels import label


def tls_context() -> ssl.SSLContext:
    """The TLS settings of SMTP connections (verifying, the system's CAs)."""
    return ssl.create_default_context()


def render(config: dict[str, Any], message: Message) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = f"[{label(message.severity, message.locale)}] {message.title}"
    mail["From"] = config["from_addr"]
    mail["To"] = ", ".join(config["to"])
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain="horae")
    text = message.plain()
    if message.link:
        text = text.replace(message.link, f"{label('open', message.locale)}: {message.link}")
    mail.set_content(text or message.title)
    return mail


def send(config: dict[str, Any], secrets: dict[str, str], message: Message) -> DeliveryResult:
    timeout = float(config["timeout"])
    try:
        with _connect(config, timeout) as smtp:
            return _deliver(smtp, config, secrets, message)
    except smtplib.SMTPAuthenticationError as e:
        return _failed(e.smtp_code, e.smtp_error, "the server refused the login")
    except smtplib.SMTPNotSupportedError as e:
        return DeliveryResult("failed", error=f"the server does not support it: {e}")
    except smtplib.SMTPResponseException as e:
        return _failed(e.smtp_code, e.smtp_error, "the server answered with an error")
    except TimeoutError:
        return DeliveryResult("failed", error=f"timed out after {timeout:g} s talking to "
                                              f"{config['host']}:{config['port']}")
    except ssl.SSLError as e:
        return DeliveryResult("failed", error=f"TLS failed: {e.reason or e}")
    except (OSError, smtplib.SMTPException) as e:
        return DeliveryResult("failed", error=f"could not talk to {config['host']}:"
                                              f"{config['port']}: {type(e).__name__}: {e}")


def _connect(config: dict[str, Any], timeout: float) -> smtplib.SMTP:
    if config["security"] == "ssl":
        return smtplib.SMTP_SSL(config["host"], config["port"], timeout=timeout,
                                context=tls_context())
    return smtplib.SMTP(config["host"], config["port"], timeout=timeout)


def _deliver(smtp: smtplib.SMTP, config: dict[str, Any], secrets: dict[str, str],
             message: Message) -> DeliveryResult:
    smtp.ehlo()
    if config["security"] == "starttls":
        smtp.starttls(context=tls_context())
        smtp.ehlo()
    if config.get("username"):
        smtp.login(config["username"], secrets.get("password", ""))
    code, reply = smtp.mail(config["from_addr"])
    if code != 250:
        return _failed(code, reply, "the server refused the sender")
    for rcpt in config["to"]:
        code, reply = smtp.rcpt(rcpt)
        if code not in (250, 251):
            return _failed(code, reply, f"the server refused the recipient {rcpt}")
    code, reply = smtp.data(render(config, message).as_bytes())
    if code != 250:
        return _failed(code, reply, "the server refused the message")
    return DeliveryResult("sent", code, reply.decode(errors="replace")[:500])


def _failed(code: int, reply: bytes | str, why: str) -> DeliveryResult:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    return DeliveryResult("failed", code, text[:500], f"{why} ({code} {text[:200]})")
