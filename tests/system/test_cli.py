"""The ``horae`` command line: round trips through --json, errors, exit codes, a real server.

Most tests drive the CLI in-process with click's CliRunner on a SQLite file; the CLI there
is "bare" (no -A), so it checks tasks against the catalogue a worker advertised. Tests that
need runs executed start an in-process worker of the demo app on the same file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from horae import Horae
from horae.cli import cli
from horae.cli import schedules as schedules_cli
from horae.cli.render import duration, relative
from horae.demo import make_app
from horae.models import WorkerInfo
from horae.store import NewRun
from tests.conftest import eventually

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/h.db"


class Horae_:
    """``horae --db URL ...`` through CliRunner."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, db: bool = True) -> Result:
        argv = (["--db", self.url] if db else []) + list(args)
        return self.runner.invoke(cli, argv, input=input, catch_exceptions=True)

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.exit_code == 0, (result.output, result.stderr, result.exception)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").stdout)

    def schedule_ids(self) -> list[str]:
        return [s["id"] for s in self.json("schedules", "list")]


@pytest.fixture
def horae(url: str) -> Horae_:
    return Horae_(url)


@pytest.fixture
def catalogue(url: str) -> None:
    """The demo tasks, advertised as a worker would, with no worker running."""
    app = make_app(url)
    app.store.worker_register(WorkerInfo("catalogue", "test", os.getpid(), ["default"], 1),
                              [t.info() for t in app.registry])
    app.stop()


@pytest.fixture
def worker(url: str) -> Iterator[Horae]:
    """A demo worker in this process, serving the default queue."""
    app = make_app(url)
    app.start(scheduler=False, queues=["default"], concurrency=4)
    yield app
    app.stop(grace=5)


# -- schedules: round trips ------------------------------------------------------------


@pytest.mark.usefixtures("catalogue")
def test_add_then_list_and_show_return_every_field(horae: Horae_) -> None:
    added = horae.json(
        "schedules", "add", "weekday-scan", "--task", "demo.scan",
        "--cron", "0 9 * * 1-5", "--tz", "Europe/Berlin",
        "--kwargs", '{"targets": ["a", "b"], "delay": 0.1}',
        "--queue", "seg-a", "--priority", "7", "--overlap", "queue_one", "--catchup", "all",
        "--catchup-window", "10m", "--misfire-grace", "30", "--jitter", "2.5",
        "--retries", "3", "--retry-backoff", "5s", "--timeout", "1h", "--max-fires", "9",
        "--expire-after", "90s",
        "--start-at", "2025-01-01T00:00:00Z", "--end-at", "2099-01-01T00:00:00Z",
        "--description", "scan on weekdays", "--tag", "ops", "--tag", "scan",
    )
    listed = horae.json("schedules", "list")
    assert [s["id"] for s in listed] == ["weekday-scan"]
    shown = horae.json("schedules", "show", "weekday-scan")
    for record in (added, listed[0], shown):
        assert record["task"] == "demo.scan"
        assert record["trigger"] == {"kind": "cron", "expr": "0 9 * * 1-5",
                                     "tz": "Europe/Berlin"}
        assert record["kwargs"] == {"targets": ["a", "b"], "delay": 0.1}
        assert record["args"] == []
        assert record["policies"] == {
            "queue": "seg-a", "priority": 7, "overlap": "queue_one", "catchup": "all",
            "catchup_window": 600.0, "misfire_grace": 30.0, "jitter": 2.5, "retries": 3,
            "retry_backoff": 5.0, "retry_backoff_max": 3600.0, "timeout": 3600.0,
            "max_fires": 9, "start_at": "2025-01-01T00:00:00.000Z",
            "end_at": "2099-01-01T00:00:00.000Z", "fanout": "one", "shards": 1,
            "expire_after": 90.0,
        }
        assert record["paused"] is False
        assert record["description"] == "scan on weekdays"
        assert record["tags"] == ["ops", "scan"]
        assert record["version"] == 1
        for counter in ("fires", "missed", "skipped", "successes", "failures"):
            assert record[counter] == 0
        assert record["last_state"] is None
        assert record["next_fire_at"].endswith("Z")
        assert "Europe/Berlin" in record["trigger_description"]
    assert shown["zone"] == "Europe/Berlin"
    assert len(shown["next_fires"]) == 5
    assert shown["next_fires"][0]["utc"] == shown["next_fire_at"]
    for fire in shown["next_fires"]:
        assert fire["local"][11:19] == "09:00:00"
        assert fire["local"][-6:] in ("+01:00", "+02:00")


