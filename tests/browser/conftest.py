"""A real ``horae server`` on SQLite and headless Chromium (Debian's) driven by Playwright.

The tests skip when /usr/bin/chromium or playwright is missing, unless CI=true.
"""

from __future__ import annotations

import os
import socket
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI, eventually
from tests.system.procs import spawn, stop

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def _require_browser() -> None:
    problem = None
    if not os.path.exists(CHROMIUM):
        problem = f"no {CHROMIUM} (apt-get install -y chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "playwright is not installed (pip install -e '.[test]')"
    if problem:
        if IN_CI:
            pytest.fail(f"browser tests must run in CI: {problem}")
        pytest.skip(problem)


@dataclass
class Server:
    url: str
    db_url: str
    tokens: dict[str, str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    _require_browser()
    from horae import Horae
    from horae.api.auth import Role, mint_token
    from horae.store.api_store import ApiStore

    folder = tmp_path_factory.mktemp("console")
    db_url = f"sqlite:///{folder}/horae.db"
    setup = Horae(db_url)
    tokens = {}
    for role in ("viewer", "editor", "admin"):
        made = mint_token(ApiStore(setup.store), f"{role} person", Role.parse(role))
        assert made is not None
        tokens[role] = made[0]
    setup.stop()
    port = _free_port()
    proc = spawn(db_url, "server", "--port", str(port), "-c", "4", "--label", "site=lab",
                 app="tests.browser.app:app", log=folder / "server.log")
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            with urllib.request.urlopen(url + "/api/v1/health", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    try:
        eventually(up, timeout=30, interval=0.1)
        yield Server(url, db_url, tokens)
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


@pytest.fixture
def shots() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A laptop-sized page in English, in Berlin time (a zone apart from the server's UTC)."""
    context = browser.new_context(locale="en-GB", timezone_id="Europe/Berlin",
                                  viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def sign_in(page: Any, server: Server, role: str) -> None:
    page.goto(server.url + "/login")
    page.fill("#token", server.tokens[role])
    page.click("#token-sign-in")
    page.wait_for_url(server.url + "/")


def sign_in_user(page: Any, server: Server, name: str, password: str) -> None:
    page.goto(server.url + "/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("#password-sign-in")
    page.wait_for_url(server.url + "/")
