"""``horae schedules explain ID [--at TIME] [--json] [--locale]`` on the database: the
verdict and the reason as text or JSON; a TIME it cannot read is one line naming --at."""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner, Result

from horae.cli import cli
from horae.demo import make_app
from horae.models import WorkerInfo


def _catalogue(url: str) -> None:
    """The demo tasks in the catalogue, as a worker of the demo app advertises them."""
    app = make_app(url)
    app.store.worker_register(WorkerInfo("w", "test", os.getpid(), ["default"], 1),
                              [t.info() for t in app.registry])
    app.stop()


def _cli(url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", url, *args])


def test_explain_prints_the_verdict_and_the_reason(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/h.db"
    _catalogue(url)
    assert _cli(url, "schedules", "add", "ping", "--task", "demo.hello", "--cron",
                "0 3 * * *").exit_code == 0
    shown = _cli(url, "schedules", "explain", "ping", "--json")
    assert shown.exit_code == 0, shown.output
    body = json.loads(shown.stdout)
    assert body["schedule_id"] == "ping"
    upcoming = body["explanations"][-1]
    assert (upcoming["label"], upcoming["verdict"]) == ("next", "will_fire")
    assert upcoming["instant"].endswith("T03:00:00.000Z")

    assert _cli(url, "schedules", "pause", "ping").exit_code == 0
    text = _cli(url, "schedules", "explain", "ping", "--at", "+1d")
    assert text.exit_code == 0, text.output
    lines = [line.split(None, 1) for line in text.stdout.splitlines() if line.strip()]
    assert [first for first, _ in lines] == ["at", "verdict", "why"]
    assert lines[1][1] == "will_not_fire"
    assert lines[2][1] == "will not fire: the schedule is paused"
    zh = _cli(url, "schedules", "explain", "ping", "--at", upcoming["instant"], "--locale",
              "zh-CN")
    assert zh.exit_code == 0 and "不会触发：该计划已暂停" in zh.stdout


def test_a_bad_time_or_an_unknown_schedule_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/h.db"
    _catalogue(url)
    assert _cli(url, "schedules", "add", "ping", "--task", "demo.hello", "--every",
                "1h").exit_code == 0
    for bad in ("yesterday", "2026-12-01T09:00:00", "-3x"):
        result = _cli(url, "schedules", "explain", "ping", "--at", bad)
        assert result.exit_code == 2, (bad, result.output)
        assert result.stderr.startswith("error: --at: ") and result.stderr.count("\n") == 1
    missing = _cli(url, "schedules", "explain", "nope")
    assert missing.exit_code == 1 and "schedule 'nope' not found" in missing.stderr
    bad_locale = _cli(url, "schedules", "explain", "ping", "--locale", "fr")
    assert bad_locale.exit_code == 2 and bad_locale.stderr.startswith("error: locale: ")
