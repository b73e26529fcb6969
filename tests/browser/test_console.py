"""The console end to end: a real server, headless Chromium, every page in both languages."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Server, sign_in
from tests.conftest import eventually

pytestmark = pytest.mark.system
WAIT = 20_000  # ms


def test_schedule_lifecycle_live_run_cancel_audit_and_chinese(
        page: Any, server: Server, shots: Path) -> None:
    from playwright.sync_api import expect

    sign_in(page, server, "admin")
    expect(page.locator("h1")).to_have_text("Dashboard")

    # Create a schedule through the form: argument form from the schema, cron preview.
    page.goto(server.url + "/schedules/new")
    page.fill("#s-id", "scan-segment-a")
    page.select_option("#s-task", "console.scan")
    expect(page.locator("#arg-targets")).to_be_visible()
    page.fill("#arg-targets", '["10.0.0.1", "10.0.0.2"]')
    page.fill("#arg-steps", "40")
    page.fill("#arg-delay", "0.25")
    page.fill("#s-tz", "Asia/Shanghai")
    page.fill("#s-cron", "*/3 * * * * *")
    expect(page.locator("#preview-fires li")).to_have_count(10, timeout=WAIT)
    expect(page.locator("#trigger-words")).to_contain_text("3 seconds")
    page.fill("#s-cron", "0 0 30 2 *")
    expect(page.locator("[data-error-for=trigger]")).to_contain_text("February", timeout=WAIT)
    page.fill("#s-cron", "*/3 * * * * *")
    expect(page.locator("#preview-fires li")).to_have_count(10, timeout=WAIT)
    page.screenshot(path=str(shots / "editor-en.png"), full_page=True)
    page.click("#save-schedule")
    page.wait_for_url(re.compile(r"/schedules/scan-segment-a$"))

    # Its first run appears without reloading; progress moves and log lines arrive live.
    # The oldest run that executes (later fires of this 3 s cron are `skipped` while it runs).
    first_run = page.locator(
        "#run-table tbody tr[data-run]:not([data-state=skipped]):not([data-state=missed]) a").last
    expect(first_run).to_be_visible(timeout=WAIT)
    page.screenshot(path=str(shots / "schedule-en.png"), full_page=True)
    first_run.click()
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    expect(page.locator("#attempts .logs li").first).to_be_visible(timeout=WAIT)
    bar = page.locator("#progress")
    expect(bar).not_to_have_attribute("data-value", "0", timeout=WAIT)
    before = int(bar.get_attribute("data-value") or 0)
    expect(page.locator("#attempts .logs li").nth(2)).to_be_visible(timeout=WAIT)
    eventually(lambda: int(bar.get_attribute("data-value") or 0) > before, timeout=WAIT / 1000)
    page.screenshot(path=str(shots / "run-en.png"), full_page=True)

    # Cancel the running run.
    page.click("#cancel-run")
    expect(page.locator("#run-state")).to_have_text("cancelled", timeout=WAIT)
    run_url = page.url

    # Pause it; edit its cron and see the next fires change.
    page.goto(server.url + "/schedules/scan-segment-a")
    expect(page.locator("#pause-toggle")).to_have_text("Pause", timeout=WAIT)
    page.click("#pause-toggle")
    expect(page.locator("#pause-toggle")).to_have_text("Resume", timeout=WAIT)
    page.goto(server.url + "/schedules/scan-segment-a/edit")
    expect(page.locator("#s-cron")).to_have_value("*/3 * * * * *", timeout=WAIT)
    expect(page.locator("#arg-steps")).to_have_value("40")
    expect(page.locator("#arg-targets")).to_have_value('["10.0.0.1","10.0.0.2"]')
    expect(page.locator("#preview-fires li")).to_have_count(10, timeout=WAIT)
    page.fill("#s-cron", "30 2 * * MON-FRI")
    expect(page.locator("#trigger-words")).to_contain_text("02:30", timeout=WAIT)
    page.click("#save-schedule")
    page.wait_for_url(re.compile(r"/schedules/scan-segment-a$"))
    expect(page.locator("#trigger-words")).to_contain_text("02:30", timeout=WAIT)
    fires = page.locator("#next-fire-list li")
    expect(fires).to_have_count(10)
    assert "02:30" in fires.first.inner_text()  # the schedule's zone beside the viewer's

    # The schedules list shows it paused; the audit shows the changes.
    page.goto(server.url + "/schedules?search=scan")
    row = page.locator("#schedule-table tr[data-id='scan-segment-a']")
    expect(row).to_be_visible(timeout=WAIT)
    expect(row.locator(".pause-toggle")).to_be_checked()
    page.screenshot(path=str(shots / "schedules-en.png"), full_page=True)
    page.goto(server.url + "/audit")
    for action in ("schedule.create", "run.cancel", "schedule.pause", "schedule.update"):
        expect(page.locator(f"#audit-table tr[data-action='{action}']").first).to_be_visible(
            timeout=WAIT)

    # Every page in English, then switch to Chinese and see the same pages translated.
    pages = {"dashboard": "/", "schedules": "/schedules", "runs": "/runs", "run": run_url,
             "workers": "/workers", "tasks": "/tasks", "audit": "/audit",
             "schedule": "/schedules/scan-segment-a",
             "editor": "/schedules/scan-segment-a/edit"}
    for name, path in pages.items():
        page.goto(path if path.startswith("http") else server.url + path)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(shots / f"{name}-en.png"), full_page=True)
    page.goto(server.url + "/schedules/scan-segment-a")
    page.select_option("#lang-select", "zh-CN")
    page.wait_for_url(re.compile(r"/schedules/scan-segment-a$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("h1 span")).to_have_text("计划")
    expect(page.locator("#pause-toggle")).to_have_text("恢复", timeout=WAIT)
    expect(page.locator("#trigger-words")).to_contain_text("02:30", timeout=WAIT)
    for name, path in pages.items():
        page.goto(path if path.startswith("http") else server.url + path)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(shots / f"{name}-zh.png"), full_page=True)
    expect(page.locator("nav")).to_contain_text("审计")


def test_viewer_sees_no_edit_controls(page: Any, server: Server, shots: Path) -> None:
    from playwright.sync_api import expect

    sign_in(page, server, "viewer")
    page.goto(server.url + "/schedules")
    expect(page.locator("h1")).to_have_text("Schedules")
    assert page.locator("#new-schedule").count() == 0
    page.wait_for_load_state("networkidle")
    for box in page.locator(".pause-toggle").all():
        assert box.is_disabled()
    page.goto(server.url + "/schedules/new")
    expect(page.locator("h1")).to_have_text("Not allowed")
    page.goto(server.url + "/runs")
    page.wait_for_load_state("networkidle")
    link = page.locator("#run-table a[href^='/runs/']").first
    if link.count():
        link.click()
        page.wait_for_load_state("networkidle")
        assert page.locator("#cancel-run").count() == 0
        assert page.locator("#retry-run").count() == 0


def _post(url: str, data: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_forged_posts_without_the_csrf_token_are_refused(page: Any, server: Server) -> None:
    sign_in(page, server, "admin")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    cookie = f"horae_session={cookies['horae_session']}"
    csrf = json.loads(page.locator("#horae-config").text_content())["csrf"]
    form = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    # A form post (sign-out) without the token, or with a wrong one: refused, still signed in.
    assert _post(server.url + "/logout", b"", form) == 403
    assert _post(server.url + "/logout", b"csrf=forged", form) == 403
    # An API call riding on the session cookie without X-CSRF-Token: refused.
    api = {"Cookie": cookie, "Content-Type": "application/json"}
    body = json.dumps({"task": "console.scan", "kwargs": {"targets": ["x"]}}).encode()
    assert _post(server.url + "/api/v1/runs", body, api) == 403
    assert _post(server.url + "/api/v1/runs", body, api | {"X-CSRF-Token": "nope"}) == 403
    assert _post(server.url + "/api/v1/runs", body, api | {"X-CSRF-Token": csrf}) == 201
    page.goto(server.url + "/schedules")
    assert page.url.endswith("/schedules")  # the session survived the forgeries
    # Signing out with the token ends the session for good.
    page.click("#sign-out")
    page.wait_for_url(re.compile(r"/login"))
    assert _post(server.url + "/api/v1/runs", body, api | {"X-CSRF-Token": csrf}) == 401
