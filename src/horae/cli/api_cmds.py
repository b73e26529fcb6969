"""``horae api`` (the REST API alone) and ``horae tokens create|list|revoke``."""

from __future__ import annotations

from typing import Any

import click

from horae.cli.audit import audited, cli_actor
from horae.cli.env import Env, pass_env
from horae.cli.render import Out, echo_json, styled
from horae.cli.serve import Plan, _logging, serve, web_services
from horae.instants import iso
from horae.store.api_store import ApiStore, TokenRecord


@click.command("api")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="info", show_default=True)
@click.option("--trusted-proxies", metavar="ADDRS", default=None,
              help="Comma-separated addresses/networks of reverse proxies whose "
                   "X-Forwarded-For is believed (default: none; HORAE_TRUSTED_PROXIES).")
@pass_env
def api(env: Env, host: str, port: int, log_level: str, trusted_proxies: str | None) -> None:
    """The REST API and the web console alone (no scheduler, no worker) on HOST:PORT.

    Run it beside `horae scheduler` and workers, on as many hosts as you like.
    """
    _logging(log_level)
    app = env.app()
    # The console too: it is pages over this same API, so any API host can serve it.
    plan = Plan(scheduler=False, worker=None,
                services=web_services(app, host, port, trusted_proxies))
    serve(env, app, plan, grace=5.0)


@click.group()
def tokens() -> None:
    """API tokens: bearer tokens with a role (viewer, operator, editor, admin)."""


def _store(env: Env) -> ApiStore:
    return ApiStore(env.app().store)


def _token_after(record: TokenRecord) -> dict[str, Any]:
    return {"id": record.id, "name": record.name, "role": record.role,
            "revoked_at": record.revoked_at}


@tokens.command("create")
@click.option("--role", type=click.Choice(["viewer", "operator", "editor", "admin"]),
              required=True, help="viewer reads; operator runs, pauses, cancels; editor also "
                                  "changes schedules; admin also manages tokens.")
@click.option("--name", default="", help="Who or what will use it (for lists and the audit).")
@click.option("--json", "as_json", is_flag=True, help="Print the token record as JSON.")
@pass_env
def create(env: Env, role: str, name: str, as_json: bool) -> None:
    """Create a token and print it: it is shown only this once."""
    from horae.api.auth import Role, mint_token

    store = _store(env)
    with audited(env, "token.create", "token", target=lambda r: r.id, after=_token_after):
        made = mint_token(store, name or role, Role.parse(role), cli_actor())
    assert made is not None
    token, record = made
    if as_json:
        echo_json({"id": record.id, "name": record.name, "role": record.role,
                   "created_at": iso(record.created_at), "token": token})
        return
    click.echo(token)
    click.echo(f"created {role} token {record.id} ({record.name}); it is shown only now",
               err=True)


@tokens.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_env
def list_(env: Env, as_json: bool) -> None:
    """List tokens (never their secrets)."""
    records = _store(env).tokens_list()
    if as_json:
        echo_json([{"id": t.id, "name": t.name, "role": t.role, "created_at": iso(t.created_at),
                    "created_by": t.created_by, "last_used_at": iso(t.last_used_at),
                    "revoked_at": iso(t.revoked_at)} for t in records])
        return
    rows = [[styled(t.id, "bold"), t.name, t.role, iso(t.created_at) or "",
             iso(t.last_used_at) or "", "revoked" if t.revoked_at else "active"]
            for t in records]
    Out(env.color).table(["ID", "NAME", "ROLE", "CREATED", "LAST USED", "STATE"], rows,
                         empty="no tokens; `horae tokens create --role admin` makes one")


@tokens.command("revoke")
@click.argument("token_id", metavar="ID")
@pass_env
def revoke(env: Env, token_id: str) -> None:
    """Revoke a token: every server refuses it from now on."""
    store = _store(env)
    with audited(env, "token.revoke", "token", target=lambda r: r.id, after=_token_after):
        record = store.token_revoke(token_id)
    Out(env.color).line(f"revoked token {record.id} ({record.name})")
