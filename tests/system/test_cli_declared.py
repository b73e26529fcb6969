"""``horae schedules list/show`` mark the schedules declared in code."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from horae import cron
from horae.cli import cli
from horae.demo import make_app


def _cli(url: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", url, *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def test_list_and_show_mark_declared_schedules(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/h.db"
    app = make_app(url)
    app.schedules.ensure("from-code", "demo.hello", cron("0 2 * * *"), kwargs={"name": "a"})
    app.schedules.add("by-hand", "demo.hello", cron("0 3 * * *"), kwargs={"name": "b"})
    app.stop()

    listed = {s["id"]: s["declared"] for s in json.loads(_cli(url, "schedules", "list",
                                                               "--json"))}
    assert listed == {"by-hand": False, "from-code": True}
    assert json.loads(_cli(url, "schedules", "show", "from-code", "--json"))["declared"]

    table = {line.split()[0]: line for line in _cli(url, "schedules", "list").splitlines()[1:]}
    assert "[code]" in table["from-code"]
    assert "[code]" not in table["by-hand"]
    shown = _cli(url, "schedules", "show", "from-code")
    assert "declared" in shown and "in code" in shown
    assert "no (made at runtime)" in _cli(url, "schedules", "show", "by-hand")
