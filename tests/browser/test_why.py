"""The schedule page's "Why?" form: an instant typed in the viewer's zone gets the verdict
of GET /schedules/{id}/explain, and an empty one the last fire and the next, in English and
in Chinese."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Server, sign_in

pytestmark = pytest.mark.system
WAIT = 20_000  # ms


def test_the_why_form_explains_an_instant_and_the_next_fire(browser: Any,
                                                             server: Server) -> None:
    from playwright.sync_api import expect

    from horae import Horae, cron

    app = Horae(server.db_url)
    app.schedules.add("why-daily", "console.scan", cron("0 4 * * *"),
                      kwargs={"targets": ["x"]})
    app.schedules.add("why-paused", "console.scan", cron("0 5 * * *"),
                      kwargs={"targets": ["x"]}, paused=True)
    app.stop()

    context = browser.new_context(locale="en-GB", timezone_id="Europe/Berlin",
                                  viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        sign_in(page, server, "viewer")
        page.goto(server.url + "/schedules/why-daily")
        expect(page.locator("#why-card h2")).to_have_text("Why?", timeout=WAIT)
        page.fill("#why-at", "2030-01-01T05:00:00")  # Berlin: 04:00 UTC, a fire time
        page.click("#why-submit")
        answer = page.locator("#why-result dd[data-verdict]")
        expect(answer).to_have_count(1, timeout=WAIT)
        expect(answer).to_have_attribute("data-verdict", "will_fire")
        expect(answer.locator(".why")).to_have_text(
            "will fire at 2030-01-01T04:00:00.000Z; the fire after it is at "
            "2030-01-02T04:00:00.000Z")
        page.fill("#why-at", "2030-01-01T05:30:00")
        page.click("#why-submit")
        expect(answer).to_have_attribute("data-verdict", "not_a_fire_time", timeout=WAIT)
    finally:
        context.close()

    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        sign_in(page, server, "viewer")
        page.goto(server.url + "/schedules/why-paused")
        expect(page.locator("#why-card h2")).to_have_text("为什么?", timeout=WAIT)
        page.click("#why-submit")  # empty: the last fire (none yet) and the next one
        answer = page.locator("#why-result dd[data-verdict]")
        expect(answer).to_have_count(1, timeout=WAIT)
        expect(page.locator("#why-result dt")).to_have_text("下次触发")
        expect(answer).to_have_attribute("data-verdict", "will_not_fire")
        expect(answer.locator(".why")).to_have_text("不会触发：该计划已暂停")
    finally:
        context.close()
