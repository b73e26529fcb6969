"""A real ``horae server`` with the API: schemathesis over the whole OpenAPI document, and
the first start's admin token."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import ROOT, LiveServer, free_port
from tests.conftest import eventually

ST = str(Path(sys.executable).with_name("st"))


@pytest.mark.system
def test_schemathesis_finds_no_5xx_and_every_response_matches_the_document(
        live_server: Callable[..., LiveServer], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Schemathesis probes auth with bad tokens hundreds of times: lift the failure limit.
    monkeypatch.setenv("HORAE_API_AUTH_FAILURE_LIMIT", "1000000")
    server = live_server(f"sqlite:///{tmp_path}/st.db")
    doc = httpx.get(f"{server.url}/api/v1/openapi.json", headers=server.headers).json()
    schema = tmp_path / "openapi.json"
    schema.write_text(json.dumps(doc))
    result = subprocess.run(
        [ST, "--config-file", str(Path(__file__).with_name("schemathesis.toml")), "run",
         str(schema), "--url", server.url, "-H", f"Authorization: Bearer {server.token}",
         "--max-examples", "20", "--workers", "2", "--seed", "20261126",
         "--request-timeout", "20", "--no-color"],
        capture_output=True, text=True, timeout=240, cwd=tmp_path,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "Authentication failed" not in output, output[-3000:]
    operations = sum(len(item) for item in doc["paths"].values())
    assert operations >= 38  # every operation of the document: users, stats, queues...
    assert re.search(r"Tested: (\d+)", output) and f"Tested: {operations}" in output, \
        output[-2000:]
    log = (tmp_path / "server0.log").read_text()
    assert "Traceback" not in log, log[-4000:]


@pytest.mark.system
def test_first_start_prints_an_admin_token_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db"

    def start() -> tuple[subprocess.Popen[bytes], Path, int]:
        port = free_port()
        log = tmp_path / f"run{port}.log"
        out = open(log, "wb")  # noqa: SIM115 - the child holds it
        proc = subprocess.Popen(
            [sys.executable, "-m", "horae.cli", "--db", url, "--color", "never", "server",
             "--port", str(port)],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)))
        out.close()
        eventually(lambda: "Press Ctrl-C" in log.read_text(), timeout=30)
        return proc, log, port

    proc, log, port = start()
    tokens = re.findall(r"hor_[0-9a-f]{8}_\S+", log.read_text())
    assert len(tokens) == 1, log.read_text()
    good = httpx.get(f"http://127.0.0.1:{port}/api/v1/runs",
                     headers={"Authorization": f"Bearer {tokens[0]}"})
    assert good.status_code == 200
    assert httpx.get(f"http://127.0.0.1:{port}/api/v1/runs").status_code == 401
    assert httpx.get(f"http://127.0.0.1:{port}/api/v1/health").status_code == 200
    proc.terminate()
    assert proc.wait(30) == 0
    again, log2, _ = start()
    again.terminate()
    assert again.wait(30) == 0
    assert "hor_" not in log2.read_text(), "the token is shown once, never again"
