"""``horae schedules explain ID [--at TIME]``: why a schedule fired or not (horae.explain)."""

from __future__ import annotations

from typing import Any

import click

from horae.cli.env import Env, pass_env
from horae.cli.render import Out, echo_json
from horae.explain import instant_of

_LABELS = {"at": "at", "last": "last fire", "next": "next fire"}


@click.command("explain")
@click.argument("schedule_id", metavar="ID")
@click.option("--at", "at", metavar="TIME",
              help="The instant: ISO-8601 with a zone (2026-12-01T09:00:00+08:00), or "
                   "relative to now (-1h, +30m, now). Without it: the last fire and the next.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.option("--locale", default="en", show_default=True, metavar="LANG",
              help="The language of the reasons: en or zh-CN.")
@pass_env
def explain(env: Env, schedule_id: str, at: str | None, as_json: bool, locale: str) -> None:
    """Why a schedule fired or not at an instant, or whether and when it will.

    \b
    Verdicts: fired, skipped, missed, expired, paused, not_a_fire_time, before_start,
    after_end, max_fires_reached, superseded, scheduler_down, not_created, due,
    no_record; for a future instant will_fire or will_not_fire.
    """
    app = env.client()
    instant = None if at is None else instant_of(at, app.now(), "--at")
    result: dict[str, Any] = app.schedules.explain(schedule_id, instant, locale=locale)
    if as_json:
        echo_json(result)
        return
    out = Out(env.color)
    for item in result["explanations"]:
        out.fields([
            (_LABELS.get(item["label"], item["label"]), item["instant"]),
            ("verdict", item["verdict"]),
            ("why", item["reason"]),
        ] + ([("run", str(item["run_id"]))] if item["run_id"] is not None else []))
        out.line()
