"""The CLI and the built-in tasks' settings: a bad setting is one line naming it and exit
2 (no traceback); a run of a built-in task that is off is refused, naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from horae.cli import cli


@pytest.mark.parametrize(("name", "value"), [
    ("HORAE_SHELL_ALLOW", "{bad json"),
    ("HORAE_SHELL_ALLOW", '{"backup": "/bin/backup --full"}'),
    ("HORAE_HTTP_ALLOW_HOSTS", "*evil*"),
    ("HORAE_HTTP_SECRETS", "TOKEN"),
])
def test_a_bad_setting_is_one_line_and_exit_2(tmp_path: Path, name: str, value: str) -> None:
    result = CliRunner(env={name: value}).invoke(
        cli, ["--db", f"sqlite:///{tmp_path}/h.db", "runs", "list"])
    assert result.exit_code == 2, (result.output, result.exception)
    setting = name.removeprefix("HORAE_").lower()
    assert result.stderr.startswith(f"error: {setting}")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_a_run_of_a_builtin_task_that_is_off_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path}/h.db", "runs", "create",
                                      "horae.http", "--kwargs", '{"url": "http://x/"}'])
    assert result.exit_code == 2, (result.output, result.exception)
    assert ("task 'horae.http' is disabled until an admin allow-lists it (http_allow_hosts)"
            in result.stderr)
