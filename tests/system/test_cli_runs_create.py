"""``horae runs create TASK`` and ``horae schedules run ID``: one run now with your own
arguments, checked against the task's schema (a bad one is named, nothing is written),
audited, and optionally waited for (the exit code says whether it succeeded)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from horae import Horae
from horae.cli import cli
from horae.demo import make_app
from horae.models import WorkerInfo
from horae.store.api_store import ApiStore


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    """A database whose catalogue has the demo tasks (as a worker advertises them)."""
    url = f"sqlite:///{tmp_path}/h.db"
    app = make_app(url)
    app.store.worker_register(WorkerInfo("catalogue", "test", os.getpid(), ["default"], 1),
                              [t.info() for t in app.registry])
    app.stop()
    yield url


def horae(url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", url, *args])


def state(url: str) -> tuple[list[dict[str, object]], list[str]]:
    """Every run (as JSON) and every audited action."""
    app = Horae(url)
    runs = [r.to_dict() for r in app.runs.list(limit=100)]
    actions = [a.action for a in ApiStore(app.store).audit_list()]
    app.stop()
    return runs, actions


def test_create_queues_a_run_with_the_arguments_given_and_audits_it(url: str) -> None:
    done = horae(url, "runs", "create", "demo.hello", "--kwargs", '{"name": "ops"}')
    assert done.exit_code == 0, done.output
    run_id = int(done.stdout.strip())
    [run], actions = state(url)
    assert (run["id"], run["task"], run["kwargs"], run["state"], run["queue"]) == \
        (run_id, "demo.hello", {"name": "ops"}, "queued", "default")
    assert actions == ["run.create"]
    app = Horae(url)
    [record] = ApiStore(app.store).audit_list()
    assert record.target_id == str(run_id) and record.actor.startswith("cli:")
    assert record.after is not None and record.after["kwargs"] == {"name": "ops"}
    app.stop()


def test_create_takes_queue_and_priority_and_prints_json(url: str) -> None:
    done = horae(url, "runs", "create", "demo.scan", "--kwargs", '{"targets": ["a"]}',
                 "--queue", "seg-a", "--priority", "7", "--json")
    assert done.exit_code == 0, done.output
    run = json.loads(done.stdout)
    assert (run["queue"], run["priority"], run["kwargs"]) == ("seg-a", 7, {"targets": ["a"]})
    assert "no live worker serves queue 'seg-a'" in done.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["demo.hello", "--kwargs", "{bad"], "error: kwargs: not valid JSON"),
    (["demo.hello", "--kwargs", "[1]"], "error: kwargs: must be a JSON object"),
    (["demo.hello", "--kwargs", '{"name": 5}'], "error: kwargs.name: 5 is not of type"),
    (["demo.hello", "--kwargs", '{"colour": "red"}'], "error: kwargs"),
    (["demo.scan"], "error: kwargs"),  # targets is required
    (["demo.nope"], "error: task: unknown task 'demo.nope'"),
    (["demo.hello", "--priority", "5000"], "error: priority:"),
    (["demo.hello", "--queue", "no spaces"], "error: queue:"),
    (["demo.hello", "--timeout", "5"], "give --wait too"),
    (["demo.hello", "--wait", "--timeout", "soon"], "error: timeout:"),
])
def test_bad_input_is_named_exits_2_and_creates_nothing(url: str, args: list[str],
                                                        message: str) -> None:
    done = horae(url, "runs", "create", *args)
    assert done.exit_code == 2, done.output
    assert message in done.stderr
    assert "Traceback" not in done.output
    assert state(url) == ([], [])


@pytest.fixture
def worker(url: str) -> Iterator[Horae]:
    app = make_app(url)
    app.start(queues=["default"], concurrency=2)
    yield app
    app.stop(grace=5)


@pytest.mark.usefixtures("worker")
def test_wait_prints_the_outcome_and_exits_by_it(url: str) -> None:
    ok = horae(url, "runs", "create", "demo.hello", "--kwargs", '{"name": "ops"}', "--wait")
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.startswith("run ") and "succeeded" in ok.stdout and "hello, ops" in \
        ok.stdout.lower()
    failed = horae(url, "runs", "create", "demo.flaky", "--kwargs", '{"fail_rate": 1.0}',
                   "--wait", "--json")
    assert failed.exit_code == 1, failed.output
    run = json.loads(failed.stdout)
    assert run["state"] == "failed" and "flaky failure" in run["error"]


def test_wait_gives_up_after_its_timeout_and_the_run_goes_on(url: str) -> None:
    done = horae(url, "runs", "create", "demo.hello", "--queue", "nowhere", "--wait",
                 "--timeout", "0.3")
    assert done.exit_code == 1
    assert "is still queued after 0.3s" in done.stderr
    [run], _ = state(url)
    assert run["state"] == "queued"


def test_schedules_run_uses_other_arguments_for_one_run_only(url: str) -> None:
    assert horae(url, "schedules", "add", "hi", "--task", "demo.hello", "--every", "1h",
                 "--kwargs", '{"name": "sched"}').exit_code == 0
    done = horae(url, "schedules", "run", "hi", "--kwargs", '{"name": "other"}', "--json")
    assert done.exit_code == 0, done.output
    run = json.loads(done.stdout)
    assert (run["schedule_id"], run["origin"], run["kwargs"]) == \
        ("hi", "manual", {"name": "other"})
    plain = horae(url, "schedules", "run", "hi")
    assert plain.exit_code == 0, plain.output
    runs, actions = state(url)
    assert {r["id"]: r["kwargs"] for r in runs}[int(plain.stdout)] == {"name": "sched"}
    assert actions == ["schedule.trigger", "schedule.trigger", "schedule.create"]
    shown = json.loads(horae(url, "schedules", "show", "hi", "--json").stdout)
    assert (shown["kwargs"], shown["version"]) == ({"name": "sched"}, 1)

    bad = horae(url, "schedules", "run", "hi", "--kwargs", '{"name": 1}')
    assert bad.exit_code == 2 and "error: kwargs.name:" in bad.stderr
    assert len(state(url)[0]) == 2
