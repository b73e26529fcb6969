"""Schedules declared in code carry a "declared in code" badge in the schedule list and on
the schedule's page, in English and in Chinese; schedules made at runtime carry none."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Server, sign_in

pytestmark = pytest.mark.system
WAIT = 20_000  # ms
TITLES = {
    "en-GB": "Declared in code: when the code changes, its definition replaces edits made "
             "here (a pause stays).",
    "zh-CN": "在代码中声明：代码改变时，代码中的定义会替换在此处所做的修改（暂停状态保留）。",
}


def test_declared_schedules_carry_a_badge(browser: Any, server: Server) -> None:
    from playwright.sync_api import expect

    from horae import Horae, cron

    app = Horae(server.db_url)  # the tasks come from the catalogue the server advertises
    app.schedules.ensure("badge-code", "console.scan", cron("0 4 * * *"),
                         kwargs={"targets": ["x"]})
    app.schedules.add("badge-hand", "console.scan", cron("0 5 * * *"),
                      kwargs={"targets": ["x"]})
    app.stop()

    for locale, text in (("en-GB", "declared in code"), ("zh-CN", "代码中声明")):
        context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        try:
            sign_in(page, server, "viewer")
            page.goto(server.url + "/schedules?search=badge-")
            rows = page.locator("#schedule-table tbody tr[data-id]")
            expect(rows).to_have_count(2, timeout=WAIT)
            coded = page.locator("#schedule-table tr[data-id='badge-code'] .badge.declared")
            expect(coded).to_have_text(text)
            expect(coded).to_have_attribute("title", TITLES[locale])
            expect(page.locator("#schedule-table tr[data-id='badge-hand'] .badge")
                   ).to_have_count(0)

            page.goto(server.url + "/schedules/badge-code")
            expect(page.locator("#schedule-id + .badge.declared")).to_have_text(text,
                                                                               timeout=WAIT)
            page.goto(server.url + "/schedules/badge-hand")
            expect(page.locator("#schedule-fields dd").first).to_be_visible(timeout=WAIT)
            expect(page.locator(".badge.declared")).to_have_count(0)
        finally:
            context.close()
