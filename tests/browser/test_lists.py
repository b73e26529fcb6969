"""The console's lists over the API's filters: queue, tag, failing, next-fire order, last
run and its duration; the dashboard drawn from GET /stats; the runs page's time range."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import Server, sign_in

pytestmark = pytest.mark.system
WAIT = 20_000  # ms
QUEUE = "lists-q"  # no worker of the test server serves it: this test finishes its runs


def _finish(server: Server, sid: str, state: str) -> int:
    """Trigger ``sid`` and record an outcome for its run through the store, as a worker."""
    from horae.models import RunState
    from horae.store import Finish, Store

    headers = {"Authorization": f"Bearer {server.tokens['admin']}"}
    r = httpx.post(f"{server.url}/api/v1/schedules/{sid}/trigger", headers=headers)
    assert r.status_code == 201, r.text
    store = Store(server.db_url)
    try:
        claimed = store.runs_claim("lists-test", [QUEUE], 10, 60.0)
        assert [c.id for c in claimed] == [r.json()["id"]]
        assert store.runs_finish("lists-test", [Finish(claimed[0], RunState(state),
                                                       error="boom")]) == [True]
    finally:
        store.close()
    return int(r.json()["id"])


def _ids(page: Any) -> list[str]:
    return page.locator("#schedule-table tbody tr[data-id]").evaluate_all(
        "rows => rows.map(r => r.dataset.id)")  # type: ignore[no-any-return]


def test_schedule_list_filters_order_last_run_and_dashboard(page: Any, server: Server,
                                                            shots: Path) -> None:
    from playwright.sync_api import expect

    headers = {"Authorization": f"Bearer {server.tokens['admin']}"}

    def add(sid: str, trigger: dict[str, Any], tags: list[str], queue: str = QUEUE) -> None:
        r = httpx.post(f"{server.url}/api/v1/schedules", headers=headers, json={
            "id": sid, "task": "console.scan", "kwargs": {"targets": ["x"]},
            "trigger": trigger, "tags": tags, "policies": {"queue": queue}})
        assert r.status_code == 201, r.text

    add("lists-bad", {"kind": "cron", "expr": "0 4 * * *"}, ["lists", "red"])
    add("lists-ok", {"kind": "interval", "seconds": 600}, ["lists"])
    add("lists-other", {"kind": "interval", "seconds": 300}, ["other"], queue="default")
    bad = _finish(server, "lists-bad", "failed")
    _finish(server, "lists-ok", "succeeded")

    sign_in(page, server, "viewer")
    page.goto(server.url + f"/schedules?queue={QUEUE}")
    expect(page.locator("#schedule-table tbody tr[data-id]")).to_have_count(2, timeout=WAIT)
    assert _ids(page) == ["lists-bad", "lists-ok"]
    page.goto(server.url + f"/schedules?queue={QUEUE}&order=next_fire")
    expect(page.locator("#f-order")).to_have_value("next_fire")
    expect(page.locator("#schedule-table tbody tr[data-id]")).to_have_count(2, timeout=WAIT)
    assert _ids(page) == ["lists-ok", "lists-bad"], "the 10-minute interval fires first"
    page.goto(server.url + "/schedules?tag=lists")
    expect(page.locator("#schedule-table tbody tr[data-id]")).to_have_count(2, timeout=WAIT)
    # The state filter through the form: failing only.
    page.select_option("#f-state", "failing")
    page.click("#filters button[type=submit]")
    page.wait_for_url(re.compile(r"state=failing"))
    row = page.locator("#schedule-table tr[data-id='lists-bad']")
    expect(row).to_be_visible(timeout=WAIT)
    assert _ids(page) == ["lists-bad"]
    expect(row.locator("td.last a")).to_have_attribute("href", f"/runs/{bad}")
    expect(row.locator("td.last .state")).to_have_text("failed")
    duration = row.locator("td.num").inner_text()
    assert re.fullmatch(r"\d+ms|\d+\.\d+s", duration), duration
    page.screenshot(path=str(shots / "schedules-failing-en.png"), full_page=True)
    page.goto(server.url + "/schedules?tag=nothing-has-this")
    expect(page.locator("#schedule-table td.empty")).to_have_text("No schedules match.",
                                                                  timeout=WAIT)

    # The dashboard: counts, the per-minute chart and the lists come from GET /stats.
    page.goto(server.url + "/")
    failed = page.locator("#state-counts .count.s-failed strong")
    expect(failed).not_to_have_text("0", timeout=WAIT)
    expect(page.locator("#rate-chart rect.bad").first).to_be_attached(timeout=WAIT)
    expect(page.locator("#failing")).to_contain_text("lists-bad")
    expect(page.locator("#next-fires li").first).to_be_visible()
    stats = httpx.get(f"{server.url}/api/v1/stats", headers=headers).json()
    assert failed.inner_text() == str(stats["finished"]["failed"])
    # Queues: a run waiting on a queue no live worker serves is flagged, with its lag.
    r = httpx.post(f"{server.url}/api/v1/runs", headers=headers, json={
        "task": "console.scan", "kwargs": {"targets": ["z"]},
        "policies": {"queue": "lists-unserved"}})
    assert r.status_code == 201, r.text
    page.goto(server.url + "/")
    unserved = page.locator("#queues tr[data-queue='lists-unserved']")
    expect(unserved).to_have_class("warn", timeout=WAIT)
    expect(unserved.locator("td").nth(1)).to_have_text("1")
    expect(unserved.locator("td").nth(5)).to_have_text("0")
    expect(unserved.locator("td.lag")).to_have_text(re.compile(r"\d"))
    expect(unserved.locator("a")).to_have_attribute("href", "/runs?queue=lists-unserved")
    page.screenshot(path=str(shots / "dashboard-stats-en.png"), full_page=True)
    httpx.post(f"{server.url}/api/v1/runs/{r.json()['id']}/cancel", headers=headers)


def test_runs_page_finished_time_range(page: Any, server: Server) -> None:
    from playwright.sync_api import expect

    headers = {"Authorization": f"Bearer {server.tokens['admin']}"}
    r = httpx.post(f"{server.url}/api/v1/schedules", headers=headers, json={
        "id": "lists-range", "task": "console.scan", "kwargs": {"targets": ["y"]},
        "trigger": {"kind": "cron", "expr": "0 5 * * *"}, "policies": {"queue": QUEUE}})
    assert r.status_code == 201, r.text
    run_id = _finish(server, "lists-range", "succeeded")
    sign_in(page, server, "viewer")
    page.goto(server.url + "/runs?finished_since=2000-01-01T00:00")
    expect(page.locator(f"#run-table tr[data-run='{run_id}']")).to_be_visible(timeout=WAIT)
    page.fill("#f-since", "2999-01-01T00:00")
    page.click("#filters button[type=submit]")
    page.wait_for_url(re.compile(r"finished_since=2999"))
    expect(page.locator("#run-table td.empty")).to_have_text("No runs match.", timeout=WAIT)
    page.goto(server.url + "/runs?finished_until=2000-01-01T00:00")
    expect(page.locator("#run-table td.empty")).to_have_text("No runs match.", timeout=WAIT)
