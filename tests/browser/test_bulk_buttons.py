"""The schedule page's bulk buttons: counted first, confirmed with the count, then done."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Server, sign_in

pytestmark = pytest.mark.system
WAIT = 20_000  # ms


def test_cancel_waiting_runs_asks_with_the_count_then_cancels(page: Any, server: Server) -> None:
    from playwright.sync_api import expect

    from horae import Horae, RunState, cron

    setup = Horae(server.db_url)
    try:  # no worker serves queue 'parked': its runs wait
        setup.schedules.add("bulk-parked", "console.scan", cron("0 3 * * *"),
                            kwargs={"targets": ["a"]}, queue="parked")
        for _ in range(2):
            setup.schedules.trigger_now("bulk-parked")
    finally:
        setup.stop()
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    sign_in(page, server, "admin")
    page.goto(server.url + "/schedules/bulk-parked")
    page.click("#cancel-waiting")
    expect(page.locator("#flash")).to_contain_text("Cancelled 2 runs.", timeout=WAIT)
    assert asked == ["Cancel 2 waiting runs of schedule bulk-parked?"]
    check = Horae(server.db_url)
    try:
        assert [r.state for r in check.runs.list(schedule_id="bulk-parked")] == \
            [RunState.CANCELLED] * 2
    finally:
        check.stop()
    page.click("#cancel-waiting")
    expect(page.locator("#flash")).to_contain_text("Nothing to do", timeout=WAIT)
    assert len(asked) == 1
