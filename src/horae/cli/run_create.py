"""``horae runs create TASK`` and ``horae schedules run ID``: one run now, with your own
arguments, optionally waiting for its outcome."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from horae.cli.audit import audited
from horae.cli.env import Env, parse_seconds
from horae.cli.render import echo_json, run_json
from horae.cli.runs import wait_for_outcome
from horae.cli.schedules import arguments_from_options
from horae.models import Run


def run_wire_record(run: Run) -> dict[str, Any]:
    from horae.api.schemas import run_wire

    return run_wire(run)


def _run_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options both commands share: arguments, waiting, output."""
    for option in reversed([
        click.option("--kwargs", "kwargs_json", metavar="JSON",
                     help='Keyword arguments as a JSON object, e.g. \'{"region": "eu"}\'.'),
        click.option("--args", "args_json", metavar="JSON",
                     help="Positional arguments as a JSON array."),
        click.option("--wait", "wait_", is_flag=True,
                     help="Wait for the outcome: print it, exit 1 unless it succeeded."),
        click.option("--timeout", metavar="S",
                     help="With --wait: give up waiting after S seconds (e.g. 90, 5m); the "
                          "run goes on."),
        click.option("--json", "as_json", is_flag=True,
                     help="Print the run as a JSON object (with --wait: the ended run)."),
    ]):
        func = option(func)
    return func


def wait_limit(wait_: bool, timeout: str | None) -> float | None:
    """Checked before anything is written."""
    if timeout is None:
        return None
    if not wait_:
        raise click.UsageError("--timeout is how long --wait waits: give --wait too")
    return parse_seconds(timeout, "timeout")


def report_run(ctx: click.Context, env: Env, run: Run, wait_: bool, limit: float | None,
            as_json: bool, hint: str) -> None:
    env.warn_unserved([run.queue])
    if wait_:
        wait_for_outcome(ctx, env, run.id, limit, as_json=as_json)
        return
    if as_json:
        echo_json(run_json(run))
        return
    click.echo(run.id)
    if sys.stdout.isatty():
        click.echo(f"queued run {run.id}{hint}; follow it with `horae runs wait {run.id}`",
                   err=True)


@click.command("create")
@click.argument("task", metavar="TASK")
@_run_options
@click.option("--queue", metavar="Q", help="Run on this queue (default: the task's).")
@click.option("--priority", type=int, metavar="N",
              help="Higher runs first among waiting runs (-1000..1000, default 0).")
@click.pass_context
def create(ctx: click.Context, task: str, kwargs_json: str | None, args_json: str | None,
           wait_: bool, timeout: str | None, as_json: bool, queue: str | None,
           priority: int | None) -> None:
    """Run TASK once now, with your arguments; prints the new run's id.

    \b
    horae runs create reports.build --kwargs '{"region": "eu"}' --wait
    horae runs create reports.build --kwargs '{"region": "us"}' --queue reports --json

    The arguments are checked against the task's schema (from -A, or the catalogue
    workers advertise): a bad one is named and nothing is created (exit 2).
    """
    env = ctx.ensure_object(Env)
    limit = wait_limit(wait_, timeout)
    fields = arguments_from_options({"args_json": args_json, "kwargs_json": kwargs_json})
    policies: dict[str, Any] = {k: v for k, v in (("queue", queue), ("priority", priority))
                                if v is not None}
    app = env.client()
    # The store's result is the list of runs it added (one here).
    with audited(env, "run.create", "run", target=lambda runs: runs[0].id,
                 after=lambda runs: run_wire_record(runs[0])):
        run = app.runs.create(task, **fields, **policies)
    report_run(ctx, env, run, wait_, limit, as_json, "")


@click.command("run")
@click.argument("schedule_id", metavar="ID")
@_run_options
@click.pass_context
def run_schedule(ctx: click.Context, schedule_id: str, kwargs_json: str | None,
                 args_json: str | None, wait_: bool, timeout: str | None,
                 as_json: bool) -> None:
    """Run a schedule once now, optionally with other arguments; prints the run's id.

    \b
    horae schedules run nightly-eu --kwargs '{"region": "eu-west"}' --wait

    --kwargs / --args replace the schedule's own for this run only (the schedule does not
    change); without them the run is what `schedules trigger` queues.
    """
    env = ctx.ensure_object(Env)
    limit = wait_limit(wait_, timeout)
    fields = arguments_from_options({"args_json": args_json, "kwargs_json": kwargs_json})
    app = env.client()
    with audited(env, "schedule.trigger", "schedule", target=schedule_id,
                 after=lambda runs: run_wire_record(runs[0])):
        run = app.schedules.trigger_now(schedule_id, **fields)
    report_run(ctx, env, run, wait_, limit, as_json, f" of schedule {schedule_id!r}")
