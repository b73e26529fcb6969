"""Notification channels through the REST API: admin-only management, validation that
names the field and changes nothing, write-only secrets (never in an answer, the audit or
a log record), If-Match, and "send test" with its delivery result. On every backend."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from horae.store.api_store import ApiStore
from tests.api.conftest import Clients, snapshot
from tests.api.test_validation import assert_problem
from tests.integration.channel_server import receiver

SIGNING, ROBOT = "whsec-AbC123", "https://oapi.dingtalk.com/robot/send?access_token=tok-456"


def _create(c: Clients, body: dict[str, Any]) -> dict[str, Any]:
    r = c["admin"].post("/api/v1/channels", json=body)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"/api/v1/channels/{r.json()['id']}"
    assert r.headers["etag"] == '"1"'
    return dict(r.json())


def _audit_text(c: Clients) -> str:
    return json.dumps([(a.action, a.before, a.after)
                       for a in ApiStore(c.horae.store).audit_list(target_kind="channel")])


def test_lifecycle_with_write_only_secrets_and_audit(clients: Clients,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    admin = clients["admin"]
    made = _create(clients, {"name": "ops-hook", "kind": "webhook",
                             "config": {"url": "http://127.0.0.1:9/in"},
                             "secrets": {"signing_secret": SIGNING}})
    assert made["config"] == {"url": "http://127.0.0.1:9/in", "timeout": 10.0}
    assert made["secrets"] == {"signing_secret": True} and made["enabled"] is True
    cid = made["id"]
    got = admin.get(f"/api/v1/channels/{cid}")
    assert got.json() == made and got.headers["etag"] == '"1"'
    assert [ch["name"] for ch in admin.get("/api/v1/channels").json()["items"]] == ["ops-hook"]

    # A change without the secret keeps it; null clears it.
    r = admin.patch(f"/api/v1/channels/{cid}", json={"config": {"timeout": 3}})
    assert r.status_code == 200, r.text
    assert r.json()["config"]["timeout"] == 3.0 and r.json()["secrets"]["signing_secret"]
    assert clients.horae.store.channel_secrets(cid) == {"signing_secret": SIGNING}
    r = admin.patch(f"/api/v1/channels/{cid}", json={"secrets": {"signing_secret": None},
                                                       "enabled": False})
    assert r.json()["secrets"] == {"signing_secret": False} and r.json()["enabled"] is False
    assert r.json()["version"] == 3
    assert clients.horae.store.channel_secrets(cid) == {}
    r = admin.patch(f"/api/v1/channels/{cid}", json={"secrets": {"signing_secret": "n3w-one"}})
    assert r.json()["secrets"] == {"signing_secret": True}

    audit = ApiStore(clients.horae.store).audit_list(target_kind="channel")
    assert [a.action for a in audit] == ["channel.update"] * 3 + ["channel.create"]
    assert audit[-1].after["secrets"] == ["signing_secret"]
    assert audit[0].after["secrets_changed"] == ["signing_secret"]
    assert audit[1].after["secrets"] == [] and audit[1].before["secrets"] == ["signing_secret"]

    assert admin.delete(f"/api/v1/channels/{cid}").status_code == 204
    assert admin.get(f"/api/v1/channels/{cid}").status_code == 404
    text = _audit_text(clients) + "\n".join(r.getMessage() for r in caplog.records)
    assert "channel.delete" in text
    for secret in (SIGNING, "n3w-one"):
        assert secret not in text


def test_robot_url_is_a_secret_never_answered(clients: Clients) -> None:
    made = _create(clients, {"name": "ding", "kind": "dingtalk",
                             "secrets": {"webhook_url": ROBOT, "signing_secret": "SECx1"}})
    assert made["secrets"] == {"webhook_url": True, "signing_secret": True}
    answers = clients["admin"].get("/api/v1/channels").text + \
        clients["admin"].get(f"/api/v1/channels/{made['id']}").text + _audit_text(clients)
    assert "tok-456" not in answers and "SECx1" not in answers


BAD = [
    ("unknown kind", {"name": "a", "kind": "pager"}, "kind"),
    ("bad name", {"name": "no spaces", "kind": "slack",
                  "secrets": {"webhook_url": "https://hooks.slack.com/x"}}, "name"),
    ("missing url", {"name": "a", "kind": "webhook"}, "config.url"),
    ("ftp url", {"name": "a", "kind": "webhook", "config": {"url": "ftp://x/y"}}, "config.url"),
    ("unknown field", {"name": "a", "kind": "webhook",
                       "config": {"url": "http://x/", "retries": 3}}, "config.retries"),
    ("bad port", {"name": "a", "kind": "email", "config": {
        "host": "smtp", "port": 70000, "from_addr": "a@b.c", "to": ["d@e.f"]}}, "config.port"),
    ("bad recipient", {"name": "a", "kind": "email", "config": {
        "host": "smtp", "from_addr": "a@b.c", "to": ["nobody"]}}, "config.to[0]"),
    ("password without user", {"name": "a", "kind": "email", "config": {
        "host": "smtp", "from_addr": "a@b.c", "to": ["d@e.f"]},
        "secrets": {"password": "p"}}, "config.username"),
    ("missing robot url", {"name": "a", "kind": "feishu"}, "secrets.webhook_url"),
    ("unknown secret", {"name": "a", "kind": "teams",
                        "secrets": {"webhook_url": "https://x/y", "token": "t"}},
     "secrets.token"),
    ("timeout too long", {"name": "a", "kind": "wecom", "config": {"timeout": 600},
                          "secrets": {"webhook_url": "https://x/y"}}, "config.timeout"),
    ("secret not text", {"name": "a", "kind": "slack", "secrets": {"webhook_url": 5}},
     "secrets.webhook_url"),
]


@pytest.mark.parametrize(("body", "field"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_channel_is_refused_naming_the_field_and_nothing_changes(
        clients: Clients, body: dict[str, Any], field: str) -> None:
    before = snapshot(clients.horae)
    assert_problem(clients["admin"].post("/api/v1/channels", json=body), 422, field)
    assert snapshot(clients.horae) == before


def test_a_bad_secret_value_is_not_repeated_in_the_problem(clients: Clients) -> None:
    r = clients["admin"].post("/api/v1/channels", json={
        "name": "a", "kind": "slack", "secrets": {"webhook_url": "gopher://tok-secret-9"}})
    assert_problem(r, 422, "secrets.webhook_url")
    assert "tok-secret-9" not in r.text


def test_duplicate_name_and_stale_if_match(clients: Clients) -> None:
    admin = clients["admin"]
    body = {"name": "dup", "kind": "webhook", "config": {"url": "http://127.0.0.1:9/"}}
    first = _create(clients, body)
    assert_problem(admin.post("/api/v1/channels", json=body), 409, "name")
    other = _create(clients, dict(body, name="other"))
    assert_problem(admin.patch(f"/api/v1/channels/{other['id']}", json={"name": "dup"}),
                   409, "name")
    stale = admin.patch(f"/api/v1/channels/{first['id']}", json={"enabled": False},
                        headers={"If-Match": '"7"'})
    assert stale.status_code == 412
    assert admin.delete(f"/api/v1/channels/{first['id']}",
                        headers={"If-Match": '"7"'}).status_code == 412
    assert admin.get(f"/api/v1/channels/{first['id']}").json()["enabled"] is True
    assert_problem(admin.patch(f"/api/v1/channels/{first['id']}",
                               json={"config": {"url": "file:///etc/passwd"}}),
                   422, "config.url")


def test_send_test_answers_the_delivery_result_in_the_callers_language(
        clients: Clients) -> None:
    admin = clients["admin"]
    with receiver() as server:
        made = _create(clients, {"name": "t", "kind": "webhook", "config": {"url": server.url},
                                 "secrets": {"signing_secret": SIGNING}})
        r = admin.post(f"/api/v1/channels/{made['id']}/test",
                       headers={"Accept-Language": "zh-CN"})
        assert r.status_code == 200, r.text
        result = r.json()
        assert result["status"] == "sent" and result["code"] == 200 and result["error"] is None
        assert result["duration"] >= 0
        assert server.received[0].json()["title"] == "Horae 测试通知"
        server.reply(500, b"nope")
        failed = admin.post(f"/api/v1/channels/{made['id']}/test").json()
        assert failed["status"] == "failed" and failed["code"] == 500
        assert server.received[1].json()["title"] == "Horae test notification"
    assert admin.post("/api/v1/channels/999999/test").status_code == 404
