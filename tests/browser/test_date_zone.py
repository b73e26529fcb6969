"""A one-off scheduled from the console in Asia/Shanghai time stays in Asia/Shanghai time:
on its page, in its next fire, and when it is opened again in the editor."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import Server, sign_in

pytestmark = pytest.mark.system
WAIT = 20_000  # ms


def test_a_one_off_keeps_the_zone_it_was_given(page: Any, server: Server) -> None:
    from playwright.sync_api import expect

    sign_in(page, server, "admin")
    page.goto(server.url + "/schedules/new")
    page.fill("#s-id", "once-in-shanghai")
    page.select_option("#s-task", "console.scan")
    page.fill("#arg-targets", '["10.0.0.1"]')
    page.check("input[name=kind][value=date]")
    page.fill("#s-tz", "Asia/Shanghai")
    page.fill("#s-at", "2030-06-01T09:00:00")
    words = page.locator("#trigger-words")
    expect(words).to_have_text("Once at 2030-06-01 09:00:00 (Asia/Shanghai)", timeout=WAIT)
    page.click("#save-schedule")
    page.wait_for_url(re.compile(r"/schedules/once-in-shanghai$"))

    fields = page.locator("#schedule-fields")
    expect(fields).to_contain_text("Asia/Shanghai", timeout=WAIT)
    expect(words).to_have_text("Once at 2030-06-01 09:00:00 (Asia/Shanghai)", timeout=WAIT)
    # The page is in Berlin time (03:00 CEST); the schedule's own zone is shown beside it.
    expect(page.locator("#next-fire-list li")).to_contain_text("09:00:00 Asia/Shanghai")

    page.goto(server.url + "/schedules/once-in-shanghai/edit")
    expect(page.locator("#s-tz")).to_have_value("Asia/Shanghai", timeout=WAIT)
    expect(page.locator("#s-at")).to_have_value("2030-06-01T09:00")  # the input drops ":00"
    expect(page.locator("input[name=kind][value=date]")).to_be_checked()
