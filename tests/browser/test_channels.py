"""The Channels page: an admin adds a webhook channel (a bad URL is refused at its field),
the secret shows only as set, a test send reaches a loopback receiver and the result is
shown, an edit keeps or clears the secret; in Chinese too; other roles see no page. A
real server and headless Chromium."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Server, sign_in
from tests.integration.channel_server import receiver

pytestmark = pytest.mark.system
WAIT = 20_000  # ms
SECRET = "whsec-browser-77"


def _channels(server: Server) -> list[dict[str, Any]]:
    request = urllib.request.Request(server.url + "/api/v1/channels", headers={
        "Authorization": f"Bearer {server.tokens['admin']}"})
    with urllib.request.urlopen(request, timeout=5) as r:
        return list(json.loads(r.read())["items"])


def test_admin_adds_tests_and_edits_a_channel(page: Any, server: Server, shots: Path) -> None:
    from playwright.sync_api import expect

    sign_in(page, server, "admin")
    page.click("#nav-channels")
    page.wait_for_url(server.url + "/channels")
    expect(page.locator("#channel-table")).to_contain_text("No channels yet.", timeout=WAIT)
    with receiver() as inbox:
        page.fill("#channel-name", "ops-hook")
        page.select_option("#channel-kind", "webhook")
        page.fill("#cf-url", "ftp://127.0.0.1/in")
        page.fill("#cs-signing_secret", SECRET)
        page.click("#save-channel")
        expect(page.locator("[data-error-for='config.url']")).to_contain_text(
            "https:// or http://", timeout=WAIT)
        page.fill("#cf-url", inbox.url + "/in")
        page.fill("#cf-timeout", "5")
        page.click("#save-channel")
        row = page.locator("#channel-table tr[data-channel=ops-hook]")
        expect(row).to_contain_text("signing_secret: set", timeout=WAIT)
        expect(row).to_contain_text("Webhook")
        assert SECRET not in page.content()

        row.locator("[data-test]").click()
        expect(page.locator("#test-result")).to_contain_text("Delivered", timeout=WAIT)
        expect(page.locator("#test-result")).to_contain_text("200")
        (got,) = inbox.received
        timestamp = got.headers["x-horae-timestamp"]
        mac = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + got.body, hashlib.sha256)
        assert got.headers["x-horae-signature"] == "sha256=" + mac.hexdigest()
        page.screenshot(path=str(shots / "channels-en.png"), full_page=True)

        # An edit that leaves the secret empty keeps it; "Clear" removes it.
        row.locator("[data-edit]").click()
        expect(page.locator("#channel-form-title")).to_have_text("Edit channel ops-hook")
        expect(page.locator("[data-secret-state=signing_secret]")).to_have_text("set")
        assert page.input_value("#cs-signing_secret") == ""
        page.fill("#cf-timeout", "7")
        page.click("#save-channel")
        expect(row).to_contain_text("signing_secret: set", timeout=WAIT)
        (stored,) = _channels(server)
        assert stored["config"]["timeout"] == 7.0 and stored["secrets"]["signing_secret"]
        row.locator("[data-edit]").click()
        page.check("[data-clear=signing_secret]")
        page.click("#save-channel")
        expect(row).to_contain_text("signing_secret: not set", timeout=WAIT)

        inbox.reply(500, b"broken")
        row.locator("[data-test]").click()
        expect(page.locator("#test-result")).to_contain_text("Not delivered", timeout=WAIT)
        expect(page.locator("#flash")).to_contain_text("500")

        # In Chinese.
        page.select_option("#lang-select", "zh-CN")
        expect(page.locator("h1")).to_have_text("通知通道", timeout=WAIT)
        expect(row).to_contain_text("未设置", timeout=WAIT)
        row.locator("[data-test]").click()
        expect(page.locator("#test-result")).to_contain_text("未送达", timeout=WAIT)
        expect(page.locator("#test-result")).to_contain_text("接收方返回 HTTP 500")
        page.screenshot(path=str(shots / "channels-zh.png"), full_page=True)
        page.select_option("#lang-select", "en")

        page.once("dialog", lambda dialog: dialog.accept())
        row.locator("[data-remove]").click()
        expect(page.locator("#channel-table")).to_contain_text("No channels yet.",
                                                               timeout=WAIT)
    assert _channels(server) == []


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_other_roles_see_no_channels_page(page: Any, server: Server, role: str) -> None:
    sign_in(page, server, role)
    assert page.locator("#nav-channels").count() == 0
    assert page.goto(server.url + "/channels").status == 403
