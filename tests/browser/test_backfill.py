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
        page: Any, server: Server, shots: Path) -> None:
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