@pytest.mark.usefixtures("catalogue")
def test_show_for_people_has_description_fires_in_both_zones_and_counters(
        horae: Horae_) -> None:
    horae.ok("schedules", "add", "tokyo", "--task", "demo.hello", "--cron", "30 8 * * *",
             "--tz", "Asia/Tokyo")
    out = horae.ok("schedules", "show", "tokyo").stdout
    assert "Asia/Tokyo" in out
    # the next fire beside its UTC time, and the five next fires, in the schedule's zone
    assert out.count("T08:30:00+09:00") == 6
    assert out.count("T23:30:00.000Z") >= 5  # ... and in UTC
    assert "0 succeeded, 0 failed" in out
    assert "\x1b[" not in out  # not a terminal: no colour codes


@pytest.mark.usefixtures("catalogue")
def test_edit_changes_only_the_given_options(horae: Horae_) -> None:
    horae.ok("schedules", "add", "s1", "--task", "demo.hello", "--cron", "0 2 * * *",
             "--tz", "Europe/Berlin", "--kwargs", '{"name": "a"}', "--priority", "3",
             "--timeout", "60", "--tag", "x")
    before = horae.json("schedules", "show", "s1")

    after = horae.json("schedules", "edit", "s1", "--priority", "9")
    assert after["policies"]["priority"] == 9
    assert after["version"] == before["version"] + 1
    for key in ("task", "trigger", "kwargs", "tags", "description", "paused"):
        assert after[key] == before[key]
    assert {k: v for k, v in after["policies"].items() if k != "priority"} == \
        {k: v for k, v in before["policies"].items() if k != "priority"}

    moved = horae.json("schedules", "edit", "s1", "--tz", "Asia/Tokyo")
    assert moved["trigger"] == {"kind": "cron", "expr": "0 2 * * *", "tz": "Asia/Tokyo"}

    recron = horae.json("schedules", "edit", "s1", "--cron", "15 3 * * *")
    assert recron["trigger"] == {"kind": "cron", "expr": "15 3 * * *", "tz": "Asia/Tokyo"}

    every = horae.json("schedules", "edit", "s1", "--every", "5m", "--kwargs", '{"name": "b"}',
                       "--timeout", "none", "--tag", "y", "--tag", "z")
    assert every["trigger"]["kind"] == "interval"
    assert every["trigger"]["seconds"] == 300.0
    assert every["kwargs"] == {"name": "b"}
    assert every["policies"]["timeout"] is None
    assert every["tags"] == ["y", "z"]
    assert every["policies"]["priority"] == 9

    nothing = horae("schedules", "edit", "s1")
    assert nothing.exit_code == 2
    assert "nothing to change" in nothing.stderr


@pytest.mark.usefixtures("catalogue")
def test_bad_edit_changes_nothing(horae: Horae_) -> None:
    horae.ok("schedules", "add", "s1", "--task", "demo.hello", "--every", "1h")
    before = horae.json("schedules", "show", "s1")
    for args, field in ((["--cron", "0 0 30 2 *"], "cron"),
                        (["--kwargs", '{"name": 5}'], "kwargs.name"),
                        (["--priority", "1", "--end-at", "2000-01-01T00:00Z"], "end_at"),
                        (["--tz", "Europe/Berlin"], "tz")):
        result = horae("schedules", "edit", "s1", *args)
        assert result.exit_code == 2, result.output
        assert f"error: {field}" in result.stderr or f"error: {args[0][2:]}" in result.stderr
    assert horae.json("schedules", "show", "s1") == before | {"next_fires": before["next_fires"]}


