"""The built-in ``horae.http`` and ``horae.shell`` tasks with a real worker: a loopback
HTTP server records what reaches it, so "refused" is checked as "nothing was sent"."""

from __future__ import annotations

import json
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from horae import Horae, RunState
from horae.api import create_app
from horae.api.auth import Role, mint_token
from horae.errors import InvalidInput

warnings.filterwarnings("ignore", message=".*httpx.*starlette.testclient.*")
from starlette.testclient import TestClient  # noqa: E402

SECRET_VALUE = "s3cr3t-value-never-stored"


class Recorder(BaseHTTPRequestHandler):
    """Answers by path; every request it gets is appended to ``server.seen``."""

    server: Server

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append({"method": self.command, "path": self.path,
                                 "headers": dict(self.headers), "body": body})
        port = self.server.server_address[1]
        if self.path == "/ok":
            self._send(200, b'{"hello": "world"}', "application/json")
        elif self.path == "/echo-auth":  # a server that reflects the secret back
            self._send(200, json.dumps({"got": self.headers.get("Authorization")}).encode(),
                       "application/json")
        elif self.path == "/fail":
            self._send(503, b"maintenance window " + b"x" * 500, "text/plain")
        elif self.path == "/big":
            self._send(200, b"a" * 10_000, "text/plain")
        elif self.path == "/redirect-in":
            self._send(302, b"", "text/plain", location="/ok")
        elif self.path == "/redirect-out":
            self._send(302, b"", "text/plain", location=f"http://localhost:{port}/ok")
        elif self.path == "/slow":
            time.sleep(3)  # the server being slow is what is tested, not a wait of the test
            self._send(200, b"late", "text/plain")
        else:
            self._send(404, b"no", "text/plain")

    do_GET = do_POST = do_PUT = _answer

    def _send(self, status: int, body: bytes, kind: str, location: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        if location:
            self.send_header("Location", location)
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    seen: list[dict[str, Any]]


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server(("127.0.0.1", 0), Recorder)
    srv.seen = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def app(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Horae]:
    monkeypatch.setenv("TEST_API_TOKEN", SECRET_VALUE)
    horae = Horae(database_url, http_allow_hosts=["127.0.0.1"],
                  http_secrets={"API_TOKEN": "TEST_API_TOKEN", "UNSET": "TEST_UNSET_VAR"})
    horae.start(scheduler=False, concurrency=4)
    yield horae
    horae.stop(grace=0.5)


def base(server: Server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def run_http(app: Horae, **kwargs: Any) -> Any:
    run = app.runs.create("horae.http", kwargs=kwargs)
    return app.runs.wait(run.id, timeout=30)


def test_an_allow_listed_host_is_called_and_its_json_kept(app: Horae, server: Server) -> None:
    done = run_http(app, url=base(server) + "/ok", method="POST", json={"n": 1})
    assert done.state is RunState.SUCCEEDED, done.error
    assert done.result == {"status": 200, "body": {"hello": "world"}, "truncated": False,
                           "headers": {"content-type": "application/json",
                                       "content-length": "18"}}
    assert server.seen[0]["method"] == "POST" and json.loads(server.seen[0]["body"]) == {"n": 1}


def test_a_host_not_listed_is_refused_and_nothing_is_sent(app: Horae, server: Server) -> None:
    port = server.server_address[1]
    for url in (f"http://localhost:{port}/ok",          # a name not listed
                f"http://2130706433:{port}/ok",          # 127.0.0.1 as a number
                f"http://127.0.0.1@localhost:{port}/ok",  # user@host
                f"ftp://127.0.0.1:{port}/ok"):
        done = run_http(app, url=url)
        assert done.state is RunState.FAILED, url
        assert "refused, nothing was sent" in (done.error or ""), done.error
    assert server.seen == []


def test_a_listed_name_that_resolves_to_a_private_address_is_refused(
        database_url: str, server: Server) -> None:
    with Horae(database_url, http_allow_hosts=["localhost"]) as horae:
        horae.start(scheduler=False, concurrency=1)
        done = run_http(horae, url=f"http://localhost:{server.server_address[1]}/ok")
        assert done.state is RunState.FAILED
        assert "private or reserved address" in (done.error or ""), done.error
    assert server.seen == []


def test_a_secret_reaches_the_server_and_nowhere_else(app: Horae, server: Server) -> None:
    headers = {"Authorization": {"secret": "API_TOKEN", "prefix": "Bearer "}}
    done = run_http(app, url=base(server) + "/echo-auth", headers=headers)
    assert done.state is RunState.SUCCEEDED, done.error
    assert server.seen[0]["headers"]["Authorization"] == f"Bearer {SECRET_VALUE}"
    assert done.kwargs["headers"] == headers
    assert done.result["body"] == {"got": "Bearer [secret API_TOKEN]"}
    api = create_app(app)
    made = mint_token(api.state.api.store, "t", Role.parse("viewer"))
    assert made is not None
    client = TestClient(api, headers={"Authorization": f"Bearer {made[0]}"})
    seen = [client.get(f"/api/v1/runs/{done.id}").text,
            client.get(f"/api/v1/runs/{done.id}/logs").text,
            repr(app.runs.get(done.id)), repr(app.runs.logs(done.id))]
    assert '"status":200' in seen[0].replace(" ", "")
    assert all(SECRET_VALUE not in text for text in seen)


def test_a_secret_that_is_not_configured_fails_the_run(app: Horae, server: Server) -> None:
    for name in ("UNSET", "NEVER_NAMED"):
        done = run_http(app, url=base(server) + "/ok",
                        headers={"X-Key": {"secret": name}})
        assert done.state is RunState.FAILED
        assert f"secret '{name}' is not configured" in (done.error or "")
    assert server.seen == []


def test_expected_status_codes(app: Horae, server: Server) -> None:
    failed = run_http(app, url=base(server) + "/fail")
    assert failed.state is RunState.FAILED
    assert "unexpected status 503: maintenance window xxx" in (failed.error or "")
    assert len(failed.error or "") < 400  # the first bytes of the body, not all of it
    ok = run_http(app, url=base(server) + "/fail", expected_status=[503])
    assert ok.state is RunState.SUCCEEDED and ok.result["status"] == 503
    wrong = run_http(app, url=base(server) + "/ok", expected_status=[201])
    assert wrong.state is RunState.FAILED and "unexpected status 200" in (wrong.error or "")


def test_a_long_body_is_truncated(app: Horae, server: Server) -> None:
    done = run_http(app, url=base(server) + "/big", max_response_bytes=100)
    assert done.state is RunState.SUCCEEDED, done.error
    assert done.result["body"] == "a" * 100 and done.result["truncated"] is True


def test_redirects_stay_inside_the_allow_list(app: Horae, server: Server) -> None:
    inside = run_http(app, url=base(server) + "/redirect-in")
    assert inside.state is RunState.SUCCEEDED and inside.result["body"] == {"hello": "world"}
    outside = run_http(app, url=base(server) + "/redirect-out")
    assert outside.state is RunState.FAILED
    assert "host 'localhost' is not in http_allow_hosts" in (outside.error or "")
    assert [s["path"] for s in server.seen] == ["/redirect-in", "/ok", "/redirect-out"]


def test_a_request_timeout_fails_the_run(app: Horae, server: Server) -> None:
    started = time.monotonic()
    done = run_http(app, url=base(server) + "/slow", timeout=0.3)
    assert done.state is RunState.FAILED
    assert done.error == "TimeoutError: the request timed out after 0.3s"
    assert time.monotonic() - started < 2.5


def test_the_run_timeout_ends_the_run_as_timed_out(database_url: str, server: Server) -> None:
    with Horae(database_url, http_allow_hosts="127.0.0.1") as horae:
        horae.start(scheduler=False, concurrency=1)
        run = horae.runs.create("horae.http", kwargs={"url": base(server) + "/slow"},
                                timeout=0.5)
        done = horae.runs.wait(run.id, timeout=30)
        assert done.state is RunState.TIMED_OUT


def test_the_http_task_is_off_until_hosts_are_listed(database_url: str) -> None:
    with Horae(database_url) as horae:
        assert "horae.http" not in horae.registry
        with pytest.raises(InvalidInput, match="disabled until an admin allow-lists it "
                                               r"\(http_allow_hosts\)"):
            horae.runs.create("horae.http", kwargs={"url": "http://127.0.0.1/"})


# -- shell -----------------------------------------------------------------------------

PRINTER = [sys.executable, "-c",
           "import sys; print('to stdout', sys.argv[1:]); print('to stderr', file=sys.stderr)",
           "--full", "two words"]


@pytest.fixture
def shell_app(database_url: str) -> Iterator[Horae]:
    horae = Horae(database_url, shell_allow={
        "print": PRINTER, "fail": [sys.executable, "-c", "raise SystemExit(3)"],
        "hang": [sys.executable, "-c", "import time; time.sleep(60)"]})
    horae.start(scheduler=False, concurrency=2)
    yield horae
    horae.stop(grace=0.5)


def test_an_allow_listed_command_runs_with_its_argv(shell_app: Horae) -> None:
    run = shell_app.runs.create("horae.shell", kwargs={"command": "print"})
    done = shell_app.runs.wait(run.id, timeout=30)
    assert done.state is RunState.SUCCEEDED, done.error
    assert done.result == {"command": "print", "exit_code": 0}
    lines = {(x.level, x.message) for x in shell_app.runs.logs(run.id)}
    assert ("INFO", "to stdout ['--full', 'two words']") in lines
    assert ("ERROR", "to stderr") in lines


def test_a_non_zero_exit_fails_the_run(shell_app: Horae) -> None:
    run = shell_app.runs.create("horae.shell", kwargs={"command": "fail"})
    done = shell_app.runs.wait(run.id, timeout=30)
    assert done.state is RunState.FAILED
    assert "command 'fail' exited with code 3" in (done.error or "")


def test_a_timeout_kills_the_command(shell_app: Horae) -> None:
    run = shell_app.runs.create("horae.shell", kwargs={"command": "hang"}, timeout=0.5)
    done = shell_app.runs.wait(run.id, timeout=20)
    assert done.state is RunState.TIMED_OUT


def test_an_unknown_command_or_an_argv_is_refused(shell_app: Horae) -> None:
    with pytest.raises(InvalidInput):
        shell_app.runs.create("horae.shell", kwargs={"command": "rm"})
    with pytest.raises(InvalidInput):
        shell_app.runs.create("horae.shell", kwargs={"command": "print", "argv": ["rm"]})


def test_the_shell_task_is_off_by_default(database_url: str) -> None:
    with Horae(database_url) as horae:
        assert "horae.shell" not in horae.registry
        with pytest.raises(InvalidInput, match=r"allow-lists it \(shell_allow\)"):
            horae.runs.create("horae.shell", kwargs={"command": "print"})


def test_the_api_refuses_a_run_of_a_disabled_task_naming_the_setting(
        database_url: str) -> None:
    with Horae(database_url) as horae:
        api = create_app(horae)
        made = mint_token(api.state.api.store, "t", Role.parse("operator"))
        assert made is not None
        client = TestClient(api, headers={"Authorization": f"Bearer {made[0]}"})
        answer = client.post("/api/v1/runs", json={"task": "horae.shell",
                                                   "kwargs": {"command": "backup-db"}})
        assert answer.status_code == 422
        [error] = answer.json()["errors"]
        assert error["field"] == "task" and error["code"] == "task.disabled"
        assert error["params"]["setting"] == "shell_allow"
