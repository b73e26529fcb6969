"""The schedule page's Backfill form in a real browser: a past range -> the exact fire times
with their DST markers -> confirm -> the backfill runs to its end; a bad range is named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Server, sign_in

pytestmark = pytest.mark.system
WAIT = 20_000  # ms


def test_preview_then_confirm_a_backfill_across_the_berlin_spring_forward(
        page: Any, browser: Any, server: Server, shots: Path) -> None:
    from playwright.sync_api import expect

    from horae import Horae, cron

    setup = Horae(server.db_url)
    setup.schedules.add("berlin-half-past", "console.scan", cron("30 * * * *", "Europe/Berlin"),
                        kwargs={"targets": ["a"], "steps": 1, "delay": 0})
    setup.stop()

    sign_in(page, server, "editor")
    page.goto(server.url + "/schedules/berlin-half-past")
    expect(page.locator("#backfill-card")).to_be_hidden()
    page.click("#backfill-toggle")
    # The page runs in Berlin time: the inputs are Berlin wall times.
    page.fill("#bf-from", "2026-03-29T00:00:00")
    page.fill("#bf-to", "2030-01-01T00:00:00")
    page.click("#bf-preview")
    expect(page.locator("[data-error-for=to]")).to_contain_text("future", timeout=WAIT)
    expect(page.locator("#backfill-plan")).to_be_hidden()

    page.fill("#bf-to", "2026-03-29T05:00:00")
    page.click("#bf-preview")
    fires = page.locator("#backfill-fires li")
    expect(fires).to_have_count(5, timeout=WAIT)
    expect(page.locator("[data-error-for=to]")).to_be_empty()
    shifted = page.locator("#backfill-fires li[data-markers=dst_gap_shifted]")
    expect(shifted).to_have_count(1)
    expect(shifted).to_have_attribute("data-fire", "2026-03-29T01:00:00.000Z")
    expect(shifted).to_contain_text("DST gap")
    expect(page.locator("#backfill-summary")).to_contain_text("5 fire times")
    page.screenshot(path=str(shots / "backfill-preview-en.png"), full_page=True)

    page.click("#bf-confirm")
    expect(page.locator("#flash")).to_contain_text("started", timeout=WAIT)
    row = page.locator("#backfill-table tbody tr[data-backfill]")
    expect(row).to_have_count(1, timeout=WAIT)
    expect(row).to_have_attribute("data-state", "done", timeout=WAIT)
    expect(row).to_contain_text("5 of 5")

    check = Horae(server.db_url)
    runs = [r for r in check.runs.list(schedule_id="berlin-half-past", limit=100)
            if r.origin == "backfill"]
    check.stop()
    assert len(runs) == 5 and {r.state.value for r in runs} == {"succeeded"}

    # A running backfill can be cancelled from the page: the rest never runs.
    setup = Horae(server.db_url)
    setup.schedules.add("slow-half-past", "console.scan", cron("30 * * * *"),
                        kwargs={"targets": ["a"], "steps": 40, "delay": 0.5})
    setup.stop()
    page.goto(server.url + "/schedules/slow-half-past")
    page.click("#backfill-toggle")
    page.fill("#bf-from", "2026-03-01T00:00:00")
    page.fill("#bf-to", "2026-03-01T06:00:00")
    page.click("#bf-preview")
    expect(page.locator("#backfill-fires li")).to_have_count(6, timeout=WAIT)
    page.click("#bf-confirm")
    cancel = page.locator("#backfill-table button[data-cancel]")
    expect(cancel).to_have_count(1, timeout=WAIT)
    cancel.click()
    row = page.locator("#backfill-table tbody tr[data-backfill]")
    expect(row).to_have_attribute("data-state", "cancelled", timeout=WAIT)
    expect(cancel).to_have_count(0)
    check = Horae(server.db_url)
    slow = check.runs.list(schedule_id="slow-half-past", limit=100)
    for run in slow:  # let the server stop at once
        if run.state.value in ("queued", "running"):
            check.runs.cancel(run.id)
    check.stop()
    assert len(slow) == 1  # one was queued (concurrency 1); the other five never were

    # A viewer sees the backfill and its progress, but neither the form nor a cancel button.
    context = browser.new_context(locale="en-GB", timezone_id="Europe/Berlin")
    viewer = context.new_page()
    try:
        sign_in(viewer, server, "viewer")
        viewer.goto(server.url + "/schedules/berlin-half-past")
        expect(viewer.locator("#backfill-table tbody tr[data-backfill]")).to_have_count(
            1, timeout=WAIT)
        expect(viewer.locator("#backfill-toggle")).to_have_count(0)
        expect(viewer.locator("#backfill-form")).to_have_count(0)
        expect(viewer.locator("#backfill-table button")).to_have_count(0)
    finally:
        context.close()
