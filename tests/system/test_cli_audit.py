"""Every change made from the CLI on the database is audited, in its transaction, with a
real actor: the OS user, or the uid when no name can be found (never ``cli:?``)."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from horae.cli import cli
from horae.demo import make_app
from horae.models import WorkerInfo
from horae.store.api_store import ApiStore


def _cli(url: str, *args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(cli, ["--db", url, *args], input=input)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def test_schedule_run_token_and_user_changes_are_audited(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path}/h.db"
    app = make_app(url)
    app.store.worker_register(WorkerInfo("w", "test", os.getpid(), ["default"], 1),
                              [t.info() for t in app.registry])
    _cli(url, "schedules", "add", "ping", "--task", "demo.hello", "--every", "1h")
    _cli(url, "schedules", "edit", "ping", "--every", "2h")
    _cli(url, "schedules", "pause", "ping")
    _cli(url, "schedules", "resume", "ping")
    run_id = _cli(url, "schedules", "trigger", "ping").strip()
    _cli(url, "runs", "cancel", run_id)
    _cli(url, "runs", "retry", run_id)
    _cli(url, "schedules", "rm", "ping", "--yes")
    _cli(url, "tokens", "create", "--role", "viewer", "--name", "bot")
    _cli(url, "users", "create", "ada", "--role", "editor", "--password-stdin",
         input="correct horse battery\n")

    records = list(reversed(ApiStore(app.store).audit_list()))
    expected_actor = f"cli:{getpass.getuser()}"
    assert [(r.action, r.target_kind) for r in records] == [
        ("schedule.create", "schedule"), ("schedule.update", "schedule"),
        ("schedule.pause", "schedule"), ("schedule.resume", "schedule"),
        ("schedule.trigger", "schedule"), ("run.cancel", "run"), ("run.retry", "run"),
        ("schedule.delete", "schedule"), ("token.create", "token"), ("user.create", "user"),
    ]
    assert {r.actor for r in records} == {expected_actor}
    assert expected_actor != "cli:?"
    by_action = {r.action: r for r in records}
    assert by_action["schedule.update"].before["trigger"]["seconds"] == 3600
    assert by_action["schedule.update"].after["trigger"]["seconds"] == 7200
    assert by_action["schedule.pause"].after["paused"] is True
    assert by_action["run.cancel"].target_id == run_id
    assert by_action["run.cancel"].after["state"] == "cancelled"
    assert by_action["schedule.delete"].before["id"] == "ping"
    app.stop()


def test_the_actor_is_the_uid_when_no_user_name_can_be_found(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_name() -> str:
        raise KeyError("getpwuid(): uid not found")

    monkeypatch.setattr(getpass, "getuser", no_name)
    url = f"sqlite:///{tmp_path}/h.db"
    app = make_app(url)
    app.store.worker_register(WorkerInfo("w", "test", os.getpid(), ["default"], 1),
                              [t.info() for t in app.registry])
    _cli(url, "schedules", "add", "ping", "--task", "demo.hello", "--every", "1h")
    (record,) = ApiStore(app.store).audit_list()
    assert record.actor == f"cli:uid {os.getuid()}"
    app.stop()


def test_schedules_apply_audits_each_schedule_it_changes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/h.db"
    app = make_app(url)
    app.store.worker_register(WorkerInfo("w", "test", os.getpid(), ["default"], 1),
                              [t.info() for t in app.registry])
    lines = tmp_path / "polls.jsonl"
    lines.write_text(
        '{"id": "p1", "task": "demo.hello", "trigger": {"kind": "interval", "seconds": 30}}\n'
        '{"id": "p2", "task": "demo.hello", "trigger": {"kind": "interval", "seconds": 60}}\n')
    _cli(url, "schedules", "apply", str(lines))
    _cli(url, "schedules", "apply", str(lines))  # unchanged: nothing to audit
    records = ApiStore(app.store).audit_list()
    assert sorted((r.action, r.target_id) for r in records) == [
        ("schedule.create", "p1"), ("schedule.create", "p2")]
    assert {r.actor for r in records} == {f"cli:{getpass.getuser()}"}
    app.stop()
