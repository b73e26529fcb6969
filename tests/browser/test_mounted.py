"""The console mounted under /horae in a Starlette app (``horae.asgi()``), served by a real
uvicorn on loopback and driven in Chromium: every link the pages and their scripts build,
the sign-in redirect, the schedule form's preview and save, and the run page stay under
the prefix."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from horae import Horae
from horae.api.auth import Role, mint_token
from horae.store.api_store import ApiStore
from tests.browser.conftest import _free_port, _require_browser

WAIT = 15_000


def double(n: int) -> int:
    return 2 * n


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[tuple[str, str]]:
    _require_browser()
    horae = Horae(f"sqlite:///{tmp_path}/horae.db")
    horae.task("mounted.double")(double)
    made = mint_token(ApiStore(horae.store), "admin person", Role.ADMIN)
    assert made is not None

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        horae.start(concurrency=2)
        yield
        horae.stop(grace=1)

    async def home(_request: Any) -> PlainTextResponse:
        return PlainTextResponse("the site's own home page")

    site = Starlette(routes=[Route("/", home), Mount("/horae", app=horae.asgi())],
                     lifespan=lifespan)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(site, host="127.0.0.1", port=port,
                                          log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)  # polls the server's own flag until the deadline
    try:
        yield f"http://127.0.0.1:{port}", made[0]
    finally:
        server.should_exit = True
        thread.join(30)


def test_the_console_works_under_a_prefix(page: Any, mounted: tuple[str, str]) -> None:
    from playwright.sync_api import expect

    base, token = mounted
    page.goto(base + "/horae/schedules")
    page.wait_for_url(base + "/horae/login?next=/schedules")
    page.fill("#token", token)
    page.click("#token-sign-in")
    page.wait_for_url(base + "/horae/schedules")
    expect(page.locator("h1")).to_have_text("Schedules")

    page.click("#new-schedule")
    page.wait_for_url(base + "/horae/schedules/new")
    page.fill("#s-id", "doubler")
    page.select_option("#s-task", "mounted.double")
    page.fill("#arg-n", "21")
    page.fill("#s-cron", "*/2 * * * * *")
    expect(page.locator("#preview-fires li")).to_have_count(10, timeout=WAIT)  # /preview
    page.click("#save-schedule")
    page.wait_for_url(base + "/horae/schedules/doubler")

    run_link = page.locator("#run-table a[href^='/horae/runs/']").first
    expect(run_link).to_be_visible(timeout=WAIT)
    run_link.click()
    page.wait_for_url(re.compile(re.escape(base) + r"/horae/runs/\d+$"))
    expect(page.locator("#run-state")).to_have_text(re.compile("succeeded"), timeout=WAIT)

    hrefs = page.eval_on_selector_all("a[href^='/']", "els => els.map(e => e.getAttribute('href'))")
    assert hrefs and all(h.startswith("/horae/") for h in hrefs), hrefs
    page.click("nav >> text=Runs")
    page.wait_for_url(base + "/horae/runs")
    page.goto(base + "/")
    expect(page.locator("body")).to_contain_text("the site's own home page")
