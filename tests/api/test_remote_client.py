"""``RemoteHorae`` and the CLI's ``--url``/``--token`` against a real ``horae server``.

One server (``horae -A tests.api.apps:app server``: scheduler, worker and API) serves the
whole module; each test uses its own schedule ids.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from horae.cli import cli
from horae.client import RemoteError, RemoteHorae
from horae.errors import Conflict, InvalidInput, NotFound
from horae.models import LogLine, Run, RunState, Schedule
from horae.triggers import cron, interval
from tests.api.conftest import LiveServer
from tests.conftest import eventually

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("remote")
    live = LiveServer(f"sqlite:///{tmp}/remote.db", tmp / "server.log")
    yield live
    assert live.stop() == 0, live.log.read_text()[-3000:]


@pytest.fixture
def remote(server: LiveServer) -> Iterator[RemoteHorae]:
    with RemoteHorae(server.url, server.token, timeout=10) as client:
        yield client


# -- schedules ----------------------------------------------------------------------------


def test_schedule_lifecycle_returns_the_models_of_the_python_api(remote: RemoteHorae) -> None:
    before = time.time()
    s = remote.schedules.add("life", "scan", cron("0 2 * * *", tz="Europe/Berlin"),
                             kwargs={"targets": ["a", "b"]}, tags=["t1"], retries=2,
                             overlap="queue_one", description="first")
    assert isinstance(s, Schedule)
    assert (s.id, s.task, s.version, s.paused) == ("life", "scan", 1, False)
    assert s.trigger == {"kind": "cron", "expr": "0 2 * * *", "tz": "Europe/Berlin"}
    assert s.policies.retries == 2 and s.policies.overlap.value == "queue_one"
    assert isinstance(s.created_at, float) and before - 5 < s.created_at < time.time() + 5
    assert isinstance(s.next_fire_at, float) and s.next_fire_at > s.created_at

    assert remote.schedules.get("life").to_dict() == s.to_dict()
    assert "life" in [x.id for x in remote.schedules.list(task="scan")]
    assert remote.schedules.list(search="no-such-text") == []
    assert [x.id for x in remote.schedules.list(tag="t1", queue="default",
                                                failing=False)] == ["life"]
    assert remote.schedules.list(tag="t2") == remote.schedules.list(failing=True) == []
    assert "life" in [x.id for x in remote.schedules.list(order="next_fire", limit=5)]

    changed = remote.schedules.update("life", expected_version=1, description="second",
                                      trigger=interval(seconds=3600))
    assert (changed.version, changed.description) == (2, "second")
    assert changed.trigger["kind"] == "interval" and changed.trigger["seconds"] == 3600

    paused = remote.schedules.pause("life")
    assert paused.paused and paused.version == 3
    resumed = remote.schedules.resume("life")
    assert not resumed.paused

    fires = remote.schedules.preview("life", 3)
    assert len(fires) == 3 and all(f.tzinfo is not None for f in fires)
    assert [f.astimezone(UTC) for f in fires] == sorted(fires)
    assert fires[1].timestamp() - fires[0].timestamp() == pytest.approx(3600)

    run = remote.schedules.trigger_now("life")
    assert isinstance(run, Run) and run.schedule_id == "life" and run.origin == "manual"
    assert run.kwargs == {"targets": ["a", "b"]}

    remote.schedules.remove("life")
    with pytest.raises(NotFound) as missing:
        remote.schedules.get("life")
    assert (missing.value.kind, missing.value.key) == ("schedule", "life")


def test_stale_expected_version_is_a_conflict_and_changes_nothing(remote: RemoteHorae) -> None:
    remote.schedules.add("stale", "scan", {"kind": "interval", "seconds": 60},
                         kwargs={"targets": []})
    remote.schedules.update("stale", expected_version=1, description="mine")
    with pytest.raises(Conflict, match="version 2"):
        remote.schedules.update("stale", expected_version=1, description="theirs")
    assert remote.schedules.get("stale").description == "mine"
    with pytest.raises(Conflict):  # the id is taken
        remote.schedules.add("stale", "scan", interval(seconds=60), kwargs={"targets": []})


@pytest.mark.parametrize(("call", "field"), [
    (lambda r: r.schedules.add("bad1", "scan", {"kind": "cron", "expr": "0 2 30 2 *"},
                               kwargs={"targets": []}), "trigger.expr"),
    (lambda r: r.schedules.add("bad2", "scan", cron("* * * * *"), kwargs={"targets": []},
                               retries=-1), "retries"),
    (lambda r: r.schedules.add("bad3", "scan", cron("* * * * *"),
                               kwargs={"targets": "not a list"}), "kwargs.targets"),
    (lambda r: r.schedules.add("bad4", "no.such.task", cron("* * * * *")), "task"),
    (lambda r: r.schedules.add("bad5", "scan", cron("* * * * *"), kwargs={"targets": []},
                               colour="red"), "colour"),
    (lambda r: r.runs.create("scan", kwargs={"targets": []}, delay=-1), "delay"),
    (lambda r: r.runs.list(state="sleeping"), "state"),
])
def test_bad_input_raises_invalid_input_with_the_python_field(
        remote: RemoteHorae, call: object, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        call(remote)  # type: ignore[operator]
    assert caught.value.field == field, caught.value
    assert caught.value.reason
    assert not [s for s in remote.schedules.list() if s.id.startswith("bad")]


def test_unknown_ids_raise_not_found(remote: RemoteHorae) -> None:
    for call in (lambda: remote.schedules.pause("nope"), lambda: remote.schedules.remove("nope"),
                 lambda: remote.schedules.preview("nope"), lambda: remote.runs.get(987654),
                 lambda: remote.runs.cancel(987654), lambda: remote.runs.logs(987654)):
        with pytest.raises(NotFound):
            call()
    with pytest.raises(NotFound) as run_missing:
        remote.runs.retry(987654)
    assert (run_missing.value.kind, run_missing.value.key) == ("run", 987654)


# -- runs ---------------------------------------------------------------------------------


def test_create_wait_retry_and_cancel_a_finished_run(remote: RemoteHorae) -> None:
    run = remote.runs.create("scan", kwargs={"targets": ["x", "y"], "port": 22}, priority=5)
    assert run.state in (RunState.QUEUED, RunState.RUNNING) and run.priority == 5
    done = remote.runs.wait(run.id, timeout=30)
    assert done.state is RunState.SUCCEEDED, done
    assert done.result == {"targets": 2, "port": 22}
    assert isinstance(done.finished_at, float) and done.duration is not None
    with pytest.raises(Conflict):
        remote.runs.cancel(run.id)
    again = remote.runs.retry(run.id)
    assert again.retry_of == run.id and again.id != run.id
    assert remote.runs.wait(again.id, timeout=30).state is RunState.SUCCEEDED
    listed = remote.runs.list(task="scan", states=["succeeded"], limit=1000)
    assert {run.id, again.id} <= {r.id for r in listed}
    assert [r.id for r in listed] == sorted((r.id for r in listed), reverse=True)
    assert len(remote.runs.list(task="scan", limit=1)) == 1


def test_logs_and_cancel_of_a_running_run(remote: RemoteHorae, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    run = remote.runs.create("gated", kwargs={"gate": str(gate)})
    eventually(lambda: remote.runs.get(run.id).state is RunState.RUNNING, timeout=30)
    lines = eventually(lambda: remote.runs.logs(run.id), timeout=30)
    assert all(isinstance(line, LogLine) and isinstance(line.ts, float) for line in lines)
    assert any(line.message.endswith("started") for line in lines), lines
    assert remote.runs.logs(run.id, after_id=lines[-1].id) == []
    asked = remote.runs.cancel(run.id)
    assert asked.cancel_requested or asked.state is RunState.CANCELLED
    final = remote.runs.wait(run.id, timeout=30)
    assert final.state is RunState.CANCELLED, final


def test_wait_times_out_on_a_run_that_does_not_end(remote: RemoteHorae,
                                                   tmp_path: Path) -> None:
    run = remote.runs.create("gated", kwargs={"gate": str(tmp_path / "never")}, delay=3600)
    with pytest.raises(TimeoutError, match=str(run.id)):
        remote.runs.wait(run.id, timeout=0.2)
    assert remote.runs.cancel(run.id).state is RunState.CANCELLED


# -- catalogue, workers, auth -------------------------------------------------------------


def test_tasks_and_workers(remote: RemoteHorae) -> None:
    names = [t.name for t in remote.tasks_list()]
    assert {"scan", "gated"} <= set(names)
    info = remote.task_info("scan")
    assert info.schema["properties"]["port"]["default"] == 80
    with pytest.raises(InvalidInput) as unknown:
        remote.task_info("no.such.task")
    assert unknown.value.field == "task" and "scan" in unknown.value.reason
    workers = eventually(lambda: [w for w in remote.workers_list() if w.state == "active"])
    assert isinstance(workers[0].heartbeat_at, float) and workers[0].heartbeat_at > 0


def test_a_missing_or_wrong_token_and_an_unreachable_server(server: LiveServer) -> None:
    with RemoteHorae(server.url, None) as anonymous, pytest.raises(RemoteError) as no_token:
        anonymous.schedules.list()
    assert no_token.value.status == 401 and "token" in str(no_token.value)
    with RemoteHorae(server.url + "/api/v1/", server.token) as slash:  # base URL forms
        assert isinstance(slash.schedules.list(), list)
    with RemoteHorae("http://127.0.0.1:9", server.token, timeout=2) as nowhere, \
            pytest.raises(RemoteError, match="cannot reach"):
        nowhere.runs.list()
    with pytest.raises(InvalidInput) as bad_url:
        RemoteHorae("localhost:8765", server.token)
    assert bad_url.value.field == "url"


# -- the CLI over --url / --token ---------------------------------------------------------


def horae(server: LiveServer, *args: str, token: bool = True, env: dict[str, str] | None = None
          ) -> Result:
    head = ["--url", server.url] + (["--token", server.token] if token else [])
    return CliRunner().invoke(cli, [*head, *args], env=env, catch_exceptions=False,
                              prog_name="horae")


def test_cli_schedules_and_runs_over_the_api(server: LiveServer, remote: RemoteHorae) -> None:
    added = horae(server, "schedules", "add", "cli-remote", "--task", "scan", "--cron",
                  "0 3 * * *", "--kwargs", '{"targets": ["h"]}', "--retries", "1", "--json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["id"] == "cli-remote"
    assert remote.schedules.get("cli-remote").policies.retries == 1  # it is on the server
    listed = horae(server, "schedules", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert "cli-remote" in [s["id"] for s in json.loads(listed.stdout)]
    shown = horae(server, "schedules", "show", "cli-remote", "--json")
    assert shown.exit_code == 0 and len(json.loads(shown.stdout)["next_fires"]) == 5
    triggered = horae(server, "schedules", "trigger", "cli-remote")
    assert triggered.exit_code == 0, triggered.output
    run_id = int(triggered.stdout.strip())
    runs = horae(server, "runs", "list", "--schedule", "cli-remote", "--json")
    assert runs.exit_code == 0, runs.output
    assert [r["id"] for r in json.loads(runs.stdout)] == [run_id]
    waited = horae(server, "runs", "wait", str(run_id), "--timeout", "30")
    assert waited.exit_code == 0, waited.output
    logs = horae(server, "runs", "logs", str(run_id))
    assert logs.exit_code == 0, logs.output
    edited = horae(server, "schedules", "edit", "cli-remote", "--paused")
    assert edited.exit_code == 0 and remote.schedules.get("cli-remote").paused
    removed = horae(server, "schedules", "rm", "cli-remote", "--yes")
    assert removed.exit_code == 0, removed.output
    with pytest.raises(NotFound):
        remote.schedules.get("cli-remote")


def test_cli_tasks_and_workers_over_the_api(server: LiveServer) -> None:
    tasks = horae(server, "tasks", "list", "--json")
    assert tasks.exit_code == 0, tasks.output
    assert {"scan", "gated"} <= {t["name"] for t in json.loads(tasks.stdout)}
    workers = eventually(lambda: json.loads(horae(server, "workers", "list", "--json").stdout))
    assert workers[0]["state"] == "active"


def test_cli_bad_input_over_the_api_exits_2_naming_the_field(server: LiveServer) -> None:
    bad_cron = horae(server, "schedules", "add", "cli-bad", "--task", "scan", "--cron",
                     "0 2 30 2 *", "--kwargs", '{"targets": []}')
    assert bad_cron.exit_code == 2 and bad_cron.stderr.startswith("error: cron: "), \
        bad_cron.output
    server_side = horae(server, "schedules", "add", "cli-bad", "--task", "scan", "--every",
                        "1m", "--kwargs", '{"targets": "x"}')
    assert server_side.exit_code == 2, server_side.output
    assert server_side.stderr.startswith("error: kwargs.targets: "), server_side.stderr
    unknown = horae(server, "schedules", "show", "cli-nope")
    assert unknown.exit_code == 1 and "schedule 'cli-nope' not found" in unknown.stderr


def test_cli_without_a_token_says_so_in_one_line(server: LiveServer) -> None:
    result = horae(server, "schedules", "list", token=False, env={"HORAE_TOKEN": ""})
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: token: ")
    assert "HORAE_TOKEN" in result.stderr and "Traceback" not in result.stderr


def test_cli_reads_horae_url_and_horae_token(server: LiveServer) -> None:
    result = CliRunner().invoke(cli, ["runs", "list", "--json"], catch_exceptions=False,
                                env={"HORAE_URL": server.url, "HORAE_TOKEN": server.token})
    assert result.exit_code == 0, result.output
    assert isinstance(json.loads(result.stdout), list)


@pytest.mark.parametrize("command", [["server"], ["scheduler"], ["worker"], ["db", "upgrade"],
                                     ["tokens", "list"], ["api"]])
def test_cli_commands_that_need_the_database_refuse_url(server: LiveServer,
                                                        command: list[str]) -> None:
    result = horae(server, *command)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: url: `horae ")
    assert "needs direct database access" in result.stderr


def test_cli_url_with_db_is_a_usage_error(server: LiveServer, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--url", server.url, "--db", f"sqlite:///{tmp_path}/x.db",
                                      "runs", "list"])
    assert result.exit_code == 2 and "--url" in result.stderr


def test_queues_show_backlog_lag_and_workers_over_http(remote: RemoteHorae,
                                                       server: LiveServer) -> None:
    run = remote.runs.create("scan", kwargs={"targets": ["a"]}, queue="nobody-serves-this")
    now, queues = remote.queues_stats()
    [unserved] = [q for q in queues if q.queue == "nobody-serves-this"]
    assert (unserved.queued, unserved.running, unserved.workers, unserved.slots) == (1, 0, 0, 0)
    assert unserved.oldest_queued_at == pytest.approx(remote.runs.get(run.id).not_before,
                                                      abs=0.001)
    assert unserved.lag(now) >= 0
    served = [q for q in queues if q.workers > 0]
    assert served and all(q.slots >= q.workers for q in served)  # the server's own worker

    from click.testing import CliRunner

    from horae.cli import cli

    out = CliRunner().invoke(cli, ["--url", server.url, "--token", server.token, "queues",
                                   "--json"])
    assert out.exit_code == 0, out.output
    row = next(q for q in json.loads(out.output) if q["queue"] == "nobody-serves-this")
    assert (row["queued"], row["workers"]) == (1, 0)
    assert row["lag_seconds"] >= 0 and row["oldest_queued_at"].endswith("Z")
    text = CliRunner().invoke(cli, ["--url", server.url, "--token", server.token, "queues"])
    assert text.exit_code == 0 and "nobody-serves-this" in text.output
    assert "LAG" in text.output and "WORKERS" in text.output
    remote.runs.cancel(run.id)


def test_batch_and_add_many_over_the_api_answer_like_the_python_api(
        remote: RemoteHorae) -> None:
    from horae.schedule_batch import InvalidBatch

    made = remote.schedules.add_many([
        {"id": f"bulk{i}", "task": "scan", "trigger": interval(seconds=60),
         "kwargs": {"targets": ["a"]}, "retries": 2} for i in range(3)])
    assert [(s.id, s.policies.retries) for s in made] == [(f"bulk{i}", 2) for i in range(3)]
    with pytest.raises(InvalidBatch) as err:
        remote.schedules.add_many([{"id": "bulk9", "task": "scan", "trigger": interval(60),
                                    "kwargs": {"targets": ["a"]}, "retries": -1}])
    assert err.value.field == "items[0].retries"
    with pytest.raises(Conflict, match=r"items\[0\]"):
        remote.schedules.add_many([{"id": "bulk0", "task": "scan", "trigger": interval(60),
                                    "kwargs": {"targets": ["a"]}}])
    results = remote.schedules.batch([
        {"op": "update", "id": "bulk0", "retries": 5},
        {"op": "remove", "id": "bulk1"},
        {"op": "add", "id": "bulk3", "task": "scan", "trigger": interval(60)},
        {"op": "update", "id": "bulk-none", "paused": True},
    ])
    assert [(r.status, r.error, r.field) for r in results] == [
        ("updated", None, None), ("removed", None, None), ("failed", "invalid", "kwargs"),
        ("failed", "not_found", "id")]
    assert results[0].schedule is not None and results[0].schedule.policies.retries == 5
    assert {s.id for s in remote.schedules.list(search="bulk")} == {"bulk0", "bulk2"}


def test_runs_with_arguments_over_the_api(server: LiveServer, remote: RemoteHorae) -> None:
    remote.schedules.add("args-remote", "scan", cron("0 3 * * *"), kwargs={"targets": ["s"]})
    run = remote.schedules.trigger_now("args-remote", kwargs={"targets": ["x", "y"]})
    assert (run.schedule_id, run.kwargs) == ("args-remote", {"targets": ["x", "y"]})
    with pytest.raises(InvalidInput) as err:
        remote.schedules.trigger_now("args-remote", kwargs={"targets": "x"})
    assert err.value.field == "kwargs.targets"
    assert remote.schedules.get("args-remote").kwargs == {"targets": ["s"]}

    made = horae(server, "runs", "create", "scan", "--kwargs", '{"targets": ["a", "b"]}',
                 "--wait", "--json")
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["result"] == {"targets": 2, "port": 80}
    bad = horae(server, "runs", "create", "scan", "--kwargs", '{"port": 1}')
    assert bad.exit_code == 2 and bad.stderr.startswith("error: kwargs")
    ran = horae(server, "schedules", "run", "args-remote", "--kwargs", '{"targets": ["q"]}',
                "--json")
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.stdout)["kwargs"] == {"targets": ["q"]}


def test_bulk_operations_through_the_api(remote: RemoteHorae) -> None:
    remote.schedules.add("bulk-a", "scan", cron("0 2 * * *"), kwargs={"targets": []},
                         tags=["bulk-tag"])
    counted = remote.schedules.pause_many(tag="bulk-tag", dry_run=True)
    assert (counted.total, counted.dry_run, counted.changed) == (1, True, 0)
    assert remote.schedules.pause_many(tag="bulk-tag").changed == 1
    assert remote.schedules.get("bulk-a").paused
    assert remote.schedules.resume_many(tag="bulk-tag").changed == 1
    run = remote.runs.create("scan", kwargs={"targets": []}, delay=3600)
    assert remote.runs.cancel_many(schedule="bulk-a", dry_run=True).total == 0
    cancelled = remote.runs.cancel_many(task="scan", states=["scheduled"])
    assert run.id in [r.id for r in remote.runs.list(task="scan", states=["cancelled"])]
    assert cancelled.changed >= 1
    with pytest.raises(InvalidInput) as bad:
        remote.runs.retry_many(states=["failed"])
    assert bad.value.field == "filter"


# -- workflows ------------------------------------------------------------------------------

_WF_STEPS = [{"id": "first", "task": "scan", "kwargs": {"targets": ["a"]}},
             {"id": "then", "task": "scan", "kwargs": {"targets": ["b"]}, "after": ["first"],
              "trigger_rule": "all_done"}]


def test_workflows_over_the_api_answer_like_the_python_api(remote: RemoteHorae) -> None:
    from horae.workflows import Workflow, signature

    before = time.time()
    w = remote.workflows.add("remote-wf", {"steps": _WF_STEPS}, description="over http",
                             on_failure=signature("scan", kwargs={"targets": ["alarm"]}))
    assert isinstance(w, Workflow)
    assert (w.id, w.version, w.description) == ("remote-wf", 1, "over http")
    assert w.definition() == {"steps": _WF_STEPS, "description": "over http",
                              "on_failure": {"task": "scan", "kwargs": {"targets": ["alarm"]}}}
    assert isinstance(w.created_at, float) and before - 5 < w.created_at < time.time() + 5
    assert remote.workflows.get("remote-wf").to_dict() == w.to_dict()
    assert [x.id for x in remote.workflows.list(search="over http")] == ["remote-wf"]

    changed = remote.workflows.update("remote-wf", description="changed", expected_version=1)
    assert (changed.version, changed.description) == (2, "changed")
    assert changed.steps == w.steps and changed.on_failure == w.on_failure
    with pytest.raises(Conflict):
        remote.workflows.update("remote-wf", description="lost", expected_version=1)
    with pytest.raises(Conflict):
        remote.workflows.remove("remote-wf", expected_version=1)
    replaced = remote.workflows.update("remote-wf", {"steps": _WF_STEPS[:1]})
    assert replaced.version == 3 and [s.id for s in replaced.steps] == ["first"]
    assert replaced.description == "" and replaced.on_failure is None  # a whole new one
    assert remote.workflows.versions("remote-wf") == [1, 2, 3]
    assert remote.workflows.get("remote-wf", version=2).description == "changed"

    with pytest.raises(InvalidInput) as bad:
        remote.workflows.add("remote-bad", {"steps": [{"id": "a", "task": "no.such"}]})
    assert bad.value.field == "steps[0].task"
    with pytest.raises(InvalidInput) as arg:
        remote.workflows.add("remote-bad", {"steps": [
            {"id": "a", "task": "scan", "kwargs": {"targets": "x"}}]})
    assert arg.value.field == "steps[0].kwargs.targets"
    with pytest.raises(Conflict):
        remote.workflows.add("remote-wf", {"steps": _WF_STEPS})
    with pytest.raises(NotFound) as missing:
        remote.workflows.get("remote-nope")
    assert str(missing.value) == "workflow 'remote-nope' not found"
    assert remote.workflows.versions("remote-nope") == []

    remote.workflows.remove("remote-wf", expected_version=3)
    with pytest.raises(NotFound):
        remote.workflows.get("remote-wf")
    assert remote.workflows.get("remote-wf", version=1).to_dict() == w.to_dict()


def test_workflows_list_pages_over_the_api(remote: RemoteHorae) -> None:
    for n in range(5):
        remote.workflows.add(f"page-wf-{n}", {"steps": _WF_STEPS[:1]})
    ids = [w.id for w in remote.workflows.list(search="page-wf-")]
    assert ids == [f"page-wf-{n}" for n in range(5)]
    assert [w.id for w in remote.workflows.list(search="page-wf-", limit=2)] == ids[:2]
    assert [w.id for w in remote.workflows.list(search="page-wf-", after=ids[2])] == ids[3:]


def test_cli_workflows_over_the_api(server: LiveServer, remote: RemoteHorae,
                                    tmp_path: Path) -> None:
    spec = tmp_path / "flow.json"
    spec.write_text(json.dumps({"steps": _WF_STEPS}))
    added = horae(server, "workflows", "add", "cli-wf", "--file", str(spec))
    assert added.exit_code == 0, added.output
    assert added.stdout.strip() == "added workflow 'cli-wf': 2 steps, version 1"
    assert remote.workflows.get("cli-wf").version == 1  # it is on the server
    listed = horae(server, "workflows", "list", "--search", "cli-wf", "--json")
    assert [w["id"] for w in json.loads(listed.stdout)] == ["cli-wf"]
    shown = horae(server, "workflows", "show", "cli-wf", "--json")
    assert shown.exit_code == 0, shown.output
    current = tmp_path / "current.json"
    current.write_text(shown.stdout)
    updated = horae(server, "workflows", "update", "cli-wf", "--file", str(current))
    assert updated.exit_code == 0, updated.output
    assert "version 2" in updated.stdout
    stale = horae(server, "workflows", "update", "cli-wf", "--file", str(current))
    assert stale.exit_code == 1 and "cli-wf" in stale.stderr
    assert stale.stderr.count("\n") == 1 and "Traceback" not in stale.stderr
    table = horae(server, "workflows", "show", "cli-wf")
    assert table.exit_code == 0 and "kept: 1, 2" in table.stdout
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"steps": [{"id": "a", "task": "scan", "after": ["zz"]}]}))
    refused = horae(server, "workflows", "add", "cli-bad", "--file", str(bad))
    assert refused.exit_code == 2 and refused.stderr.startswith("error: steps[0].after: ")
    removed = horae(server, "workflows", "rm", "cli-wf", "--yes")
    assert removed.exit_code == 0, removed.output
    assert remote.workflows.versions("cli-wf") == [1, 2]
    records = [a for a in remote.request("GET", "/audit", params={"target_kind": "workflow",
                                                                  "target_id": "cli-wf"})["items"]]
    assert [a["action"] for a in reversed(records)] == [
        "workflow.create", "workflow.replace", "workflow.delete"]


def test_explain_over_the_api_from_python_and_the_cli(server: LiveServer,
                                                      remote: RemoteHorae) -> None:
    remote.schedules.add("why-remote", "scan", cron("0 4 * * *"), kwargs={"targets": ["a"]})
    upcoming = remote.schedules.explain("why-remote")["explanations"][-1]
    assert (upcoming["label"], upcoming["verdict"]) == ("next", "will_fire")
    assert upcoming["instant"].endswith("T04:00:00.000Z")
    zh = remote.schedules.explain("why-remote", upcoming["instant"], locale="zh-CN")
    assert zh["explanations"][0]["reason"].startswith("将于")
    before = horae(server, "schedules", "explain", "why-remote", "--at", "-1h")
    assert before.exit_code == 0, before.output
    assert "not_created" in before.stdout  # the CLI's instant travels as epoch seconds
    bad = horae(server, "schedules", "explain", "why-remote", "--at", "nope")
    assert bad.exit_code == 2 and bad.stderr.startswith("error: --at: ")
    remote.schedules.remove("why-remote")


# -- backfills ----------------------------------------------------------------------------


def test_a_backfill_over_the_api_plans_runs_and_lists_as_the_python_api(
        remote: RemoteHorae, server: LiveServer) -> None:
    from horae.backfill import Backfill, BackfillPlan

    remote.schedules.add("bf-remote", "scan", cron("* * * * *"), kwargs={"targets": []})
    first = (remote.now() // 60) * 60 - 600
    plan = remote.schedules.backfill("bf-remote", first, first + 300, dry_run=True)
    assert isinstance(plan, BackfillPlan)
    assert [f.fire_time for f in plan.fires] == [first + 60 * i for i in range(5)]
    assert (plan.zone, plan.already_run) == ("UTC", 0)
    made = remote.schedules.backfill("bf-remote", first, first + 300, concurrency=2)
    assert isinstance(made, Backfill) and (made.total, made.concurrency) == (5, 2)
    done = eventually(lambda: (b := remote.schedules.backfills("bf-remote")[0]).state == "done"
                      and b, timeout=30)
    assert (done.id, done.created, done.skipped_existing) == (made.id, 5, 0)
    with pytest.raises(InvalidInput) as caught:
        remote.schedules.backfill("bf-remote", first, first + 10 * 86400)
    assert caught.value.field == "to"

    again = horae(server, "schedules", "backfill", "bf-remote", "--from", str(first), "--to",
                  str(first + 300), "--yes")
    assert again.exit_code == 0, again.output
    assert "nothing to do" in again.output
