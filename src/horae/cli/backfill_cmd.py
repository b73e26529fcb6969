"""``horae schedules backfill|backfills|backfill-cancel``: run a schedule over a past range.

``backfill`` shows what it would run first: the count and the first and last fire times
(``--dry-run``: every fire with its markers), and asks before it starts unless ``--yes``.
"""

from __future__ import annotations

from typing import Any

import click

from horae.backfill import Backfill, BackfillPlan
from horae.cli import schedules as schedules_cli
from horae.cli.audit import audited, cli_actor
from horae.cli.env import Env, pass_env
from horae.cli.render import Out, echo_json, in_zone
from horae.instants import iso

_MARKERS = {"dst_gap_shifted": "DST gap: moved to its end",
            "dst_ambiguous_fold_0": "DST repeat: first pass",
            "dst_ambiguous_fold_1": "DST repeat: second pass"}


def _instant(text: str) -> Any:
    """Epoch seconds as a number, anything else as ISO-8601 text (checked by the app)."""
    try:
        return float(text)
    except ValueError:
        return text


@click.command("backfill")
@click.argument("schedule_id", metavar="ID")
@click.option("--from", "start", required=True, metavar="TIME",
              help="First instant, inclusive (ISO-8601 with an offset, or epoch seconds).")
@click.option("--to", "end", required=True, metavar="TIME",
              help="Last instant, exclusive; not in the future.")
@click.option("--concurrency", default=1, show_default=True, metavar="N", type=int,
              help="At most N of its runs at once (1..100).")
@click.option("--dry-run", is_flag=True, help="Print every fire it would run; start nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_env
def backfill(env: Env, schedule_id: str, start: str, end: str, concurrency: int,
             dry_run: bool, yes: bool, as_json: bool) -> None:
    """Run a schedule over a past range: each fire time in [--from, --to) becomes a run
    with origin backfill (ctx.fire_time is that time); fires that already have a run are
    skipped. Prints the plan first and asks unless --yes."""
    app = env.client()
    first, last = _instant(start), _instant(end)
    plan = app.schedules.backfill(schedule_id, first, last, concurrency=concurrency,
                                  dry_run=True)
    assert isinstance(plan, BackfillPlan)
    out = Out(env.color)
    if dry_run:
        if as_json:
            echo_json(plan.to_dict())
            return
        _print_plan(out, plan, every=True)
        return
    if not as_json:
        _print_plan(out, plan, every=False)
    if plan.total - plan.already_run == 0:  # run twice: the second time finds nothing
        out.line("nothing to do: every fire in this range already has a run")
        return
    if not yes and schedules_cli.stdin_is_tty():
        click.confirm(f"Start a backfill of {plan.total - plan.already_run} runs?", abort=True)
    with audited(env, "schedule.backfill", "schedule", target=schedule_id,
                 after=lambda b: b.to_dict()):
        made = app.schedules.backfill(  # through a server, the server names the token
            schedule_id, first, last, concurrency=concurrency,
            created_by=None if env.remote_url is not None else cli_actor())
    assert isinstance(made, Backfill)
    if as_json:
        echo_json(made.to_dict())
        return
    out.line(f"started backfill {made.id} of schedule {schedule_id!r}: {made.total} fires, "
             f"at most {made.concurrency} at once; follow it with "
             f"`horae schedules backfills {schedule_id}`")


def _print_plan(out: Out, plan: BackfillPlan, *, every: bool) -> None:
    zone = plan.zone
    out.line(f"{plan.total} fires of {plan.schedule_id!r} in [{iso(plan.start)}, "
             f"{iso(plan.end)}); {plan.already_run} already have a run, "
             f"{plan.total - plan.already_run} to run", "bold")
    if not plan.fires:
        return
    shown = plan.fires if every else [plan.fires[0], plan.fires[-1]]
    rows = [[iso(f.fire_time) or "", in_zone(f.fire_time, zone),
             "; ".join(_MARKERS.get(m, m) for m in f.markers),
             "already ran" if f.has_run else ""] for f in shown]
    if not every:
        out.line(f"first {rows[0][0]}, last {rows[-1][0]}")
        marked = sum(bool(f.markers) for f in plan.fires)
        if marked:
            out.line(f"{marked} of them fall on a DST change (see --dry-run)")
        return
    out.table(["UTC", zone, "MARKERS", ""], rows)


@click.command("backfills")
@click.argument("schedule_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_env
def backfills(env: Env, schedule_id: str, as_json: bool) -> None:
    """A schedule's backfills, newest first, with their progress."""
    found = env.client().schedules.backfills(schedule_id)
    if as_json:
        echo_json([b.to_dict() for b in found])
        return
    Out(env.color).table(
        ["ID", "STATE", "RANGE", "DONE", "CONC", "NEXT", "BY"],
        [[str(b.id), b.state, f"{iso(b.start)} → {iso(b.end)}",
          f"{b.created + b.skipped_existing}/{b.total} ({b.skipped_existing} had a run)",
          str(b.concurrency), iso(b.cursor) or "", b.created_by or ""] for b in found],
        empty="no backfills")


@click.command("backfill-cancel")
@click.argument("schedule_id", metavar="ID")
@click.argument("backfill_id", metavar="BACKFILL", type=int)
@pass_env
def backfill_cancel(env: Env, schedule_id: str, backfill_id: int) -> None:
    """Stop a running backfill: nothing more is queued, its waiting runs are cancelled."""
    with audited(env, "schedule.backfill_cancel", "schedule", target=schedule_id,
                 after=lambda b: b.to_dict()):
        b = env.client().schedules.backfill_cancel(schedule_id, backfill_id)
    Out(env.color).line(f"cancelled backfill {b.id} ({b.created} runs were created)")
