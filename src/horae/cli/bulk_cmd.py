"""``horae runs cancel-many|retry-many`` and ``horae schedules pause-many|resume-many``:
count what a filter matches, ask, then change it all in one transaction.

Without a terminal the change needs ``--yes`` (a script that meant to cancel three runs
must not cancel three thousand because a filter was mistyped); ``--dry-run`` only counts.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from horae.cli.audit import audited
from horae.cli.env import Env, pass_env
from horae.cli.render import Out, echo_json
from horae.errors import InvalidInput
from horae.store.bulk_queries import BulkOutcome


def _filter_options(states_help: str) -> Callable[[Any], Any]:
    def wrap(f: Any) -> Any:
        for option in reversed((
            click.option("--schedule", "schedule", metavar="ID", help="Runs of this schedule."),
            click.option("--task", metavar="NAME", help="Runs of this task."),
            click.option("--queue", metavar="Q", help="Runs on this queue."),
            click.option("--tag", metavar="TAG", help="Runs of schedules with this tag."),
            click.option("--state", "states", multiple=True, metavar="STATE",
                         help=states_help),
            click.option("--dry-run", is_flag=True, help="Only count them; change nothing."),
            click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation."),
            click.option("--json", "as_json", is_flag=True, help="Print a JSON object."),
        )):
            f = option(f)
        return f
    return wrap


def _describe(out: BulkOutcome) -> str:
    by_state = ", ".join(f"{state} {n}" for state, n in sorted(out.matched.items()))
    return f"{out.total} ({by_state or 'none'}) matching {out.selection.label(states=False)}"


def _run_bulk(env: Env, action: str, verb: str, change: Callable[..., BulkOutcome],
              filters: dict[str, Any], dry_run: bool, yes: bool, as_json: bool) -> None:
    count = change(dry_run=True, **filters)
    if dry_run or count.total == 0:
        if as_json:
            echo_json(count.as_dict())
        else:
            Out(env.color).line(f"would {verb} {_describe(count)}" if count.total
                                else f"nothing to {verb}: {_describe(count)}")
        return
    if not yes:
        if not sys.stdin.isatty():
            raise InvalidInput("yes", f"this would {verb} {count.total}: give --yes to confirm"
                                      " without a terminal (or --dry-run to only count)")
        click.confirm(f"{verb.capitalize()} {_describe(count)}?", abort=True)
    with audited(env, action, "bulk", target=lambda out: out.selection.label(),
                 after=lambda out: out.as_dict() | {"ids": out.ids[:1000]}):
        done = change(**filters)
    if as_json:
        echo_json(done.as_dict())
    else:
        Out(env.color).line(f"{verb_past(verb)} {done.changed}"
                            + (f" of {count.total} counted" if done.changed != count.total
                               else ""))


def verb_past(verb: str) -> str:
    return {"cancel": "cancelled", "retry": "retried", "pause": "paused",
            "resume": "resumed"}[verb]


@click.command("cancel-many")
@_filter_options("Only runs in this state (repeatable; default: queued, scheduled, "
                 "retrying; `running` asks running ones to stop).")
@pass_env
def cancel_many(env: Env, schedule: str | None, task: str | None, queue: str | None,
                tag: str | None, states: tuple[str, ...], dry_run: bool, yes: bool,
                as_json: bool) -> None:
    """Cancel every run of a schedule, task, queue or tag (counts and asks first)."""
    filters = {"schedule": schedule, "task": task, "queue": queue, "tag": tag,
               "states": list(states) or None}
    _run_bulk(env, "runs.cancel", "cancel", env.client().runs.cancel_many, filters, dry_run,
              yes, as_json)


@click.command("retry-many")
@_filter_options("Only runs that ended in this state (repeatable; default: failed, "
                 "timed_out, lost).")
@pass_env
def retry_many(env: Env, schedule: str | None, task: str | None, queue: str | None,
               tag: str | None, states: tuple[str, ...], dry_run: bool, yes: bool,
               as_json: bool) -> None:
    """Retry every finished run of a schedule, task, queue or tag, once each."""
    filters = {"schedule": schedule, "task": task, "queue": queue, "tag": tag,
               "states": list(states) or None}
    _run_bulk(env, "runs.retry", "retry", env.client().runs.retry_many, filters, dry_run,
              yes, as_json)


def _tag_command(name: str, verb: str, paused: bool) -> click.Command:
    @click.command(name)
    @click.option("--tag", required=True, metavar="TAG", help="Schedules with this tag.")
    @click.option("--dry-run", is_flag=True, help="Only count them; change nothing.")
    @click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
    @click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
    @pass_env
    def command(env: Env, tag: str, dry_run: bool, yes: bool, as_json: bool) -> None:
        schedules = env.client().schedules
        change = schedules.pause_many if paused else schedules.resume_many
        count = change(tag=tag, dry_run=True)
        if dry_run or count.total == 0:
            if as_json:
                echo_json(count.as_dict())
            else:
                Out(env.color).line(f"would {verb} {count.total} schedules tagged {tag!r}")
            return
        if not yes:
            if not sys.stdin.isatty():
                raise InvalidInput("yes", f"this would {verb} {count.total} schedules: give"
                                          " --yes to confirm without a terminal")
            click.confirm(f"{verb.capitalize()} {count.total} schedules tagged {tag!r}?",
                          abort=True)
        from horae.cli.audit import audited_batch

        with audited_batch(env):  # one record per schedule, as `schedules apply` writes
            done = change(tag=tag)
        if as_json:
            echo_json(done.as_dict())
        else:
            Out(env.color).line(f"{verb_past(verb)} {done.changed} schedules tagged {tag!r}")

    command.__doc__ = (f"{verb.capitalize()} every schedule with a tag (counts and asks "
                       "first).")
    return command


pause_many = _tag_command("pause-many", "pause", True)
resume_many = _tag_command("resume-many", "resume", False)
