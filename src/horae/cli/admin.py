"""``horae db upgrade`` and ``horae tasks list``."""

from __future__ import annotations

from typing import Any

import click

from horae.cli.env import Env, pass_env, safe_url
from horae.cli.render import Out, echo_json, short, styled
from horae.models import TaskInfo


@click.group()
def db() -> None:
    """The database: schema migrations."""


@db.command()
@pass_env
def upgrade(env: Env) -> None:
    """Apply pending migrations (safe to run while Horae runs, and more than once)."""
    app = env.app(migrate=False)
    applied = app.store.migrate()
    where = safe_url(app.database_url)
    if applied:
        click.echo(f"applied {applied} migration{'s' if applied != 1 else ''} to {where}")
    else:
        click.echo(f"{where} is up to date; no migration applied")


@click.group()
def tasks() -> None:
    """The task catalogue: tasks of -A's app plus those running workers advertise."""


@tasks.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_env
def list_(env: Env, as_json: bool) -> None:
    """List the tasks that can be scheduled, with their arguments."""
    app = env.client()
    local = {t.name: t.info() for t in app.registry}
    advertised = {t.name: t for t in app.tasks_list()}
    names = sorted(set(local) | set(advertised))
    entries = [(local.get(n) or advertised[n], n in local, n in advertised) for n in names]
    if as_json:
        echo_json([_task_json(info, here, there) for info, here, there in entries])
        return
    rows = [[styled(info.name, "bold"), _signature(info.schema), info.queue, info.mode,
             str(info.retries), "" if info.timeout is None else f"{info.timeout:g}s",
             " + ".join(w for w, on in (("app", here), ("workers", there)) if on),
             short(info.doc, 50)]
            for info, here, there in entries]
    Out(env.color).table(
        ["NAME", "ARGUMENTS", "QUEUE", "MODE", "RETRIES", "TIMEOUT", "FROM", "DOC"], rows,
        empty="no tasks: give -A module:app, or start a worker so it advertises its tasks")


def _task_json(info: TaskInfo, local: bool, advertised: bool) -> dict[str, Any]:
    return {"name": info.name, "schema": info.schema, "queue": info.queue, "mode": info.mode,
            "doc": info.doc, "retries": info.retries, "timeout": info.timeout,
            "local": local, "advertised": advertised}


def _signature(schema: dict[str, Any]) -> str:
    """``name: string = "world", targets: array`` from a task's JSON Schema."""
    required = set(schema.get("required", []))
    parts = []
    for name, prop in schema.get("properties", {}).items():
        kind = prop.get("type", "any") if isinstance(prop, dict) else "any"
        text = f"{name}: {kind if isinstance(kind, str) else '|'.join(kind)}"
        if name not in required and isinstance(prop, dict) and "default" in prop:
            text += f" = {short(prop['default'], 20)}"
        parts.append(text)
    if schema.get("additionalProperties"):
        parts.append("**kwargs")
    return ", ".join(parts)
