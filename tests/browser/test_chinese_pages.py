"""Every console page in Chinese shows no English sentence from the server (trigger
sentences, validation errors, counters), and a run or schedule on a queue no live worker
serves says so (banner on the run and the schedule, highlighted row on the dashboard); a
cancelled run is drawn grey, not as a failure."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.browser.conftest import Server, sign_in
from tests.conftest import eventually

pytestmark = pytest.mark.system
WAIT = 20_000  # ms
NOWHERE = "nowhere-q"  # no worker of the test server serves it

#: Sentences the server writes in English; none may show in the Chinese console.
ENGLISH_FROM_THE_SERVER = [
    "Every 10 seconds", "At ", "is out of range", "is a required property", "Field required",
    "No live worker", "never fires", "time zone", "not found", "should be",
]

#: Text nodes inside these are data, not the console's words: ids, code, JSON, the task's
#: own docstring and log lines, the signed-in name.
DATA = ("code, pre, script, style, .doc, #task-doc, .logs, #progress-message, .who, .brand, "
        "option")

ENGLISH_RUNS_JS = """(data) => {
  const runs = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest(data) || !parent.getClientRects().length) continue;
    const style = getComputedStyle(parent);
    if (style.visibility === "hidden" || style.display === "none") continue;
    const found = node.textContent.match(/[A-Za-z]{2,}(?:[\\s,;:'’]+[A-Za-z]{2,}){2,}/g);
    if (found) runs.push(...found);
  }
  return runs;
}"""


def _api(server: Server, method: str, path: str, body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {server.tokens['admin']}"}
    r = httpx.request(method, f"{server.url}/api/v1{path}", json=body, headers=headers)
    assert r.status_code < 300, r.text
    return r.json() if r.content else None


def _ensure(server: Server, body: dict[str, Any]) -> None:
    """Create a schedule, unless an earlier test of this module's server did."""
    headers = {"Authorization": f"Bearer {server.tokens['admin']}"}
    r = httpx.post(f"{server.url}/api/v1/schedules", json=body, headers=headers)
    assert r.status_code in (201, 409), r.text


def _english_runs(page: Any) -> list[str]:
    return page.evaluate(ENGLISH_RUNS_JS, DATA)  # type: ignore[no-any-return]


def _settled(page: Any, ready: str) -> None:
    """The page's data is drawn: its marker element exists and is filled."""
    from playwright.sync_api import expect

    expect(page.locator(ready).first).to_be_visible(timeout=WAIT)
    page.wait_for_load_state("networkidle")


def _data(server: Server) -> tuple[int, int]:
    """A fast schedule on the served queue with a finished run, one on a queue nobody
    serves with a waiting run; returns (finished run, waiting run)."""
    targets = {"targets": ["10.0.0.9"], "steps": 1, "delay": 0}
    _ensure(server, {
        "id": "zh-every-10s", "task": "console.scan", "kwargs": targets,
        "trigger": {"kind": "interval", "seconds": 10}})
    done = _api(server, "POST", "/schedules/zh-every-10s/trigger")["id"]
    if not _api(server, "GET", "/channels")["items"]:
        _api(server, "POST", "/channels", {"name": "zh-hook", "kind": "webhook",
                                           "config": {"url": "http://127.0.0.1:9/"}})
    eventually(lambda: _api(server, "GET", f"/runs/{done}")["state"] == "succeeded",
               timeout=WAIT / 1000)
    _ensure(server, {
        "id": "zh-unserved", "task": "console.scan", "kwargs": targets,
        "policies": {"queue": NOWHERE},
        "trigger": {"kind": "cron", "expr": "0 3 * * MON", "tz": "Asia/Shanghai"}})
    headers = {"Authorization": f"Bearer {server.tokens['admin']}"}
    flow = httpx.post(f"{server.url}/api/v1/workflows", headers=headers, json={
        "id": "zh-flow", "on_finish": "scan.report", "steps": [
            {"id": "scan", "task": "console.scan", "kwargs": targets},
            {"id": "each", "task": "scan.probe", "map": ["a", "b"], "after": ["scan"]},
            {"id": "report", "task": "scan.report", "after": ["each"],
             "trigger_rule": "all_done"}]})
    assert flow.status_code in (201, 409), flow.text
    waiting = _api(server, "POST", "/schedules/zh-unserved/trigger")
    assert waiting["warnings"] and waiting["state"] == "queued"
    return done, int(waiting["id"])


def test_every_page_in_chinese_shows_no_english_sentence(browser: Any, server: Server) -> None:
    from playwright.sync_api import expect

    done, waiting = _data(server)
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        sign_in(page, server, "admin")
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        pages = {
            "/": "#state-counts a", "/schedules": "#schedule-table tr[data-id]",
            "/schedules/zh-every-10s": "#schedule-fields dd",
            "/schedules/zh-unserved": "#queue-banner p", "/runs": "#run-table tr[data-run]",
            f"/runs/{done}": "#run-fields dd", f"/runs/{waiting}": "#queue-banner p",
            "/workers": "#worker-table tbody tr", "/tasks": "#task-list section",
            "/audit": "#audit-table tr[data-action]", "/users": "#user-table tbody tr",
            "/account": "main h1", "/workflows": "#workflow-table tr[data-id]",
            "/workflows/zh-flow": "#dag g.node",
            "/channels": "#channel-table tr[data-channel]",
        }
        for path, ready in pages.items():
            page.goto(server.url + path)
            _settled(page, ready)
            text = page.locator("body").inner_text()
            for sentence in ENGLISH_FROM_THE_SERVER:
                assert sentence not in text, (path, sentence)
            assert _english_runs(page) == [], path
        # The trigger sentences of the list and the schedule page are Chinese.
        page.goto(server.url + "/schedules")
        row = page.locator("#schedule-table tr[data-id='zh-every-10s']")
        expect(row).to_contain_text("每 10 秒", timeout=WAIT)
        # The banner of a waiting run on an unserved queue, in Chinese.
        page.goto(f"{server.url}/runs/{waiting}")
        expect(page.locator("#queue-banner")).to_contain_text(f"没有在线执行器服务队列“{NOWHERE}”",
                                                             timeout=WAIT)

        # The editor, with errors the server wrote: a cron field out of range while typing,
        # then a missing required argument on saving. Both in Chinese.
        page.goto(server.url + "/schedules/new")
        page.fill("#s-id", "zh-broken")
        page.select_option("#s-task", "console.scan")
        page.fill("#s-cron", "0 25 * * *")
        error = page.locator("[data-error-for=trigger]")
        expect(error).to_contain_text("小时字段", timeout=WAIT)
        expect(error).to_contain_text("超出范围")
        page.fill("#s-cron", "0 2 * * *")
        expect(page.locator("#preview-fires li")).to_have_count(10, timeout=WAIT)
        page.click("#save-schedule")
        missing = page.locator(".field-error:not(:empty), #form-error:not([hidden])").first
        expect(missing).to_contain_text("缺少必填参数", timeout=WAIT)
        page.wait_for_load_state("networkidle")
        for sentence in ENGLISH_FROM_THE_SERVER:
            assert sentence not in page.locator("body").inner_text(), ("editor", sentence)
        assert _english_runs(page) == [], "editor"
    finally:
        context.close()


def test_a_run_and_a_schedule_on_an_unserved_queue_say_so(page: Any, server: Server) -> None:
    from playwright.sync_api import expect

    done, waiting = _data(server)
    sign_in(page, server, "viewer")
    banner = page.locator("#queue-banner")
    page.goto(f"{server.url}/runs/{waiting}")
    expect(banner).to_have_text(
        f"No live worker serves queue '{NOWHERE}': this run will wait until one starts.",
        timeout=WAIT)
    page.goto(server.url + "/schedules/zh-unserved")
    expect(banner).to_have_text(
        f"No live worker serves queue '{NOWHERE}': its runs will wait until one starts.",
        timeout=WAIT)
    # Served queues and finished runs: no banner.
    for path in ("/schedules/zh-every-10s", f"/runs/{done}"):
        page.goto(server.url + path)
        expect(page.locator("#schedule-fields dd, #run-fields dd").first).to_be_visible(
            timeout=WAIT)
        page.wait_for_load_state("networkidle")
        expect(banner).to_be_hidden()
    # The dashboard's queue card lists the unserved queue, highlighted.
    page.goto(server.url + "/")
    row = page.locator(f"#queues tr[data-queue='{NOWHERE}']")
    expect(row).to_have_attribute("data-unserved", "true", timeout=WAIT)
    expect(row).to_have_class(re.compile(r"\bwarn\b"))
    expect(row.locator(".unserved")).to_have_text("no live worker: runs wait")
    assert page.locator("#queues tr[data-queue='default']").get_attribute(
        "data-unserved") is None
    # The detector of the Chinese test sees English where there is some.
    assert _english_runs(page), "the detector finds no English on an English page"


def test_a_cancelled_run_is_drawn_grey_not_as_a_failure(page: Any, server: Server) -> None:
    from playwright.sync_api import expect

    _ensure(server, {"id": "chart-cancel", "task": "console.scan",
                     "kwargs": {"targets": ["z"], "steps": 200, "delay": 0.1},
                     "trigger": {"kind": "cron", "expr": "0 3 * * MON"}})
    run = _api(server, "POST", "/schedules/chart-cancel/trigger")["id"]
    eventually(lambda: _api(server, "GET", f"/runs/{run}")["state"] == "running",
               timeout=WAIT / 1000)
    _api(server, "POST", f"/runs/{run}/cancel")
    eventually(lambda: _api(server, "GET", f"/runs/{run}")["state"] == "cancelled",
               timeout=WAIT / 1000)
    sign_in(page, server, "viewer")
    page.goto(server.url + "/schedules/chart-cancel")
    chart = page.locator("#duration-chart")
    expect(chart.locator("rect.other")).to_have_count(1, timeout=WAIT)
    expect(chart.locator("rect.bad")).to_have_count(0)
    expect(chart.locator(".legend .key.other")).to_have_text("cancelled")
    # The run's error, written by the worker in English, reads in Chinese in zh-CN.
    page.goto(f"{server.url}/runs/{run}")
    expect(page.locator("#run-error")).to_have_text("cancelled while running", timeout=WAIT)
    page.select_option("#lang-select", "zh-CN")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN", timeout=WAIT)
    expect(page.locator("#run-error")).to_have_text("运行中被取消", timeout=WAIT)
