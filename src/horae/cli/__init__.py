"""``horae``: the command line. Run ``horae --help``; docs/cli.md has every command.

Exit codes: 0 success; 1 a failure (not found, conflict, database unreachable, a run that
did not succeed); 2 bad input or usage (the message names the field); 130 interrupted.
Errors are one line on stderr, never a traceback (``--debug`` shows it).
"""

from __future__ import annotations

import io
import os
import sqlite3
import sys
from typing import Any

import click

from horae import __version__
from horae.cli.env import Env, safe_url
from horae.errors import HoraeError, InvalidInput


class HoraeGroup(click.Group):
    """The root group: turns every error a command raises into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:  # `horae runs list | head`: the reader left, so stop quietly
            _silence_stdout()
            ctx.exit(141)
        except KeyboardInterrupt:
            if ctx.params.get("debug"):
                raise
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            env = ctx.find_object(Env)
            message, code = describe_error(exc, env)
            click.echo(f"error: {message}", err=True)
            ctx.exit(code)


def describe_error(exc: Exception, env: Env | None) -> tuple[str, int]:
    """One line for a person, and the exit code."""
    if isinstance(exc, InvalidInput):
        return f"{exc.field}: {exc.reason}", 2
    if isinstance(exc, HoraeError):  # NotFound, Conflict, ...
        return str(exc), 1
    if _is_database_error(exc):
        url = "?"
        if env is not None:
            try:
                url = safe_url(env.url)
            except Exception:  # the URL itself may be what is broken
                url = "?"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (f"cannot use the database {url}: {reason} "
                "(check --db, HORAE_DATABASE_URL or horae.toml)"), 1
    return (f"unexpected {type(exc).__name__}: {exc} (run with --debug to see where; "
            "please report it)"), 1


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):  # not a real file (tests)
        pass


def _is_database_error(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.Error):
        return True
    return any(c.__module__.split(".")[0] in ("psycopg", "psycopg_pool")
               for c in type(exc).__mro__)


@click.group(cls=HoraeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-A", "--app", "app_spec", metavar="MODULE:ATTR",
              help="Your Horae object, e.g. myproject.jobs:app. Without it, commands check "
                   "tasks against the catalogue that running workers advertise.")
@click.option("--db", metavar="URL",
              help="Database URL (default: HORAE_DATABASE_URL, horae.toml, "
                   "else sqlite:///horae.db).")
@click.option("--url", "remote_url", metavar="URL", envvar="HORAE_URL",
              help="Talk to a Horae server over its REST API (e.g. http://host:8765) "
                   "instead of the database [HORAE_URL].")
@click.option("--token", metavar="TOKEN", envvar="HORAE_TOKEN",
              help="API token for --url [HORAE_TOKEN].")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto",
              show_default=True, help="Colour and tables: auto means only on a terminal.")
@click.option("--debug", is_flag=True, help="Show Python tracebacks instead of one-line errors.")
@click.version_option(__version__, prog_name="horae")
@click.pass_context
def cli(ctx: click.Context, app_spec: str | None, db: str | None, remote_url: str | None,
        token: str | None, color: str, debug: bool) -> None:
    """Horae: a dynamic job scheduler. Schedules and runs live in a database."""
    env = ctx.ensure_object(Env)
    env.app_spec, env.db, env.debug, env.color = app_spec, db, debug, color
    if remote_url is not None and not remote_url.strip():
        remote_url = None  # HORAE_URL= (empty) means: not remote
    if remote_url is not None and (db is not None or app_spec is not None):
        raise click.UsageError("--url talks to a server over its API; --db and -A talk to "
                               "the database: give one or the other")
    env.remote_url, env.token = remote_url, token
    ctx.call_on_close(env.close)


def _register() -> None:
    from horae.cli.admin import db, tasks
    from horae.cli.api_cmds import api, tokens
    from horae.cli.backfill_cmd import backfill, backfill_cancel, backfills
    from horae.cli.bulk_cmd import cancel_many, pause_many, resume_many, retry_many
    from horae.cli.channels_cmd import channels
    from horae.cli.explain_cmd import explain
    from horae.cli.run_create import create, run_schedule
    from horae.cli.runs import runs
    from horae.cli.schedule_apply import apply
    from horae.cli.schedules import schedules
    from horae.cli.serve import scheduler, server, worker
    from horae.cli.users_cmd import users
    from horae.cli.workers_cmd import queues, workers
    from horae.cli.workflows_cmd import workflows

    schedules.add_command(apply)
    schedules.add_command(explain)
    for command in (backfill, backfills, backfill_cancel):
        schedules.add_command(command)
    schedules.add_command(run_schedule)
    runs.add_command(create)
    for command in (cancel_many, retry_many):
        runs.add_command(command)
    for command in (pause_many, resume_many):
        schedules.add_command(command)
    for command in (server, scheduler, worker, workers, queues, schedules, runs, tasks, db,
                    api, tokens, users, workflows, channels):
        cli.add_command(command)


_register()


def main() -> None:
    """The ``horae`` console script."""
    cli(prog_name="horae")


__all__ = ["cli", "main"]
