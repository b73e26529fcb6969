"""The console's screenshots in docs/img/, in English and Chinese: the dashboard, a run
with two attempts and the workers page. Run by hand after a change to those pages:

    CI=true .venv/bin/python -m pytest -p no:cacheprovider tests/browser/screenshots.py

It starts the browser tests' server (tests/browser/conftest.py), gives it a little history
(schedules, runs that succeed, fail, retry and run), and writes the PNG files.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import Server
from tests.conftest import eventually

pytestmark = pytest.mark.system
IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
WAIT = 30_000  # ms
LANGUAGES = {"en": ("en-GB", "Europe/London"), "zh": ("zh-CN", "Asia/Shanghai")}


def _post(server: Server, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = httpx.post(f"{server.url}/api/v1{path}", json=body,
                   headers={"Authorization": f"Bearer {server.tokens['admin']}"})
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


def _history(server: Server) -> tuple[int, list[int]]:
    """Schedules, finished runs of each kind, a run with two attempts, runs running now."""
    for sid, trigger, kwargs in [
        ("reports-eu", {"kind": "cron", "expr": "0 2 * * MON-FRI", "tz": "Europe/Berlin"},
         {"targets": ["eu-1", "eu-2"]}),
        ("inventory", {"kind": "interval", "seconds": 20}, {"targets": ["all"], "steps": 1,
                                                            "delay": 0}),
        ("segment-a", {"kind": "cron", "expr": "*/15 * * * *", "tz": "Asia/Shanghai"},
         {"targets": ["10.0.0.0/24"], "steps": 2, "delay": 0}),
    ]:
        _post(server, "/schedules", {"id": sid, "task": "console.scan", "kwargs": kwargs,
                                     "trigger": trigger})
    for i in range(6):
        _post(server, "/runs", {"task": "console.scan",
                                "kwargs": {"targets": [f"host-{i}"], "steps": 1, "delay": 0}})
    _post(server, "/runs", {"task": "console.flaky", "kwargs": {"region": "ap-east"},
                            "policies": {"retries": 0}})       # fails for good
    flaky = _post(server, "/runs", {"task": "console.flaky", "kwargs": {"region": "eu-west"}})
    running = [_post(server, "/runs", {"task": "console.scan", "kwargs": {
        "targets": [f"10.0.{i}.0/24"], "steps": 400, "delay": 0.25}})["id"] for i in range(2)]
    return int(flaky["id"]), running


def test_screenshots(browser: Any, server: Server) -> None:
    from playwright.sync_api import expect

    flaky, running = _history(server)
    try:
        for code, (locale, zone) in LANGUAGES.items():
            context = browser.new_context(locale=locale, timezone_id=zone,
                                          viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.goto(server.url + "/login")
            page.fill("#token", server.tokens["admin"])
            page.click("#token-sign-in")
            page.wait_for_url(server.url + "/")
            expect(page.locator("#rate-chart svg rect").first).to_be_attached(timeout=WAIT)
            expect(page.locator("#live-workers li").first).to_be_visible(timeout=WAIT)
            page.screenshot(path=str(IMG / f"console-dashboard-{code}.png"), full_page=True)

            page.goto(f"{server.url}/runs/{flaky}")
            expect(page.locator("#attempt-table tbody tr[data-attempt]")).to_have_count(
                2, timeout=WAIT)
            expect(page.locator("#attempt-2 .logs li").first).to_be_visible(timeout=WAIT)
            page.screenshot(path=str(IMG / f"console-run-attempts-{code}.png"), full_page=True)

            page.goto(server.url + "/workers")
            expect(page.locator(f"td.running a[data-run='{running[0]}']")).to_be_visible(
                timeout=WAIT)
            expect(page.locator("td.age").first).to_contain_text(re.compile(r"\d"))
            page.screenshot(path=str(IMG / f"console-workers-{code}.png"), full_page=True)
            context.close()
    finally:
        for run_id in running:
            _post(server, f"/runs/{run_id}/cancel", {})
        # The server stops cleanly only once they have (the task checks at every step).
        eventually(lambda: all(httpx.get(
            f"{server.url}/api/v1/runs/{run_id}",
            headers={"Authorization": f"Bearer {server.tokens['admin']}"}).json()["state"]
            == "cancelled" for run_id in running), timeout=20)
