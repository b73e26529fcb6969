"""``horae users create|list|disable|passwd``: console user accounts, in the database.

Passwords are read twice from the terminal (hidden), or once from stdin with
``--password-stdin`` (for scripts); they are checked (at least 12 characters), hashed with
scrypt, and never printed, logged or audited. Each change is audited (actor
``cli:<user>``) in the change's own transaction.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from horae.cli.audit import audited, cli_actor
from horae.cli.env import Env, pass_env
from horae.cli.render import Out, echo_json, styled
from horae.errors import NotFound
from horae.instants import iso
from horae.store.user_store import UserRecord, UserStore

ROLES = ["viewer", "operator", "editor", "admin"]


@click.group()
def users() -> None:
    """Console users: a name, a password and a role (viewer, operator, editor, admin)."""


@contextmanager
def _audited(env: Env, action: str, before: Any = None) -> Iterator[None]:
    """Audit the user change the block makes, inside its transaction."""
    from horae.api.schemas import user_wire

    with audited(env, action, "user", target=lambda user: user.id, before=before,
                 after=user_wire):
        yield


def _store(env: Env) -> UserStore:
    return UserStore(env.app().store)


def _find(env: Env, name: str) -> UserRecord:
    user = _store(env).user_by_name(name)
    if user is None:
        raise NotFound("user", name)
    return user


def _read_password(from_stdin: bool) -> str:
    from horae.api.passwords import check_password

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True,
                                err=True)
    return check_password(password)


@users.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True,
              help="viewer reads; operator runs, pauses, cancels; editor also changes "
                   "schedules; admin also manages tokens and users.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of stdin instead of prompting.")
@click.option("--json", "as_json", is_flag=True, help="Print the user as JSON.")
@pass_env
def create(env: Env, name: str, role: str, password_stdin: bool, as_json: bool) -> None:
    """Create a user who signs in to the console with NAME and a password."""
    from horae.api.passwords import check_user_name, hash_password
    from horae.api.schemas import user_wire

    check_user_name(name)
    digest = hash_password(_read_password(password_stdin))
    with _audited(env, "user.create"):
        user = _store(env).user_add(name, role, digest, cli_actor())
    if as_json:
        echo_json(user_wire(user))
        return
    Out(env.color).line(f"created {role} user {user.name} (id {user.id})")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_env
def list_(env: Env, as_json: bool) -> None:
    """List users (never their passwords)."""
    from horae.api.schemas import user_wire

    records = _store(env).users_list()
    if as_json:
        echo_json([user_wire(u) for u in records])
        return
    rows = [[styled(str(u.id), "bold"), u.name, u.role, iso(u.created_at) or "",
             iso(u.password_changed_at) or "", "disabled" if u.disabled_at else "active"]
            for u in records]
    Out(env.color).table(["ID", "NAME", "ROLE", "CREATED", "PASSWORD CHANGED", "STATE"], rows,
                         empty="no users; `horae users create NAME --role admin` makes one")


@users.command("disable")
@click.argument("name")
@pass_env
def disable(env: Env, name: str) -> None:
    """Disable a user: the console refuses it from now on and its sessions end."""
    from horae.api.schemas import user_wire

    user = _find(env, name)
    with _audited(env, "user.disable", before=user_wire(user)):
        _store(env).user_update(user.id, disabled=True)
    Out(env.color).line(f"disabled user {user.name}")


@users.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of stdin instead of prompting.")
@pass_env
def passwd(env: Env, name: str, password_stdin: bool) -> None:
    """Set a user's password; every console session of the user ends."""
    from horae.api.passwords import hash_password

    user = _find(env, name)
    digest = hash_password(_read_password(password_stdin))
    with _audited(env, "user.password"):
        _store(env).user_set_password(user.id, digest)
    Out(env.color).line(f"set the password of {user.name}; their sessions ended")
