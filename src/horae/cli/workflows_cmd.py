"""``horae workflows add|list|show|update|remove|run``: workflow definitions from JSON
files, and starting workflow runs.

The file is the JSON form of docs/workflows.md. Changes go through the database, or with
``--url`` through a server's REST API, and are audited like schedule changes (by the
server, under the token's name, over ``--url``).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from horae.cli.audit import audited
from horae.cli.env import Env, pass_env
from horae.cli.render import Out, echo_json, relative, short, styled
from horae.errors import InvalidInput
from horae.instants import iso
from horae.workflows.model import CALLBACKS, Workflow

_FILE_HELP = "The workflow's JSON definition (see docs/workflows.md); - reads stdin."


def read_definition(path: str) -> dict[str, Any]:
    """The JSON object in ``path`` (``-``: stdin); InvalidInput (exit 2) names the file."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as f:
                text = f.read()
    except OSError as exc:
        raise InvalidInput("file", f"cannot read {path!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InvalidInput("file", f"{path!r} is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput("file", f"{path!r} is not valid JSON: {exc.msg} at line "
                                   f"{exc.lineno} column {exc.colno}") from None
    if not isinstance(data, dict):
        raise InvalidInput("file", f"{path!r} must hold a JSON object with \"steps\"")
    return data


def _record(w: Workflow) -> dict[str, Any]:
    return w.to_dict()


@click.group()
def workflows() -> None:
    """Create, change, inspect and run workflows: DAGs of steps."""


@workflows.command()
@click.argument("workflow_id", metavar="ID")
@click.option("--file", "-f", "path", required=True, metavar="FILE", help=_FILE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the workflow as JSON.")
@pass_env
def add(env: Env, workflow_id: str, path: str, as_json: bool) -> None:
    """Add a workflow from a JSON file.

    \b
    horae workflows add segment-scan --file scan.json
    """
    data = read_definition(path)
    app = env.client()
    with audited(env, "workflow.create", "workflow", target=workflow_id, after=_record):
        w = app.workflows.add(workflow_id, data)
    _report(env, w, "added", as_json)


@workflows.command()
@click.argument("workflow_id", metavar="ID")
@click.option("--file", "-f", "path", required=True, metavar="FILE", help=_FILE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the workflow as JSON.")
@pass_env
def update(env: Env, workflow_id: str, path: str, as_json: bool) -> None:
    """Replace a workflow's definition with a JSON file's.

    When the file has a "version" (as `show --json` prints it), the change is made only if
    the workflow is still at that version; otherwise it applies to the current one.
    """
    data = read_definition(path)
    expected = data.get("version")
    if expected is not None and (isinstance(expected, bool) or not isinstance(expected, int)):
        raise InvalidInput("version", "must be the whole number `show --json` printed")
    app = env.client()
    current = app.workflows.get(workflow_id)
    with audited(env, "workflow.update", "workflow", target=workflow_id,
                 before=lambda: _record(current), after=_record):
        w = app.workflows.update(workflow_id, data, expected_version=expected
                                 if expected is not None else current.version)
    _report(env, w, "changed", as_json)


def _report(env: Env, w: Workflow, verb: str, as_json: bool) -> None:
    if as_json:
        echo_json(w.to_dict())
        return
    Out(env.color).line(f"{verb} workflow {w.id!r}: {len(w.steps)} step"
                        f"{'' if len(w.steps) == 1 else 's'}, version {w.version}")


@workflows.command("list")
@click.option("--search", metavar="TEXT", help="Text in the id or description.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_env
def list_(env: Env, search: str | None, limit: int, as_json: bool) -> None:
    """List workflows, ordered by id."""
    app = env.client()
    found = app.workflows.list(search=search, limit=limit)
    if as_json:
        echo_json([w.to_dict() for w in found])
        return
    now = app.now()
    rows: list[list[Any]] = [
            [styled(w.id, "bold"), str(len(w.steps)), short(" ".join(w.tasks()), 50),
             str(w.version), relative(w.updated_at, now), short(w.description, 40)]
            for w in found]
    Out(env.color).table(["ID", "STEPS", "TASKS", "VERSION", "UPDATED", "DESCRIPTION"], rows,
                         empty="no workflows; add one with `horae workflows add ID --file F`")


@workflows.command()
@click.argument("workflow_id", metavar="ID")
@click.option("--version", "version", type=click.IntRange(min=1), metavar="N",
              help="An earlier version (versions are kept, also after a remove).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@pass_env
def show(env: Env, workflow_id: str, version: int | None, as_json: bool) -> None:
    """One workflow: its steps, their dependencies and its callbacks."""
    app = env.client()
    w = app.workflows.get(workflow_id, version)
    if as_json:
        echo_json(w.to_dict())
        return
    now = app.now()
    out = Out(env.color)
    callbacks = [(name.replace("_", " "), f"{c.task} {_json(c.kwargs) if c.kwargs else ''}")
                 for name in CALLBACKS if (c := getattr(w, name)) is not None]
    out.fields([("id", styled(w.id, "bold")), ("description", w.description),
                ("version", f"{w.version} (kept: "
                            f"{', '.join(map(str, app.workflows.versions(w.id)))})"),
                *callbacks,
                ("created", f"{iso(w.created_at)} ({relative(w.created_at, now)})"),
                ("updated", f"{iso(w.updated_at)} ({relative(w.updated_at, now)})")])
    out.line()
    rows: list[list[Any]] = [
            [styled(s.id, "bold"), s.task, ", ".join(s.after),
             "" if s.map is None else (s.map if isinstance(s.map, str)
                                       else f"{len(s.map)} items"),
             s.trigger_rule, short(_json(s.kwargs) if s.kwargs else "", 40), _options(s)]
            for s in w.steps]
    out.table(["STEP", "TASK", "AFTER", "MAP", "RULE", "KWARGS", "OPTIONS"], rows)


def _options(step: Any) -> str:
    names = ("queue", "retries", "timeout", "priority", "concurrency")
    return " ".join(f"{n}={getattr(step, n):g}" if isinstance(getattr(step, n), float)
                    else f"{n}={getattr(step, n)}" for n in names if getattr(step, n) is not None)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def stdin_is_tty() -> bool:
    """Whether a person can answer a question (tests replace this)."""
    return sys.stdin.isatty()


@workflows.command()
@click.argument("workflow_id", metavar="ID")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_env
def remove(env: Env, workflow_id: str, yes: bool) -> None:
    """Remove a workflow (its versions stay readable). Asks first on a terminal."""
    app = env.client()
    current = app.workflows.get(workflow_id)  # "not found" before asking
    if not yes and stdin_is_tty():
        click.confirm(f"Remove workflow {workflow_id!r}?", abort=True)
    with audited(env, "workflow.delete", "workflow", target=workflow_id,
                 before=lambda: _record(current)):
        app.workflows.remove(workflow_id, expected_version=current.version)
    Out(env.color).line(f"removed workflow {workflow_id!r}")


workflows.add_command(remove, "rm")


@workflows.command()
@click.argument("workflow_id", metavar="ID")
@click.option("--kwargs", "kwargs_json", metavar="JSON",
              help="Keyword arguments for every root step, as a JSON object.")
@click.option("--version", "version", type=click.IntRange(min=1), metavar="N",
              help="Run a kept earlier version instead of the current one.")
@click.option("--wait", "wait_", is_flag=True,
              help="Wait for the outcome: print it, exit 1 unless it succeeded.")
@click.option("--timeout", metavar="S",
              help="With --wait: give up waiting after S seconds; the run goes on.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the workflow run as a JSON object (with --wait: the ended run).")
@click.pass_context
def run(ctx: click.Context, workflow_id: str, kwargs_json: str | None, version: int | None,
        wait_: bool, timeout: str | None, as_json: bool) -> None:
    """Start a workflow run: its root steps are queued at once; prints its id.

    \b
    horae workflows run segment-scan --kwargs '{"segment": "10.0.3.0/24"}' --wait
    """
    from horae.cli.run_create import report_run, run_wire_record, wait_limit
    from horae.cli.schedules import arguments_from_options

    env = ctx.ensure_object(Env)
    limit = wait_limit(wait_, timeout)
    kwargs = arguments_from_options({"args_json": None, "kwargs_json": kwargs_json})
    app = env.app()
    with audited(env, "workflow.run", "workflow", target=workflow_id, after=run_wire_record):
        started = app.workflows.run(workflow_id, kwargs.get("kwargs"), version=version)
    report_run(ctx, env, started, wait_, limit, as_json, f" of workflow {workflow_id!r}")
