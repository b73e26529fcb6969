"""``horae users create|list|disable|passwd`` on a SQLite file: prompts and stdin, one-line
errors with exit 2 on bad input, the audit trail without the password, and sessions that end
with a new password."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from horae import Horae
from horae.api.passwords import verify_password
from horae.cli import cli
from horae.store.api_store import ApiStore
from horae.store.console_store import ConsoleStore
from horae.store.user_store import UserStore

PASSWORD = "correct horse battery staple"


@pytest.fixture
def horae_cli(tmp_path: Path) -> tuple[str, CliRunner]:
    return f"sqlite:///{tmp_path}/h.db", CliRunner()


def run(horae_cli: tuple[str, CliRunner], *args: str, input: str | None = None) -> Result:
    url, runner = horae_cli
    return runner.invoke(cli, ["--db", url, *args], input=input, catch_exceptions=True)


def _users(url: str) -> tuple[Horae, UserStore]:
    app = Horae(url)
    return app, UserStore(app.store)


def test_create_list_disable_and_passwd(horae_cli: tuple[str, CliRunner]) -> None:
    url = horae_cli[0]
    made = run(horae_cli, "users", "create", "ada", "--role", "editor",
               input=f"{PASSWORD}\n{PASSWORD}\n")  # the prompt asks twice
    assert made.exit_code == 0, made.output
    assert "created editor user ada" in made.stdout and PASSWORD not in made.output
    scripted = run(horae_cli, "users", "create", "bot", "--role", "viewer",
                   "--password-stdin", "--json", input=PASSWORD + "x\n")
    assert scripted.exit_code == 0, scripted.output
    bot = json.loads(scripted.stdout)
    assert bot["name"] == "bot" and bot["role"] == "viewer" and "password_hash" not in bot

    listed = json.loads(run(horae_cli, "users", "list", "--json").stdout)
    assert [(u["name"], u["role"], u["disabled"]) for u in listed] == [
        ("ada", "editor", False), ("bot", "viewer", False)]
    table = run(horae_cli, "users", "list").stdout
    assert "ada" in table and "editor" in table and "scrypt" not in table

    app, users = _users(url)
    ada = users.user_by_name("ada")
    assert ada is not None and verify_password(PASSWORD, ada.password_hash)
    session = ConsoleStore(app.store).session_add(token_id="", name="ada", role="editor",
                                                  ttl=600, user_id=ada.id)
    changed = run(horae_cli, "users", "passwd", "ada", "--password-stdin",
                  input="a new passphrase\n")
    assert changed.exit_code == 0, changed.output
    ada = users.user_by_name("ada")
    assert ada is not None and verify_password("a new passphrase", ada.password_hash)
    assert ConsoleStore(app.store).session_get(session.id) is None

    assert run(horae_cli, "users", "disable", "bot").exit_code == 0
    bot_record = users.user_by_name("bot")
    assert bot_record is not None and bot_record.disabled_at is not None

    audit = ApiStore(app.store).audit_list(target_kind="user")
    assert [a.action for a in reversed(audit)] == [
        "user.create", "user.create", "user.password", "user.disable"]
    assert all(a.actor.startswith("cli:") for a in audit)
    text = json.dumps([(a.before, a.after) for a in audit])
    assert PASSWORD not in text and "a new passphrase" not in text and "scrypt" not in text
    app.stop()


@pytest.mark.parametrize(("args", "stdin", "code", "message"), [
    (["users", "create", "ada", "--role", "editor", "--password-stdin"], "short\n", 2,
     "error: password: must be at least 12 characters long"),
    # Two entries that differ are asked again; when the input ends, nothing is created.
    (["users", "create", "ada", "--role", "editor"], f"{PASSWORD}\n{PASSWORD}!\n", 1,
     "The two entered values do not match"),
    (["users", "create", "bad name", "--role", "editor", "--password-stdin"],
     PASSWORD + "\n", 2, "error: name: "),
    (["users", "create", "ada", "--role", "root", "--password-stdin"], PASSWORD + "\n", 2,
     "Invalid value for '--role'"),
    (["users", "passwd", "ada", "--password-stdin"], "tiny\n", 2,
     "error: password: must be at least 12 characters long"),
])
def test_bad_input_is_refused_and_changes_nothing(horae_cli: tuple[str, CliRunner],
                                                  args: list[str], stdin: str, code: int,
                                                  message: str) -> None:
    if args[1] == "passwd":
        assert run(horae_cli, "users", "create", "ada", "--role", "viewer",
                   "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    before = json.loads(run(horae_cli, "users", "list", "--json").stdout)
    result = run(horae_cli, *args, input=stdin)
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output and PASSWORD not in result.output
    app, users = _users(horae_cli[0])
    assert [u.name for u in users.users_list()] == [u["name"] for u in before]
    if before:
        stored = users.user_by_name("ada")
        assert stored is not None and verify_password(PASSWORD, stored.password_hash)
    app.stop()


def test_duplicate_name_and_unknown_user_are_one_line_errors(
        horae_cli: tuple[str, CliRunner]) -> None:
    assert run(horae_cli, "users", "create", "ada", "--role", "viewer", "--password-stdin",
               input=PASSWORD + "\n").exit_code == 0
    again = run(horae_cli, "users", "create", "ada", "--role", "admin", "--password-stdin",
                input=PASSWORD + "\n")
    assert again.exit_code == 1 and again.stderr.strip().startswith("error: ")
    assert "exists" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    missing = run(horae_cli, "users", "disable", "nobody")
    assert missing.exit_code == 1 and "nobody" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
