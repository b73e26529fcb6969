"""Email channels against a local SMTP server (aiosmtpd): plain, STARTTLS and implicit
TLS, with AUTH; refused logins and recipients are failed results with the server's code;
the password appears in no result or log record."""

from __future__ import annotations

import logging
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from horae import Horae
from horae.alerts import Message
from horae.alerts.senders import email as email_sender

USER, PASSWORD = "alerts", "pa55-w0rd-xyz"


@dataclass
class Inbox:
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: Any) -> str:
        if address.endswith("@nowhere.test"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 queued as 7F3"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                  auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and \
        (auth_data.login, auth_data.password) == (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture
def trusting(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The client trusts the test certificate (and still verifies it)."""
    monkeypatch.setattr(email_sender, "tls_context",
                        lambda: ssl.create_default_context(cafile=str(certificate[0])))


def _server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(certificate[0]), str(certificate[1]))
    return ctx


@pytest.fixture
def app() -> Iterator[Horae]:
    h = Horae("sqlite:///:memory:")
    yield h
    h.store.close()


def _serve(inbox: Inbox, **options: Any) -> Controller:
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port(),
                            authenticator=_authenticate, **options)
    controller.start()
    return controller


def _config(port: int, security: str, **more: Any) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": port, "security": security, "timeout": 5,
            "from_addr": "horae@example.com", "to": ["ops@example.com", "dev@example.com"],
            **more}


MESSAGE = Message(title="Run 7 failed", text="boom", severity="error",
                  fields={"Task": "scan"}, link="http://console/runs/7")


def test_plain_smtp_with_auth_delivers_the_message(app: Horae,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    inbox = Inbox()
    server = _serve(inbox, auth_require_tls=False)
    try:
        app.channels.add("mail", "email", _config(server.port, "none", username=USER),
                         {"password": PASSWORD})
        result = app.channels.sender("mail").send(MESSAGE)
    finally:
        server.stop()
    assert (result.status, result.code) == ("sent", 250), result
    assert "queued as 7F3" in (result.reply or "")
    ((sender, rcpts, raw),) = inbox.messages
    assert sender == "horae@example.com" and rcpts == ["ops@example.com", "dev@example.com"]
    mail = message_from_bytes(raw)
    assert mail["Subject"] == "[error] Run 7 failed"
    body = mail.get_payload(decode=True).decode()
    assert "boom" in body and "Task: scan" in body
    assert "Open in Horae: http://console/runs/7" in body
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "channel mail (email) sent" in logged
    assert PASSWORD not in logged and PASSWORD not in repr(result)


def test_a_wrong_password_is_a_failed_result_with_the_reply_code(app: Horae) -> None:
    server = _serve(Inbox(), auth_require_tls=False)
    try:
        app.channels.add("mail", "email", _config(server.port, "none", username=USER),
                         {"password": "wrong-one"})
        result = app.channels.test("mail")
    finally:
        server.stop()
    assert result.status == "failed" and result.code == 535
    assert "refused the login" in (result.error or "") and "wrong-one" not in repr(result)


def test_a_refused_recipient_is_a_failed_result(app: Horae) -> None:
    inbox = Inbox()
    server = _serve(inbox, auth_require_tls=False)
    try:
        app.channels.add("mail", "email", _config(server.port, "none",
                                                  to=["ghost@nowhere.test"]))
        result = app.channels.test("mail")
    finally:
        server.stop()
    assert result.status == "failed" and result.code == 550
    assert "ghost@nowhere.test" in (result.error or "") and inbox.messages == []


def test_starttls_then_auth(app: Horae, certificate: tuple[Path, Path], trusting: None) -> None:
    inbox = Inbox()
    server = _serve(inbox, tls_context=_server_tls(certificate), require_starttls=True)
    try:
        app.channels.add("mail", "email", _config(server.port, "starttls", username=USER),
                         {"password": PASSWORD})
        result = app.channels.test("mail")
    finally:
        server.stop()
    assert result.ok, result
    assert len(inbox.messages) == 1


def test_starttls_refuses_an_untrusted_certificate(app: Horae,
                                                   certificate: tuple[Path, Path]) -> None:
    server = _serve(Inbox(), tls_context=_server_tls(certificate), require_starttls=True)
    try:
        app.channels.add("mail", "email", _config(server.port, "starttls"))
        result = app.channels.test("mail")
    finally:
        server.stop()
    assert result.status == "failed" and "TLS failed" in (result.error or ""), result


def test_implicit_tls_with_auth(app: Horae, certificate: tuple[Path, Path],
                                trusting: None) -> None:
    inbox = Inbox()
    # aiosmtpd counts only STARTTLS as TLS, so it must be told AUTH is fine here.
    server = _serve(inbox, ssl_context=_server_tls(certificate), auth_require_tls=False)
    try:
        app.channels.add("mail", "email", _config(server.port, "ssl", username=USER),
                         {"password": PASSWORD})
        result = app.channels.test("mail")
    finally:
        server.stop()
    assert result.ok, result
    assert len(inbox.messages) == 1


def test_no_server_is_a_failed_result(app: Horae) -> None:
    app.channels.add("mail", "email", _config(_free_port(), "none"))
    result = app.channels.test("mail")
    assert result.status == "failed" and "could not talk to 127.0.0.1" in (result.error or "")
