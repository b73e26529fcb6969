"""The start banner says where the console is and how to sign in; `horae api` serves it too."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.conftest import eventually
from tests.system.procs import spawn, stop

pytestmark = pytest.mark.system


@pytest.mark.parametrize("command", [("server", "--demo"), ("api",)])
def test_banner_prints_the_console_url_and_how_to_sign_in(tmp_path: Path,
                                                          command: tuple[str, ...]) -> None:
    log = tmp_path / "out.log"
    proc = spawn(f"sqlite:///{tmp_path}/h.db", *command, "--port", "0", app=None, log=log)
    try:
        eventually(lambda: proc.poll() is None and "Press Ctrl-C" in log.read_text(),
                   timeout=60, interval=0.1)
        text = log.read_text()
        console = re.search(r"^console\s+(http://127\.0\.0\.1:(\d+)/)$", text, re.M)
        assert console and console.group(2) != "0", text  # the port it really listens on
        assert re.search(r"^sign in\s+with an API token .* or as a user", text, re.M), text
        assert "Open the web console" in text and re.search(r"hor_[0-9a-f]{8}_", text)
        page = httpx.get(console.group(1) + "login", timeout=10)
        assert page.status_code == 200 and "<form" in page.text
    finally:
        assert stop(proc) == 0, log.read_text()
