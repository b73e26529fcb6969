"""``horae channels add|list|show|edit|rm|test`` on a SQLite file: secrets from a hidden
prompt or an environment variable, never printed or audited; one-line errors with exit 2
on bad input; a test send that reports its result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from horae import Horae
from horae.cli import cli
from horae.store.api_store import ApiStore
from tests.integration.channel_server import receiver

SECRET = "whsec-Zz9-cli"
ROBOT = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=wecom-key-31"


@pytest.fixture
def horae_cli(tmp_path: Path) -> tuple[str, CliRunner]:
    return f"sqlite:///{tmp_path}/h.db", CliRunner()


def run(horae_cli: tuple[str, CliRunner], *args: str, input: str | None = None,
        env: dict[str, str] | None = None) -> Result:
    url, runner = horae_cli
    return runner.invoke(cli, ["--db", url, *args], input=input, env=env,
                         catch_exceptions=True)


def _everything(horae_cli: tuple[str, CliRunner], *results: Result) -> str:
    app = Horae(horae_cli[0])
    audit = json.dumps([(a.action, a.before, a.after)
                        for a in ApiStore(app.store).audit_list(target_kind="channel")])
    app.store.close()
    return audit + "".join(r.output for r in results)


def test_add_with_a_prompted_secret_list_show_edit_and_rm(
        horae_cli: tuple[str, CliRunner]) -> None:
    made = run(horae_cli, "channels", "add", "ops", "--kind", "webhook",
               "--set", "url=http://127.0.0.1:9/in", "--set", "timeout=4",
               "--secret", "signing_secret", input=SECRET + "\n")
    assert made.exit_code == 0, made.output
    assert "created webhook channel ops (id 1)" in made.stdout
    shown = run(horae_cli, "channels", "show", "ops", "--json")
    data = json.loads(shown.stdout)
    assert data["config"] == {"url": "http://127.0.0.1:9/in", "timeout": 4.0}
    assert data["secrets"] == {"signing_secret": True}
    table = run(horae_cli, "channels", "show", "1")
    assert "secrets.signing_secret" in table.stdout and "set" in table.stdout
    listed = run(horae_cli, "channels", "list")
    assert "ops" in listed.stdout and "signing_secret: set" in listed.stdout

    edited = run(horae_cli, "channels", "edit", "ops", "--unset", "timeout", "--disable",
                 "--name", "ops2")
    assert edited.exit_code == 0, edited.output
    data = json.loads(run(horae_cli, "channels", "show", "ops2", "--json").stdout)
    assert data["config"]["timeout"] == 10.0 and data["enabled"] is False
    assert data["secrets"] == {"signing_secret": True}  # kept: not named
    cleared = run(horae_cli, "channels", "edit", "ops2", "--clear-secret", "signing_secret",
                  "--json")
    assert json.loads(cleared.stdout)["secrets"] == {"signing_secret": False}

    removed = run(horae_cli, "channels", "rm", "ops2", "--yes")
    assert removed.exit_code == 0 and "removed channel ops2" in removed.stdout
    assert json.loads(run(horae_cli, "channels", "list", "--json").stdout) == []
    text = _everything(horae_cli, made, shown, table, listed, edited, cleared)
    assert SECRET not in text
    assert '"channel.create"' in text and '"channel.delete"' in text
    assert '"secrets": ["signing_secret"]' in text


def test_a_required_secret_is_prompted_or_read_from_the_environment(
        horae_cli: tuple[str, CliRunner]) -> None:
    prompted = run(horae_cli, "channels", "add", "wc", "--kind", "wecom", input=ROBOT + "\n")
    assert prompted.exit_code == 0, prompted.output
    assert "webhook_url (hidden)" in prompted.output
    from_env = run(horae_cli, "channels", "add", "wc2", "--kind", "wecom",
                   "--secret-env", "webhook_url=WECOM_URL", env={"WECOM_URL": ROBOT})
    assert from_env.exit_code == 0, from_env.output
    app = Horae(horae_cli[0])
    assert app.store.channel_secrets(app.channels.get("wc2").id) == {"webhook_url": ROBOT}
    app.store.close()
    assert "wecom-key-31" not in _everything(horae_cli, prompted, from_env)


@pytest.mark.parametrize(("args", "field"), [
    (["--kind", "webhook"], "config.url"),
    (["--kind", "webhook", "--set", "url=ftp://x/"], "config.url"),
    (["--kind", "webhook", "--set", "url=http://x/", "--set", "retries=3"], "config.retries"),
    (["--kind", "webhook", "--set", "nonsense"], "--set"),
    (["--kind", "slack", "--secret-env", "webhook_url=NOT_SET_ANYWHERE"], "--secret-env"),
    (["--kind", "webhook", "--set", "url=http://x/", "--secret", "token"], "secrets.token"),
])
def test_bad_input_is_one_line_and_exit_2(horae_cli: tuple[str, CliRunner], args: list[str],
                                          field: str) -> None:
    result = run(horae_cli, "channels", "add", "bad", *args, input="x\n")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {field}") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_send_test_reports_the_result_and_exit_code(horae_cli: tuple[str, CliRunner]) -> None:
    with receiver() as server:
        run(horae_cli, "channels", "add", "t", "--kind", "webhook", "--set",
            f"url={server.url}", "--secret-env", "signing_secret=S", env={"S": SECRET})
        ok = run(horae_cli, "channels", "test", "t", "--locale", "zh-CN")
        assert ok.exit_code == 0, ok.output
        assert "sent through t: code 200" in ok.stdout
        assert server.received[0].json()["title"] == "Horae 测试通知"
        server.reply(502, b"bad gateway")
        failed = run(horae_cli, "channels", "test", "t", "--json")
        assert failed.exit_code == 1
        assert json.loads(failed.stdout)["code"] == 502
        plain = run(horae_cli, "channels", "test", "t")
        assert plain.exit_code == 1 and plain.stderr.startswith("error: not delivered")
    assert run(horae_cli, "channels", "test", "nope").exit_code == 1


def test_channels_need_the_database_not_a_server(horae_cli: tuple[str, CliRunner]) -> None:
    result = CliRunner().invoke(cli, ["--url", "http://127.0.0.1:9", "channels", "list"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: url:") and "direct database access" in result.stderr
