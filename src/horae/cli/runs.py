"""``horae runs list|show|logs|cancel|retry|wait|prune`` (``create``: cli/run_create.py)."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from contextlib import nullcontext

import click
from rich.text import Text

from horae import retention
from horae.cli.audit import audited
from horae.cli.env import Client, Env, parse_seconds, pass_env
from horae.cli.render import (
    LEVEL_STYLES,
    Bar,
    Cell,
    Out,
    RunProgress,
    duration,
    echo_json,
    relative,
    run_json,
    short,
    state_cell,
    styled,
)
from horae.config import RetentionSettings
from horae.errors import InvalidInput
from horae.instants import iso
from horae.models import TERMINAL_STATES, LogLine, Run, RunState

POLL = 0.2  # seconds between looks at a run we follow; a person does not notice
LOG_PAGE = 1000


@click.group()
def runs() -> None:
    """Create, inspect and control runs: create, list, show, logs, cancel, retry, wait,
    prune."""


@runs.command("list")
@click.option("--schedule", "schedule_id", metavar="ID", help="Only runs of this schedule.")
@click.option("--task", metavar="NAME", help="Only runs of this task.")
@click.option("--state", "states", multiple=True,
              type=click.Choice([s.value for s in RunState]), help="Only these states "
              "(repeatable).")
@click.option("--queue", metavar="Q", help="Only runs on this queue.")
@click.option("--parent", "parent_id", type=click.IntRange(min=1), metavar="ID",
              help="Only the children of this run (a broadcast or shard parent).")
@click.option("--step", metavar="STEP",
              help="Only the runs of this workflow step (through the database).")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_env
def list_(env: Env, schedule_id: str | None, task: str | None, states: tuple[str, ...],
          queue: str | None, parent_id: int | None, step: str | None, limit: int,
          as_json: bool) -> None:
    """List runs, newest first."""
    app = env.client()
    if step is None:
        found = app.runs.list(schedule_id=schedule_id, task=task, states=states, queue=queue,
                              parent_id=parent_id, limit=limit)
    else:  # the REST list has no step filter: read the database
        app = env.app()
        found = app.runs.list(schedule_id=schedule_id, task=task, states=states, queue=queue,
                              parent_id=parent_id, step=step, limit=limit)
    if as_json:
        echo_json([run_json(r) for r in found])
        return
    now = app.now()
    rows: list[list[Cell]] = [[
        styled(str(r.id), "bold"), r.schedule_id or "", r.task, state_cell(r.state.value),
        f"{r.attempt}/{r.max_attempts}", r.queue,
        relative(r.fire_time if r.fire_time is not None else r.created_at, now),
        _elapsed(r, now), _bar(r), _summary(r),
    ] for r in found]
    Out(env.color).table(
        ["ID", "SCHEDULE", "TASK", "STATE", "TRY", "QUEUE", "WHEN", "TOOK", "PROGRESS", "INFO"],
        rows, empty="no runs")


def _workflow_steps(app: Client, r: Run) -> dict[str, str] | None:
    """A workflow run's step states, when the client reads the database itself."""
    workflows = getattr(app, "workflows", None)
    if r.fanout != "workflow" or workflows is None:
        return None
    steps: dict[str, str] = workflows.steps(r.id)
    return steps


def _elapsed(r: Run, now: float) -> str:
    if r.state is RunState.RUNNING and r.started_at is not None:
        return duration(now - r.started_at)
    return duration(r.duration)


def _bar(r: Run) -> Cell:
    if r.state is RunState.RUNNING:
        return Bar(r.progress)
    return ""


def _summary(r: Run) -> Cell:
    if r.error:
        return styled(short(r.error, 50), "red")
    if r.state is RunState.RUNNING:
        return r.progress_message or ""
    if r.state is RunState.SUCCEEDED and r.result is not None:
        return short(r.result, 50)
    return ""


