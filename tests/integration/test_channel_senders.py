"""Each HTTP channel kind against a loopback server: the body its platform expects, the
signature verified here independently (per each platform's documented algorithm), the
platform's answer judged, timeouts and redirects, and no secret in results or logs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from urllib.parse import unquote_plus

import pytest

from horae import Horae
from horae.alerts import Message
from tests.integration.channel_server import Receiver, receiver

MESSAGE = Message(title="Run 42 failed", text="scan raised ValueError", severity="error",
                  fields={"Task": "scan", "Attempt": "3"}, link="http://console/runs/42")


@pytest.fixture
def app() -> Iterator[Horae]:
    h = Horae("sqlite:///:memory:")
    yield h
    h.store.close()


@pytest.fixture
def server() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


def test_webhook_posts_the_message_as_json_signed_with_hmac_sha256(app: Horae,
                                                                   server: Receiver) -> None:
    app.channels.add("hook", "webhook", {"url": server.url + "/in"},
                     {"signing_secret": "whsec-1"})
    before = int(time.time())
    result = app.channels.sender("hook").send(MESSAGE)
    assert result.ok and result.code == 200 and result.error is None, result
    (got,) = server.received
    assert got.path == "/in" and got.headers["content-type"].startswith("application/json")
    assert got.json() == {"title": "Run 42 failed", "text": "scan raised ValueError",
                          "severity": "error", "fields": {"Task": "scan", "Attempt": "3"},
                          "link": "http://console/runs/42", "locale": "en",
                          "sent_at": int(got.headers["x-horae-timestamp"])}
    timestamp = got.headers["x-horae-timestamp"]
    assert before <= int(timestamp) <= time.time() + 1
    expected = hmac.new(b"whsec-1", f"{timestamp}.".encode() + got.body,
                        hashlib.sha256).hexdigest()
    assert got.headers["x-horae-signature"] == f"sha256={expected}"


def test_webhook_without_a_secret_sends_no_signature(app: Horae, server: Receiver) -> None:
    app.channels.add("hook", "webhook", {"url": server.url})
    assert app.channels.test("hook").ok
    assert "x-horae-signature" not in server.received[0].headers
    assert server.received[0].json()["title"] == "Horae test notification"


def test_webhook_error_status_is_a_failed_result(app: Horae, server: Receiver) -> None:
    server.reply(503, b"down for maintenance")
    app.channels.add("hook", "webhook", {"url": server.url})
    result = app.channels.test("hook")
    assert (result.status, result.code, result.reply) == ("failed", 503,
                                                          "down for maintenance")
    assert "503" in (result.error or "")


def test_a_slow_receiver_is_a_failed_result_naming_the_timeout(app: Horae,
                                                               server: Receiver) -> None:
    server.hold = True
    app.channels.add("hook", "webhook", {"url": server.url, "timeout": 0.3})
    started = time.monotonic()
    result = app.channels.test("hook")
    assert result.status == "failed" and result.code is None
    assert "timed out after 0.3 s" in (result.error or "")
    assert 0.3 <= result.duration < 5 and time.monotonic() - started < 5


def test_a_refused_connection_is_a_failed_result(app: Horae) -> None:
    with receiver() as gone:
        url = gone.url
    app.channels.add("hook", "webhook", {"url": url})
    result = app.channels.test("hook")
    assert result.status == "failed" and "could not reach http://127.0.0.1" in result.error


def test_a_redirect_to_another_host_is_not_followed(app: Horae, server: Receiver) -> None:
    with receiver() as elsewhere:
        server.redirect = elsewhere.url + "/steal"
        app.channels.add("hook", "webhook", {"url": server.url})
        result = app.channels.test("hook")
        assert result.status == "failed" and "redirect" in (result.error or "")
        assert elsewhere.received == []


def test_a_same_host_307_is_followed_with_the_body(app: Horae, server: Receiver) -> None:
    server.redirect = "/moved"
    app.channels.add("hook", "webhook", {"url": server.url + "/old"})
    assert app.channels.test("hook").ok
    assert [r.path for r in server.received] == ["/old", "/moved"]
    assert server.received[0].body == server.received[1].body


def test_a_303_is_not_followed(app: Horae, server: Receiver) -> None:
    server.redirect, server.redirect_status = "/moved", 303
    app.channels.add("hook", "webhook", {"url": server.url})
    assert app.channels.test("hook").status == "failed"
    assert len(server.received) == 1


def test_slack_sends_text_and_blocks_and_needs_ok(app: Horae, server: Receiver) -> None:
    app.channels.add("s", "slack", secrets={"webhook_url": server.url + "/services/T/B/x"})
    assert app.channels.sender("s").send(MESSAGE).ok
    body = server.received[0].json()
    assert body["text"] == "Run 42 failed: scan raised ValueError"
    kinds = [b["type"] for b in body["blocks"]]
    assert kinds == ["header", "section", "section", "section"]
    assert body["blocks"][0]["text"] == {"type": "plain_text", "text": "Run 42 failed"}
    assert body["blocks"][2]["fields"][0] == {"type": "mrkdwn", "text": "*Task*\nscan"}
    assert "<http://console/runs/42|Open in Horae>" in body["blocks"][3]["text"]["text"]
    server.reply(400, b"invalid_payload")
    result = app.channels.test("s")
    assert result.status == "failed" and "invalid_payload" in (result.error or "")


def test_slack_escapes_its_markup_characters(app: Horae, server: Receiver) -> None:
    app.channels.add("s", "slack", secrets={"webhook_url": server.url})
    app.channels.sender("s").send(Message(title="t", text="a < b & c > d"))
    section = server.received[0].json()["blocks"][1]["text"]["text"]
    assert "a &lt; b &amp; c &gt; d" in section


def test_dingtalk_markdown_signed_with_timestamp_and_sign_query(app: Horae,
                                                                server: Receiver) -> None:
    server.reply(200, {"errcode": 0, "errmsg": "ok"})
    secret = "SEC0123456789abcdef"
    app.channels.add("d", "dingtalk", {"at_all": True},
                     {"webhook_url": server.url + "/robot/send?access_token=tok123",
                      "signing_secret": secret})
    result = app.channels.sender("d").send(MESSAGE)
    assert result.ok, result
    got = server.received[0]
    assert got.query["access_token"] == "tok123"
    timestamp = got.query["timestamp"]
    assert abs(int(timestamp) / 1000 - time.time()) < 60  # milliseconds
    # DingTalk: base64(HmacSHA256(key=secret, "timestamp\nsecret")), URL-encoded.
    raw = f"{timestamp}\n{secret}".encode()
    expected = base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest())
    assert got.query["sign"] == expected.decode()
    body = got.json()
    assert body["msgtype"] == "markdown" and body["at"] == {"isAtAll": True}
    assert body["markdown"]["title"] == "Run 42 failed"
    assert "- **Task**: scan" in body["markdown"]["text"]
    assert "[Open in Horae](http://console/runs/42)" in body["markdown"]["text"]


def test_dingtalk_error_code_in_a_200_is_a_failure(app: Horae, server: Receiver) -> None:
    server.reply(200, {"errcode": 310000, "errmsg": "sign not match"})
    app.channels.add("d", "dingtalk", secrets={"webhook_url": server.url + "/r?access_token=t"})
    result = app.channels.test("d")
    assert result.status == "failed" and result.code == 200
    assert "310000" in (result.error or "") and "sign not match" in (result.error or "")
    assert "timestamp" not in server.received[0].query  # no secret, no signature


def test_wecom_markdown_content(app: Horae, server: Receiver) -> None:
    server.reply(200, {"errcode": 0, "errmsg": "ok"})
    app.channels.add("w", "wecom", secrets={"webhook_url": server.url + "/send?key=k-1"})
    assert app.channels.sender("w").send(MESSAGE).ok
    got = server.received[0]
    assert got.query == {"key": "k-1"}
    body = got.json()
    assert body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert content.startswith("**Run 42 failed**\n")
    assert '> Task: <font color="comment">scan</font>' in content
    server.reply(200, {"errcode": 93000, "errmsg": "invalid webhook url"})
    assert app.channels.test("w").status == "failed"


def test_wecom_content_is_cut_to_4096_bytes_on_a_character_boundary(app: Horae,
                                                                    server: Receiver) -> None:
    server.reply(200, {"errcode": 0})
    app.channels.add("w", "wecom", secrets={"webhook_url": server.url})
    app.channels.sender("w").send(Message(title="长", text="警" * 3000))
    content = server.received[0].json()["markdown"]["content"]
    assert len(content.encode()) <= 4096 and content.endswith("警")


def test_feishu_interactive_card_signed_in_the_body(app: Horae, server: Receiver) -> None:
    server.reply(200, {"code": 0, "msg": "success"})
    secret = "feishu-secret"
    app.channels.add("f", "feishu", secrets={
        "webhook_url": server.url + "/open-apis/bot/v2/hook/abc", "signing_secret": secret})
    zh = Message(title="运行失败", text="任务出错", severity="critical", fields={"任务": "scan"},
                 link="http://console/runs/1", locale="zh-CN")
    assert app.channels.sender("f").send(zh).ok
    body = server.received[0].json()
    timestamp = body["timestamp"]
    assert abs(int(timestamp) - time.time()) < 60  # seconds
    # Feishu: base64(HmacSHA256(key="timestamp\nsecret", message=empty)).
    key = f"{timestamp}\n{secret}".encode()
    assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert body["msg_type"] == "interactive"
    card = body["card"]
    assert card["header"]["title"] == {"tag": "plain_text", "content": "运行失败"}
    assert card["header"]["template"] == "carmine"
    button = card["elements"][-1]["actions"][0]
    assert button["url"] == "http://console/runs/1"
    assert button["text"]["content"] == "在 Horae 中打开"
    server.reply(200, {"code": 19021, "msg": "sign match fail"})
    result = app.channels.test("f")
    assert result.status == "failed" and "19021" in (result.error or "")


def test_feishu_text_format(app: Horae, server: Receiver) -> None:
    server.reply(200, {"code": 0})
    app.channels.add("f", "feishu", {"format": "text"}, {"webhook_url": server.url})
    assert app.channels.sender("f").send(MESSAGE).ok
    body = server.received[0].json()
    assert "sign" not in body and body["msg_type"] == "text"
    assert body["content"]["text"] == ("Run 42 failed\nscan raised ValueError\nTask: scan\n"
                                       "Attempt: 3\nhttp://console/runs/42")


def test_teams_adaptive_card(app: Horae, server: Receiver) -> None:
    server.reply(202, b"")
    app.channels.add("t", "teams", secrets={"webhook_url": server.url + "/workflows/x"})
    result = app.channels.sender("t").send(MESSAGE)
    assert result.ok and result.code == 202
    body = server.received[0].json()
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["body"][0]["text"] == "Run 42 failed"
    assert card["body"][0]["color"] == "Attention"
    assert card["body"][2] == {"type": "FactSet", "facts": [
        {"title": "Task", "value": "scan"}, {"title": "Attempt", "value": "3"}]}
    assert card["actions"][0]["url"] == "http://console/runs/42"
    server.reply(400, b"bad card")
    assert app.channels.test("t").status == "failed"


def test_no_secret_in_results_or_log_records(app: Horae, server: Receiver,
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token, secret = "access-tok-77", "SECsigning-88"
    server.reply(500, json.dumps({"echo": f"{server.url}/r?access_token={token}"}).encode())
    app.channels.add("d", "dingtalk", secrets={
        "webhook_url": f"{server.url}/r?access_token={token}", "signing_secret": secret})
    failed = app.channels.test("d")
    server.hold = True
    app.channels.update("d", config={"timeout": 0.2})
    timed_out = app.channels.test("d")
    text = repr([failed, timed_out, app.channels.get("d"), app.channels.sender("d")])
    logged = "\n".join(r.getMessage() for r in caplog.records)
    # httpx logged its request line (with the URL redacted) and the channel its result
    assert "HTTP Request: POST http://127.0.0.1" in logged and "channel d (dingtalk)" in logged
    for value in (token, secret):
        assert value not in text and value not in logged
        assert unquote_plus(value) not in logged
