"""The console on a phone (390×844): no page scrolls sideways, the navigation is reachable,
a 200-character schedule name wraps instead of widening the page, and the keyboard reaches
the main actions. Screenshots land in tests/artifacts/phone-*.png."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import Server, sign_in
from tests.conftest import eventually

pytestmark = pytest.mark.system
WAIT = 20_000  # ms
LONG = "phone-" + "x" * 182 + "-end-0123456"  # 200 characters, the longest id there is
PAGES = {"dashboard": "/", "schedules": "/schedules", "runs": "/runs", "workers": "/workers",
         "tasks": "/tasks", "audit": "/audit", "schedule": f"/schedules/{LONG}",
         "editor": f"/schedules/{LONG}/edit", "new": "/schedules/new"}


@pytest.fixture
def phone(browser: Any) -> Any:
    context = browser.new_context(locale="en-GB", timezone_id="Europe/Berlin",
                                  viewport={"width": 390, "height": 844},
                                  device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def long_schedule(server: Server) -> int:
    """A schedule with the longest id and a long unbroken description, and one run of it."""
    assert len(LONG) == 200
    headers = {"Authorization": f"Bearer {server.tokens['admin']}"}
    r = httpx.post(f"{server.url}/api/v1/schedules", headers=headers, json={
        "id": LONG, "task": "console.scan", "kwargs": {"targets": ["10.0.0.9"], "steps": 1,
                                                       "delay": 0.01},
        "trigger": {"kind": "cron", "expr": "0 3 * * *", "tz": "America/Los_Angeles"},
        "description": "d" * 150, "tags": ["t" * 100]})
    assert r.status_code in (201, 409), r.text
    run = httpx.post(f"{server.url}/api/v1/schedules/{LONG}/trigger", headers=headers)
    assert run.status_code == 201, run.text
    run_id = int(run.json()["id"])

    def finished() -> bool:
        state = httpx.get(f"{server.url}/api/v1/runs/{run_id}", headers=headers).json()["state"]
        return state in ("succeeded", "failed")

    eventually(finished, timeout=30, interval=0.1)
    return run_id


def _overflow(page: Any) -> dict[str, int]:
    return page.evaluate("() => ({scroll: document.scrollingElement.scrollWidth,"
                         " inner: window.innerWidth})")  # type: ignore[no-any-return]


def test_every_page_fits_a_phone_and_long_names_wrap(phone: Any, server: Server,
                                                     long_schedule: int, shots: Path) -> None:
    from playwright.sync_api import expect

    sign_in(phone, server, "admin")
    pages = PAGES | {"run": f"/runs/{long_schedule}"}
    for name, path in pages.items():
        phone.goto(server.url + path)
        phone.wait_for_load_state("networkidle")
        expect(phone.locator("h1")).to_be_visible()
        size = _overflow(phone)
        phone.screenshot(path=str(shots / f"phone-{name}.png"), full_page=True)
        assert size["scroll"] <= size["inner"], f"{path} scrolls sideways: {size}"
        # Every navigation link is on the screen (the bar wraps, it never hides them).
        links = phone.locator("header nav a")
        assert links.count() >= 6  # dashboard ... audit, and more for an admin
        for i in range(links.count()):
            box = links.nth(i).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, path

    # The long name wraps inside the list, its heading and its run's link.
    phone.goto(server.url + "/schedules?search=phone-")
    row = phone.locator(f"#schedule-table tr[data-id='{LONG}']")
    expect(row).to_be_visible(timeout=WAIT)
    name = row.locator("td.name a").bounding_box()
    assert name is not None and name["width"] <= 390 and name["height"] > 40, name
    phone.goto(server.url + f"/schedules/{LONG}")
    heading = phone.locator("#schedule-id").bounding_box()
    assert heading is not None and heading["x"] + heading["width"] <= 390
    expect(phone.locator("#schedule-fields")).to_contain_text("Queue", timeout=WAIT)
    assert _overflow(phone)["scroll"] <= 390
    phone.goto(server.url + "/runs")
    expect(phone.locator(f"#run-table a[href='/schedules/{LONG}']").first).to_be_visible(
        timeout=WAIT)
    assert _overflow(phone)["scroll"] <= 390


def _tab_to(page: Any, selector: str, presses: int = 80) -> int:
    """Press Tab until ``selector`` has the focus; how many presses it took."""
    for i in range(1, presses + 1):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)",
                         selector):
            return i
    raise AssertionError(f"Tab never reached {selector}")


def test_keyboard_reaches_the_main_actions_on_a_phone(phone: Any, server: Server,
                                                       long_schedule: int) -> None:
    from playwright.sync_api import expect

    sign_in(phone, server, "admin")
    phone.goto(server.url + "/schedules")
    expect(phone.locator(f"#schedule-table tr[data-id='{LONG}']")).to_be_visible(timeout=WAIT)
    phone.locator("body").focus()
    assert _tab_to(phone, "a.skip") == 1, "the first stop skips to the content"
    for target in ("header nav a[href='/runs']", "#new-schedule", "#f-search", "#f-order",
                   "#filters button[type=submit]", ".pause-toggle"):
        _tab_to(phone, target)
    # Enter on a focused navigation link follows it.
    phone.goto(server.url + "/schedules")
    phone.locator("body").focus()
    _tab_to(phone, "header nav a[href='/runs']")
    phone.keyboard.press("Enter")
    phone.wait_for_url(re.compile(r"/runs$"))
    # The actions of a schedule.
    phone.goto(server.url + f"/schedules/{LONG}")
    expect(phone.locator("#pause-toggle")).to_have_text("Pause", timeout=WAIT)
    phone.locator("body").focus()
    for target in ("#trigger-now", "#pause-toggle", "#backfill-toggle", "#edit-schedule",
                   "#delete-schedule"):
        _tab_to(phone, target)
    for _ in range(3):  # back over Edit and Backfill
        phone.keyboard.press("Shift+Tab")
    assert phone.evaluate("document.activeElement.id") == "pause-toggle"
    toggle = phone.locator("#pause-toggle")
    phone.keyboard.press("Enter")
    expect(toggle).to_have_text("Resume", timeout=WAIT)
    # Done working, the button has the focus again: Enter toggles it back.
    expect(toggle).to_be_enabled(timeout=WAIT)
    expect(toggle).to_be_focused()
    phone.keyboard.press("Enter")
    expect(toggle).to_have_text("Pause", timeout=WAIT)
    expect(toggle).to_be_enabled(timeout=WAIT)
    expect(toggle).to_be_focused()