@pytest.mark.usefixtures("catalogue")
def test_pause_resume_and_filters(horae: Horae_) -> None:
    horae.ok("schedules", "add", "a", "--task", "demo.hello", "--every", "1h")
    horae.ok("schedules", "add", "b", "--task", "demo.hello", "--every", "1h", "--paused",
             "--description", "the b one")
    assert [s["id"] for s in horae.json("schedules", "list", "--paused")] == ["b"]
    assert [s["id"] for s in horae.json("schedules", "list", "--active")] == ["a"]
    assert [s["id"] for s in horae.json("schedules", "list", "--search", "b one")] == ["b"]
    assert [s["id"] for s in horae.json("schedules", "list", "--limit", "1")] == ["a"]

    assert "paused schedule 'a'" in horae.ok("schedules", "pause", "a").stdout
    assert horae.json("schedules", "show", "a")["paused"] is True
    assert "resumed schedule 'a'" in horae.ok("schedules", "resume", "a").stdout
    assert horae.json("schedules", "show", "a")["paused"] is False
    assert horae.json("schedules", "list", "--paused") == horae.json(
        "schedules", "list", "--search", "b one")


@pytest.mark.usefixtures("catalogue")
def test_trigger_prints_the_new_run_id(horae: Horae_) -> None:
    horae.ok("schedules", "add", "t", "--task", "demo.hello", "--every", "1h",
             "--kwargs", '{"name": "now"}', "--queue", "nowhere")
    run_id = int(horae.ok("schedules", "trigger", "t").stdout.strip())
    run = horae.json("runs", "show", str(run_id))
    assert run["id"] == run_id
    assert run["schedule_id"] == "t"
    assert run["origin"] == "manual"
    assert run["state"] == "queued"
    assert run["queue"] == "nowhere"
    assert run["kwargs"] == {"name": "now"}