@runs.command()
@click.argument("run_id", metavar="ID", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@pass_env
def show(env: Env, run_id: int, as_json: bool) -> None:
    """Everything about one run: state, timing, result or error, progress."""
    app = env.client()
    r = app.runs.get(run_id)
    steps = _workflow_steps(app, r)
    if as_json:
        echo_json(run_json(r) | ({"steps": steps} if steps is not None else {}))
        return
    now = app.now()

    def when(epoch: float | None) -> str:
        return "" if epoch is None else f"{iso(epoch)} ({relative(epoch, now)})"

    pairs: list[tuple[str, Cell]] = [
        ("id", styled(str(r.id), "bold")), ("state", state_cell(r.state.value)),
        ("task", r.task), ("schedule", r.schedule_id or ""), ("origin", r.origin),
        ("attempt", f"{r.attempt} of {r.max_attempts}"), ("queue", r.queue),
        ("priority", str(r.priority)), ("fire time", when(r.fire_time)),
        ("created", when(r.created_at)), ("started", when(r.started_at)),
        ("finished", when(r.finished_at)), ("took", _elapsed(r, now)),
        ("worker", r.worker_id or ""),
        ("args", json.dumps(r.args)), ("kwargs", json.dumps(r.kwargs, ensure_ascii=False)),
    ]
    if r.progress is not None or r.progress_message:
        pairs.append(("progress", Bar(r.progress) if r.state is RunState.RUNNING
                      else f"{r.progress or 0:.0%}"))
        pairs.append(("progress message", r.progress_message or ""))
    if r.timeout is not None:
        pairs.append(("timeout", f"{r.timeout:g}s"))
    if r.cancel_requested and r.state not in TERMINAL_STATES:
        pairs.append(("cancel", styled("requested", "yellow")))
    if r.retry_of is not None:
        pairs.append(("retry of", str(r.retry_of)))
    if r.state is RunState.SUCCEEDED:
        pairs.append(("result", json.dumps(r.result, ensure_ascii=False)))
    if r.error:
        pairs.append(("error", styled(r.error, "red")))
    if r.step is not None:
        pairs.append(("step", f"{r.step} of workflow run {r.parent_id}"))
    if steps is not None:
        pairs.append(("steps", ", ".join(f"{k} {v}" for k, v in steps.items())))
    out = Out(env.color)
    out.fields(pairs)
    if r.traceback:
        out.line()
        out.line(r.traceback.rstrip(), "dim")


def _log_line(line: LogLine) -> Text:
    text = Text()
    text.append(f"{iso(line.ts)} ", style="dim")
    text.append(f"{line.level:<7} ", style=LEVEL_STYLES.get(line.level, ""))
    text.append(line.message)
    return text


def _logs_after(app: Client, run_id: int, after_id: int) -> list[LogLine]:
    lines: list[LogLine] = []
    while True:
        page = app.runs.logs(run_id, after_id)  # at most LOG_PAGE lines
        lines += page
        if len(page) < LOG_PAGE:
            return lines
        after_id = page[-1].id


@runs.command()
@click.argument("run_id", metavar="ID", type=int)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until the run ends.")
@pass_env
def logs(env: Env, run_id: int, follow: bool) -> None:
    """Print a run's log lines (prints and log records of the task)."""
    app = env.client()
    run = app.runs.get(run_id)
    out = Out(env.color)
    after = 0
    live = RunProgress(out, run_id)
    with live.shown() if follow else nullcontext(live):
        while True:
            lines = _logs_after(app, run_id, after)
            for line in lines:
                live.print(_log_line(line))
                after = line.id
            # The run was read before its logs: once it is terminal, every line is in.
            if not follow or run.state in TERMINAL_STATES:
                break
            live.update(run)
            time.sleep(POLL)
            run = app.runs.get(run_id)
    if follow:
        out.hint(f"run {run.id} {run.state.value}")


@runs.command()
@click.argument("run_id", metavar="ID", type=int)
@pass_env
def cancel(env: Env, run_id: int) -> None:
    """Cancel a waiting run, or ask a running one to stop."""
    from horae.api.schemas import run_wire

    app = env.client()
    with audited(env, "run.cancel", "run", target=run_id,
                 before=lambda: run_wire(app.runs.get(run_id)), after=run_wire):
        r = app.runs.cancel(run_id)
    out = Out(env.color)
    if r.state is RunState.CANCELLED:
        out.line(f"cancelled run {r.id}")
    else:
        out.line(f"asked run {r.id} to stop; it is {r.state.value} (`horae runs wait {r.id}` "
                 "shows when it has)")


@runs.command()
@click.argument("run_id", metavar="ID", type=int)
@pass_env
def retry(env: Env, run_id: int) -> None:
    """Run a finished run again (same task and arguments); prints the new run's id."""
    from horae.api.schemas import run_wire

    with audited(env, "run.retry", "run", target=run_id, after=run_wire):
        r = env.client().runs.retry(run_id)
    click.echo(r.id)
    env.warn_unserved([r.queue])
    if sys.stdout.isatty():
        click.echo(f"queued run {r.id} (a retry of {run_id})", err=True)


@runs.command()
@click.argument("run_id", metavar="ID", type=int)
@click.option("--timeout", metavar="S", help="Give up after S seconds (e.g. 90, 5m).")
@click.pass_context
def wait(ctx: click.Context, run_id: int, timeout: str | None) -> None:
    """Wait until a run ends: exit 0 if it succeeded, 1 otherwise."""
    env = ctx.ensure_object(Env)
    limit = None if timeout is None else parse_seconds(timeout, "timeout")
    wait_for_outcome(ctx, env, run_id, limit)


def wait_for_outcome(ctx: click.Context, env: Env, run_id: int, limit: float | None,
                     as_json: bool = False) -> None:
    """Follow a run until it ends, print its outcome (or its JSON), and exit 1 unless it
    succeeded or when ``limit`` seconds pass first."""
    app = env.client()
    out = Out(env.color)
    deadline = None if limit is None else time.monotonic() + limit
    with RunProgress(out, run_id).shown() as live:
        while True:
            run = app.runs.get(run_id)
            live.update(run)
            if run.state in TERMINAL_STATES:
                break
            if deadline is not None and time.monotonic() >= deadline:
                click.echo(f"error: run {run_id} is still {run.state.value} after "
                           f"{limit:g}s", err=True)
                ctx.exit(1)
            time.sleep(POLL)
    if as_json:
        echo_json(run_json(run))
        if run.state is not RunState.SUCCEEDED:
            ctx.exit(1)
        return
    line = state_cell(run.state.value)
    line = Text(f"run {run.id} ").append(line)
    if run.duration is not None:
        line.append(f" in {duration(run.duration)}")
    if run.state is RunState.SUCCEEDED:
        line.append(f": {short(run.result, 200)}" if run.result is not None else "")
    elif run.error:
        line.append(f": {run.error}", style="red")
    if out.rich:
        out.console.print(line)
    else:
        click.echo(line.plain)
    if run.state is not RunState.SUCCEEDED:
        ctx.exit(1)


@runs.command()
@click.option("--older-than", "older_than", metavar="DURATION",
              help="Delete finished runs that ended longer ago than this (e.g. 30d, 12h, "
                   "90m; default: the runs_keep_days setting).")
@click.option("--keep-per-schedule", "keep", type=click.IntRange(min=0), metavar="N",
              help="Keep the newest N fires of every existing schedule whatever their age "
                   "(default: the runs_keep_per_schedule setting; 0 keeps none).")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@pass_env
def prune(env: Env, older_than: str | None, keep: int | None, dry_run: bool,
          as_json: bool) -> None:
    """Delete old finished runs with their log lines, and old events, now.

    The scheduler does this by itself (docs/operations.md, "Retention"); this command
    does it at once, or shows with --dry-run what it would delete. It needs the database
    (--db): pruning is not offered over a server's API.
    """
    app = env.app()  # refuses --url first; connects only below, once the input is good
    settings = RetentionSettings.from_config()
    if keep is not None:
        settings = dataclasses.replace(settings, runs_keep_per_schedule=keep)
    age: float
    if older_than is not None:
        age = parse_seconds(older_than, "older-than")
        if age <= 0:
            raise InvalidInput("older-than", "must be a positive duration, e.g. 30d or 12h")
    elif settings.runs_age is not None:
        age = settings.runs_age
    else:
        raise InvalidInput("older-than", "give a duration: the runs_keep_days setting is 0 "
                                         "(runs are kept forever)")
    got = retention.prune(app.store, settings, runs_age=age, dry_run=dry_run)
    if as_json:
        echo_json({"runs": got.runs, "logs": got.logs, "events": got.events,
                   "dry_run": dry_run, "older_than": age,
                   "keep_per_schedule": settings.runs_keep_per_schedule})
        return
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb} {got.runs} runs, {got.logs} log lines and {got.events} events "
               f"(finished more than {duration(age)} ago; kept the newest "
               f"{settings.runs_keep_per_schedule} fires of every schedule)")
