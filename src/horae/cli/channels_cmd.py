"""``horae channels add|list|show|edit|rm|test``: notification channels, in the database.

Configuration is given as ``--set FIELD=VALUE`` (a VALUE that parses as JSON is taken as
JSON: ``--set port=465``, ``--set 'to=["a@x.org","b@x.org"]'``; a comma list works for
``to``). Secrets are never taken on the command line, where ``ps`` and the shell history
would keep them: ``--secret FIELD`` prompts for one (hidden; also every required secret
not given), ``--secret-env FIELD=VAR`` reads it from the environment variable VAR. Nothing
prints a secret's value; the audit (actor ``cli:<user>``) keeps only their names.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

from horae.alerts.channels import KINDS, SPECS, Channel
from horae.cli.audit import audited
from horae.cli.env import Env, pass_env
from horae.cli.render import Out, echo_json, styled
from horae.errors import InvalidInput, NotFound
from horae.instants import iso


@click.group()
def channels() -> None:
    """Notification channels: email, webhook, Slack, DingTalk, WeCom, Feishu, Teams."""


@contextmanager
def _audited(env: Env, action: str, target: int | None = None, before: Any = None,
             touched: Sequence[str] = ()) -> Iterator[None]:
    from horae.api.channel_routes import audit_form

    def after(ch: Channel) -> dict[str, Any]:
        return audit_form(ch) | ({"secrets_changed": sorted(touched)} if touched else {})

    with audited(env, action, "channel",
                 target=(lambda ch: ch.id) if target is None else target, before=before,
                 after=after if action != "channel.delete" else None):
        yield


def _find(env: Env, ref: str) -> Channel:
    """A channel by name, else by id."""
    try:
        return env.app().channels.get(ref)
    except NotFound:
        if ref.isdigit():
            return env.app().channels.get(int(ref))
        raise


def _settings(pairs: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise InvalidInput("--set", f"{pair!r} is not FIELD=VALUE")
        try:
            out[name] = json.loads(text)
        except ValueError:
            out[name] = text
    return out


def _secrets(kind: str, prompt: Sequence[str], from_env: Sequence[str],
             ask_required: bool) -> dict[str, str | None]:
    spec = SPECS[kind]
    out: dict[str, str | None] = {}
    for pair in from_env:
        name, sep, var = pair.partition("=")
        if not sep or not name or not var:
            raise InvalidInput("--secret-env", f"{pair!r} is not FIELD=ENV_VAR")
        if var not in os.environ:
            raise InvalidInput("--secret-env", f"the environment variable {var} is not set")
        out[name] = os.environ[var]
    wanted = list(prompt)
    if ask_required:
        wanted += [n for n, f in spec.secrets.items() if f.required and n not in out]
    for name in dict.fromkeys(wanted):
        if name not in spec.secrets:
            raise InvalidInput(f"secrets.{name}", f"not a secret of a {kind} channel (its "
                                                  f"secrets: {', '.join(spec.secrets)})")
        out[name] = click.prompt(f"{name} (hidden)", hide_input=True, err=True)
    return out


def _show(env: Env, ch: Channel, as_json: bool, verb: str | None = None) -> None:
    from horae.api.channel_routes import channel_wire

    if as_json:
        echo_json(channel_wire(ch))
        return
    out = Out(env.color)
    if verb:
        out.line(f"{verb} {ch.kind} channel {ch.name} (id {ch.id})")
        return
    rows = [["id", str(ch.id)], ["name", ch.name], ["kind", ch.kind],
            ["enabled", "yes" if ch.enabled else "no"], ["version", str(ch.version)],
            ["updated", iso(ch.updated_at) or ""]]
    rows += [[f"config.{k}", v if isinstance(v, str) else json.dumps(v)]
             for k, v in ch.config.items()]
    rows += [[f"secrets.{k}", "set" if s else "not set"] for k, s in ch.secrets.items()]
    out.table(["FIELD", "VALUE"], rows)


_SECRET_OPTIONS = [
    click.option("--secret", "secret_prompt", multiple=True, metavar="FIELD",
                 help="Prompt (hidden) for this secret."),
    click.option("--secret-env", "secret_env", multiple=True, metavar="FIELD=VAR",
                 help="Read this secret from the environment variable VAR."),
]


def _with_secret_options(f: Any) -> Any:
    for option in reversed(_SECRET_OPTIONS):
        f = option(f)
    return f


@channels.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), required=True)
@click.option("--set", "settings", multiple=True, metavar="FIELD=VALUE",
              help="A configuration field (docs/alerts.md lists each kind's).")
@_with_secret_options
@click.option("--disabled", is_flag=True, help="Create it disabled.")
@click.option("--json", "as_json", is_flag=True, help="Print the channel as JSON.")
@pass_env
def add(env: Env, name: str, kind: str, settings: tuple[str, ...],
        secret_prompt: tuple[str, ...], secret_env: tuple[str, ...], disabled: bool,
        as_json: bool) -> None:
    """Create a channel NAME of --kind; prompts for each required secret not given."""
    config = _settings(settings)
    secrets = _secrets(kind, secret_prompt, secret_env, ask_required=True)
    with _audited(env, "channel.create"):
        ch = env.app().channels.add(name, kind, config, secrets, enabled=not disabled)
    _show(env, ch, as_json, "created")


@channels.command("list")
@click.option("--kind", type=click.Choice(KINDS), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_env
def list_(env: Env, kind: str | None, as_json: bool) -> None:
    """List channels (never their secrets)."""
    from horae.api.channel_routes import channel_wire

    found = env.app().channels.list(kind=kind)
    if as_json:
        echo_json([channel_wire(ch) for ch in found])
        return
    rows = [[styled(str(ch.id), "bold"), ch.name, ch.kind,
             "enabled" if ch.enabled else "disabled",
             ", ".join(f"{k}: {'set' if s else 'not set'}" for k, s in ch.secrets.items()),
             iso(ch.updated_at) or ""] for ch in found]
    Out(env.color).table(["ID", "NAME", "KIND", "STATE", "SECRETS", "UPDATED"], rows,
                         empty="no channels; `horae channels add NAME --kind ...` makes one")


@channels.command("show")
@click.argument("channel")
@click.option("--json", "as_json", is_flag=True, help="Print the channel as JSON.")
@pass_env
def show(env: Env, channel: str, as_json: bool) -> None:
    """Show a channel (by name or id): its configuration, and which secrets are set."""
    _show(env, _find(env, channel), as_json)


@channels.command("edit")
@click.argument("channel")
@click.option("--name", "new_name", default=None, help="Rename it.")
@click.option("--set", "settings", multiple=True, metavar="FIELD=VALUE",
              help="Change a configuration field.")
@click.option("--unset", multiple=True, metavar="FIELD",
              help="Reset a configuration field to its default.")
@_with_secret_options
@click.option("--clear-secret", multiple=True, metavar="FIELD", help="Remove a secret.")
@click.option("--enable/--disable", "enabled", default=None)
@click.option("--json", "as_json", is_flag=True, help="Print the channel as JSON.")
@pass_env
def edit(env: Env, channel: str, new_name: str | None, settings: tuple[str, ...],
         unset: tuple[str, ...], secret_prompt: tuple[str, ...], secret_env: tuple[str, ...],
         clear_secret: tuple[str, ...], enabled: bool | None, as_json: bool) -> None:
    """Change a channel; secrets not named are kept."""
    from horae.api.channel_routes import audit_form

    current = _find(env, channel)
    config: dict[str, Any] = _settings(settings) | {name: None for name in unset}
    secrets = _secrets(current.kind, secret_prompt, secret_env, ask_required=False)
    secrets |= {name: None for name in clear_secret}
    with _audited(env, "channel.update", current.id, audit_form(current),
                  touched=list(secrets)):
        ch = env.app().channels.update(current.id, name=new_name, config=config or None,
                                       secrets=secrets, enabled=enabled,
                                       expected_version=current.version)
    _show(env, ch, as_json, "changed")


@channels.command("rm")
@click.argument("channel")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_env
def rm(env: Env, channel: str, yes: bool) -> None:
    """Remove a channel."""
    from horae.api.channel_routes import audit_form

    current = _find(env, channel)
    if not yes:
        click.confirm(f"Remove channel {current.name!r}?", abort=True)
    with _audited(env, "channel.delete", current.id, audit_form(current)):
        env.app().channels.remove(current.id, expected_version=current.version)
    Out(env.color).line(f"removed channel {current.name}")


@channels.command("test")
@click.argument("channel")
@click.option("--locale", type=click.Choice(["en", "zh-CN"]), default="en",
              help="The language of the test message.")
@click.option("--json", "as_json", is_flag=True, help="Print the delivery result as JSON.")
@pass_env
def test(env: Env, channel: str, locale: str, as_json: bool) -> None:
    """Send a test message now; exit 1 when it was not delivered."""
    ch = _find(env, channel)
    result = env.app().channels.test(ch.id, locale=locale)
    if as_json:
        echo_json(result.to_dict())
    elif result.ok:
        Out(env.color).line(f"sent through {ch.name}: code {result.code} in "
                            f"{result.duration:.2f} s")
    else:
        click.echo(f"error: not delivered through {ch.name}: {result.error}", err=True)
    if not result.ok:
        raise SystemExit(1)