@pytest.mark.usefixtures("catalogue")
def test_rm_removes_and_asks_a_person_first(horae: Horae_,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    horae.ok("schedules", "add", "a", "--task", "demo.hello", "--every", "1h")
    horae.ok("schedules", "add", "b", "--task", "demo.hello", "--every", "1h")
    monkeypatch.setattr(schedules_cli, "stdin_is_tty", lambda: True)
    declined = horae("schedules", "rm", "a", input="n\n")
    assert declined.exit_code == 1
    assert "Remove schedule 'a'?" in declined.stdout
    assert horae.schedule_ids() == ["a", "b"]
    accepted = horae("schedules", "rm", "a", input="y\n")
    assert accepted.exit_code == 0
    assert horae.schedule_ids() == ["b"]
    horae.ok("schedules", "rm", "b", "--yes")
    assert horae.schedule_ids() == []


def test_rm_does_not_ask_without_a_terminal(horae: Horae_, catalogue: None) -> None:
    horae.ok("schedules", "add", "a", "--task", "demo.hello", "--every", "1h")
    assert "removed schedule 'a'" in horae.ok("schedules", "rm", "a").stdout
    assert horae.schedule_ids() == []


def test_duplicate_id_is_a_conflict(horae: Horae_, catalogue: None) -> None:
    horae.ok("schedules", "add", "a", "--task", "demo.hello", "--every", "1h")
    again = horae("schedules", "add", "a", "--task", "demo.hello", "--every", "2h")
    assert again.exit_code == 1
    assert "already exists" in again.stderr
    assert horae.json("schedules", "show", "a")["trigger"]["seconds"] == 3600.0


def test_app_option_validates_against_the_apps_own_tasks(horae: Horae_) -> None:
    # No worker advertised anything: only -A knows demo.hello.
    bare = horae("schedules", "add", "a", "--task", "demo.hello", "--every", "1h")
    assert bare.exit_code == 2
    assert "error: task: unknown task 'demo.hello'" in bare.stderr
    horae.ok("-A", "horae.demo:app", "schedules", "add", "a", "--task", "demo.hello",
             "--every", "1h")
    assert horae.schedule_ids() == ["a"]
    tasks = horae.json("-A", "horae.demo:app", "tasks", "list")
    assert {t["name"]: (t["local"], t["advertised"]) for t in tasks} == {
        "demo.flaky": (True, False), "demo.hello": (True, False), "demo.scan": (True, False)}


# -- schedules: bad input --------------------------------------------------------------

HELLO = ["--task", "demo.hello"]
BAD_ADDS = [
    pytest.param([*HELLO, "--cron", "61 * * * *"], "cron", "61", id="malformed-cron"),
    pytest.param([*HELLO, "--cron", "0 0 30 2 *"], "cron", "never", id="impossible-cron"),
    pytest.param([*HELLO, "--cron", "0 2 * * *", "--tz", "Mars/Olympus"], "tz",
                 "Mars/Olympus", id="unknown-zone"),
    pytest.param(["--task", "nope.nothing", "--every", "1m"], "task", "nope.nothing",
                 id="unknown-task"),
    pytest.param([*HELLO, "--every", "1m", "--kwargs", '{"name": 5}'], "kwargs.name",
                 "string", id="kwargs-wrong-type"),
    pytest.param([*HELLO, "--every", "1m", "--kwargs", '{"nmae": "x"}'], "kwargs", "nmae",
                 id="kwargs-unknown-name"),
    pytest.param(["--task", "demo.scan", "--every", "1m"], "kwargs", "targets",
                 id="kwargs-missing-required"),
    pytest.param([*HELLO, "--every", "1m", "--kwargs", "{name: x}"], "kwargs",
                 "not valid JSON", id="kwargs-not-json"),
    pytest.param([*HELLO, "--every", "1m", "--kwargs", "[1]"], "kwargs", "object",
                 id="kwargs-not-object"),
    pytest.param([*HELLO, "--every", "1m", "--args", "{}"], "args", "array",
                 id="args-not-array"),
    pytest.param([*HELLO, "--every", "0s"], "every", "zero", id="every-zero"),
    pytest.param([*HELLO, "--every", "soon"], "every", "soon", id="every-unreadable"),
    pytest.param([*HELLO, "--every", "1m", "--start-at", "2031-01-01T00:00Z",
                  "--end-at", "2030-01-01T00:00Z"], "end_at", "after start_at",
                 id="end-before-start"),
    pytest.param([*HELLO, "--at", "2001-01-01T00:00:00Z"], "at", "never fires",
                 id="at-in-the-past"),
    pytest.param([*HELLO, "--at", "2099-01-01T00:00:00"], "at", "--tz", id="at-naive"),
    pytest.param([*HELLO, "--every", "1m", "--tz", "UTC"], "tz", "no zone",
                 id="tz-with-every"),
    pytest.param([*HELLO, "--every", "1m", "--misfire-grace", "-1"], "misfire_grace", "0",
                 id="negative-grace"),
    pytest.param([*HELLO, "--every", "1m", "--queue", "bad queue!"], "queue", "pattern",
                 id="bad-queue"),
    pytest.param([*HELLO, "--every", "1m", "--start-at", "tomorrow"], "start_at", "ISO",
                 id="start-not-iso"),
]


@pytest.mark.usefixtures("catalogue")
@pytest.mark.parametrize(("args", "field", "detail"), BAD_ADDS)
def test_bad_input_names_the_field_and_writes_nothing(
        horae: Horae_, args: list[str], field: str, detail: str) -> None:
    result = horae("schedules", "add", "bad", *args)
    assert result.exit_code == 2, (result.output, result.stderr)
    line = result.stderr.strip()
    assert line.startswith(f"error: {field}: "), line
    assert detail in line
    assert "\n" not in line and "Traceback" not in result.output + result.stderr
    assert horae.schedule_ids() == []


@pytest.mark.usefixtures("catalogue")
@pytest.mark.parametrize("args", [
    pytest.param(["--cron", "* * * * *", "--every", "1m"], id="cron-and-every"),
    pytest.param(["--every", "1m", "--at", "2099-01-01T00:00Z"], id="every-and-at"),
    pytest.param([], id="none"),
])
def test_trigger_options_are_exactly_one(horae: Horae_, args: list[str]) -> None:
    result = horae("schedules", "add", "bad", *HELLO, *args)
    assert result.exit_code == 2
    assert "--cron" in result.stderr and "--every" in result.stderr
    if args:
        assert f"{args[0]} and {args[2]}" in result.stderr
    assert horae.schedule_ids() == []


@pytest.mark.usefixtures("catalogue")
def test_bad_id_is_refused(horae: Horae_) -> None:
    result = horae("schedules", "add", "no spaces!", *HELLO, "--every", "1m")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: id: ")
    assert horae.schedule_ids() == []


@pytest.mark.parametrize("args", [
    ["schedules", "show", "ghost"], ["schedules", "pause", "ghost"],
    ["schedules", "resume", "ghost"], ["schedules", "rm", "ghost", "--yes"],
    ["schedules", "trigger", "ghost"], ["schedules", "edit", "ghost", "--priority", "1"],
])
def test_unknown_schedule(horae: Horae_, args: list[str]) -> None:
    result = horae(*args)
    assert result.exit_code == 1
    assert result.stderr == "error: schedule 'ghost' not found\n"


@pytest.mark.parametrize("args", [
    ["runs", "show", "4242"], ["runs", "logs", "4242"], ["runs", "cancel", "4242"],
    ["runs", "retry", "4242"], ["runs", "wait", "4242"],
])
def test_unknown_run(horae: Horae_, args: list[str]) -> None:
    result = horae(*args)
    assert result.exit_code == 1
    assert result.stderr == "error: run 4242 not found\n"


# -- runs ----------------------------------------------------------------------------


def _iso_or_none(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.endswith("Z") and "T" in value)


@pytest.mark.usefixtures("worker")
def test_run_show_logs_list_and_retry(horae: Horae_) -> None:
    horae.ok("schedules", "add", "hi", "--task", "demo.hello", "--every", "1h",
             "--kwargs", '{"name": "cli"}')
    run_id = horae.ok("schedules", "trigger", "hi").stdout.strip()
    waited = horae("runs", "wait", run_id, "--timeout", "20")
    assert waited.exit_code == 0, waited.output
    assert f"run {run_id} succeeded" in waited.stdout

    run = horae.json("runs", "show", run_id)
    required = {"id", "schedule_id", "task", "state", "fire_time", "attempt", "queue",
                "created_at", "started_at", "finished_at", "duration", "result", "error",
                "progress", "progress_message", "worker_id"}
    assert required <= set(run)
    assert run["state"] == "succeeded"
    assert run["result"] == "hello, cli!"
    assert run["schedule_id"] == "hi" and run["task"] == "demo.hello"
    assert run["attempt"] == 1 and run["error"] is None and run["worker_id"]
    for key in ("fire_time", "created_at", "started_at", "finished_at"):
        assert _iso_or_none(run[key]), (key, run[key])
    assert run["started_at"] and run["finished_at"]
    assert isinstance(run["duration"], float) and run["duration"] >= 0

    assert "hello, cli!" in horae.ok("runs", "logs", run_id).stdout

    assert [r["id"] for r in horae.json("runs", "list", "--schedule", "hi")] == [int(run_id)]
    assert [r["id"] for r in horae.json("runs", "list", "--state", "succeeded")] == \
        [int(run_id)]
    assert horae.json("runs", "list", "--state", "failed") == []
    assert horae.json("runs", "list", "--task", "demo.scan") == []
    assert horae.json("runs", "list", "--queue", "default")[0]["id"] == int(run_id)

    table = horae.ok("runs", "list").stdout
    assert "succeeded" in table and "hello, cli!" in table and "\x1b[" not in table
    coloured = horae.ok("--color", "always", "runs", "list").stdout
    assert "\x1b[32msucceeded" in coloured

    again = horae.ok("runs", "retry", run_id).stdout.strip()
    assert again != run_id
    assert horae("runs", "wait", again, "--timeout", "20").exit_code == 0
    retried = horae.json("runs", "show", again)
    assert retried["retry_of"] == int(run_id) and retried["state"] == "succeeded"
    # Both runs were started by hand ("schedules trigger", "runs retry"), not fired: they
    # set the last state but count in neither successes nor failures, which count fires.
    shown = horae.json("schedules", "show", "hi")
    assert (shown["fires"], shown["successes"], shown["failures"], shown["last_state"]) == (
        0, 0, 0, "succeeded")


@pytest.mark.usefixtures("worker")
def test_wait_exits_1_when_the_run_fails(horae: Horae_) -> None:
    horae.ok("schedules", "add", "boom", "--task", "demo.flaky", "--every", "1h",
             "--kwargs", '{"fail_rate": 1.0}', "--retries", "0")
    run_id = horae.ok("schedules", "trigger", "boom").stdout.strip()
    waited = horae("runs", "wait", run_id, "--timeout", "20")
    assert waited.exit_code == 1
    assert f"run {run_id} failed" in waited.stdout
    assert "RuntimeError: flaky failure" in waited.stdout
    shown = horae.json("runs", "show", run_id)
    assert shown["state"] == "failed" and "RuntimeError" in shown["error"]
    assert "flaky failure" in horae.ok("runs", "list").stdout


@pytest.mark.usefixtures("worker")
def test_logs_follow_prints_until_the_run_ends(horae: Horae_) -> None:
    horae.ok("schedules", "add", "scan", "--task", "demo.scan", "--every", "1h",
             "--kwargs", '{"targets": ["h1", "h2", "h3", "h4"], "delay": 0.1}')
    run_id = horae.ok("schedules", "trigger", "scan").stdout.strip()
    followed = horae.ok("runs", "logs", run_id, "--follow")
    for host in ("h1", "h2", "h3", "h4"):
        assert f"scanned {host}" in followed.stdout
    assert horae.json("runs", "show", run_id)["state"] == "succeeded"
    assert "succeeded" in followed.stderr


@pytest.mark.usefixtures("worker")
def test_running_run_shows_progress_and_can_be_cancelled(horae: Horae_) -> None:
    targets = json.dumps({"targets": [f"h{i}" for i in range(200)], "delay": 0.05})
    horae.ok("schedules", "add", "long", "--task", "demo.scan", "--every", "1h",
             "--kwargs", targets)
    run_id = horae.ok("schedules", "trigger", "long").stdout.strip()
    eventually(lambda: (horae.json("runs", "show", run_id)["progress"] or 0) > 0)
    row = next(line for line in horae.ok("runs", "list").stdout.splitlines()
               if line.startswith(f"{run_id} "))
    assert "running" in row and "%" in row and "scanned" in row
    assert "asked run" in horae.ok("runs", "cancel", run_id).stdout
    assert horae("runs", "wait", run_id, "--timeout", "20").exit_code == 1
    assert horae.json("runs", "show", run_id)["state"] == "cancelled"


@pytest.mark.usefixtures("catalogue")
def test_cancel_a_queued_run_then_it_is_finished(horae: Horae_) -> None:
    horae.ok("schedules", "add", "q", *HELLO, "--every", "1h", "--queue", "nowhere")
    run_id = horae.ok("schedules", "trigger", "q").stdout.strip()
    timed_out = horae("runs", "wait", run_id, "--timeout", "0.2")
    assert timed_out.exit_code == 1
    assert f"run {run_id} is still queued" in timed_out.stderr
    assert f"cancelled run {run_id}" in horae.ok("runs", "cancel", run_id).stdout
    assert horae.json("runs", "show", run_id)["state"] == "cancelled"
    again = horae("runs", "cancel", run_id)
    assert again.exit_code == 1
    assert "already finished" in again.stderr
    not_done = horae.ok("schedules", "trigger", "q").stdout.strip()
    conflict = horae("runs", "retry", not_done)
    assert conflict.exit_code == 1 and "has not finished" in conflict.stderr


def test_runs_list_parent_shows_only_that_parents_children(horae: Horae_, url: str) -> None:
    app = Horae(url)
    [parent] = app.store.runs_add([NewRun("demo.hello", fanout="shard", shard_total=3)])
    [lone] = app.store.runs_add([NewRun("demo.hello")])
    assert app.store.runs_expand() == 3
    app.stop()
    children = horae.json("runs", "list", "--parent", str(parent.id))
    assert len(children) == 3
    assert {r["parent_id"] for r in children} == {parent.id}
    assert sorted(r["shard_index"] for r in children) == [0, 1, 2]
    assert horae.json("runs", "list", "--parent", str(lone.id)) == []
    assert len(horae.json("runs", "list", "--parent", str(parent.id), "--limit", "2")) == 2
    bad = horae("runs", "list", "--parent", "zero")
    assert bad.exit_code == 2 and "--parent" in bad.stderr


# -- global options, other commands, errors --------------------------------------------


def test_db_upgrade_says_how_many(horae: Horae_) -> None:
    first = horae.ok("db", "upgrade").stdout
    from horae.store.connection import open_database

    count = len([f for f in __import__("importlib.resources").resources.files(
        "horae.store.migrations").joinpath("sqlite").iterdir() if f.name.endswith(".sql")])
    assert open_database  # the count comes from the shipped migration files
    assert first.startswith(f"applied {count} migration")
    assert "up to date" in horae.ok("db", "upgrade").stdout


@pytest.mark.usefixtures("catalogue")
def test_tasks_list_shows_the_advertised_catalogue(horae: Horae_) -> None:
    tasks = {t["name"]: t for t in horae.json("tasks", "list")}
    assert set(tasks) == {"demo.flaky", "demo.hello", "demo.scan"}
    assert tasks["demo.hello"]["advertised"] and not tasks["demo.hello"]["local"]
    assert tasks["demo.flaky"]["retries"] == 2
    assert tasks["demo.scan"]["schema"]["required"] == ["targets"]
    assert "name: string = world" in horae.ok("tasks", "list").stdout


@pytest.mark.parametrize(("spec", "detail"), [
    ("no_such_module_xyz:app", "cannot import module 'no_such_module_xyz'"),
    ("horae.demo:nothing", "has no attribute 'nothing'"),
    ("horae.demo:make_app", "not a Horae instance"),
])
def test_bad_app_option(horae: Horae_, spec: str, detail: str) -> None:
    result = horae("-A", spec, "schedules", "list")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: app: ") and detail in result.stderr


def test_worker_without_tasks_refuses(horae: Horae_) -> None:
    result = horae("worker")
    assert result.exit_code == 2
    assert "error: app: a worker needs tasks" in result.stderr


def test_unreachable_database_is_one_line(horae: Horae_, tmp_path: Path) -> None:
    result = horae("--db", f"sqlite:///{tmp_path}/missing/dir/h.db", "schedules", "list",
                   db=False)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot use the database ")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    bad_scheme = horae("--db", "mysql://x/y", "schedules", "list", db=False)
    assert bad_scheme.exit_code == 2 and "error: database_url:" in bad_scheme.stderr


def test_unexpected_errors_are_one_line_unless_debug(horae: Horae_,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from horae.schedules import ScheduleManager

    def explode(self: Any, **filters: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(ScheduleManager, "list", explode)
    result = horae("schedules", "list")
    assert result.exit_code == 1
    assert result.stderr == ("error: unexpected RuntimeError: boom (run with --debug to see "
                             "where; please report it)\n")
    debug = horae("--debug", "schedules", "list")
    assert isinstance(debug.exception, RuntimeError)


def test_words_for_durations_and_instants() -> None:
    assert duration(0.34) == "340ms"
    assert duration(1.23) == "1.2s"
    assert duration(125) == "2m05s"
    assert duration(3720) == "1h02m"
    assert duration(None) == ""
    assert relative(103.0, 100.0) == "in 3s"
    assert relative(-20.0, 100.0) == "2m ago"
    assert relative(100.4, 100.0) == "now"
    assert relative(100.0 + 3 * 86400, 100.0) == "in 3d"


# -- a real server process -------------------------------------------------------------


@pytest.mark.system
def test_demo_server_runs_demo_schedules_and_drains_on_sigterm(tmp_path: Path,
                                                                url: str) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env.pop("HORAE_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "horae.cli", "--db", url, "server", "--demo", "--grace", "10"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    client = Horae(url)
    try:
        def demo_ready() -> bool:
            try:
                ids = {s.id for s in client.schedules.list()}
                return {"demo-hello", "demo-scan"} <= ids and bool(client.store.workers_list())
            except Exception:  # the server may still be creating the tables
                return False

        eventually(demo_ready, timeout=30)
        client.schedules.trigger_now("demo-hello")  # rather than wait 10 s for its interval
        done = eventually(lambda: next((r for r in client.runs.list(schedule_id="demo-hello")
                                        if r.state.value == "succeeded"), None), timeout=30)
        assert done.result == "hello, Horae!"
        # SIGUSR1 prints every thread's stack to stderr and the server goes on.
        proc.send_signal(signal.SIGUSR1)
        assert proc.stderr is not None
        dump = b""
        while b"horae-scheduler" not in dump and b"scheduler.py" not in dump:
            line = proc.stderr.readline()
            assert line, "no stack dump on SIGUSR1"
            dump += line
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGUSR1)  # every thread's stack, to say what it waited on
            try:
                out, err = proc.communicate(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
            raise AssertionError("the server did not stop within 30 s of SIGTERM; its"
                                 f" stderr, with every thread's stack:\n"
                                 f"{err.decode(errors='replace')[-12000:]}") from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err.decode()
    assert b"demo.hello" in out and b"sqlite:///" in out
    assert b"Traceback" not in err
    assert all(w.state == "gone" for w in client.store.workers_list())
    assert not client.runs.list(states=["running"])
    client.stop()


def test_workers_list_shows_queues_labels_and_state(tmp_path) -> None:
    from click.testing import CliRunner

    from horae import Horae
    from horae.cli import cli
    from horae.models import WorkerInfo

    url = f"sqlite:///{tmp_path}/w.db"
    app = Horae(url)
    app.store.worker_register(WorkerInfo("w1", "host-a", 42, ["seg-a"], 4,
                                         {"segment": "dmz"}))
    app.store.worker_register(WorkerInfo("w2", "host-b", 43, ["seg-b"], 2))
    app.store.worker_set_state("w2", "gone")
    runner = CliRunner()
    listed = runner.invoke(cli, ["--db", url, "workers", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    import json

    rows = json.loads(listed.output)
    assert [(w["id"], w["queues"], w["labels"], w["state"]) for w in rows] == [
        ("w1", ["seg-a"], {"segment": "dmz"}, "active")]
    everyone = json.loads(runner.invoke(cli, ["--db", url, "workers", "list", "--all",
                                              "--json"]).output)
    assert {w["id"]: w["state"] for w in everyone} == {"w1": "active", "w2": "gone"}
    bad = runner.invoke(cli, ["--db", url, "-A", "horae.demo:app", "worker", "--label", "oops"])
    assert bad.exit_code == 2 and "label" in bad.output
    app.stop()
