"""``horae workers list`` and ``horae queues``: who executes runs, and what waits for them."""

from __future__ import annotations

from typing import Any

import click
from rich.text import Text

from horae.cli.env import Env, pass_env
from horae.cli.render import Out, echo_json, relative, styled
from horae.instants import iso
from horae.models import WorkerInfo

_STATE_STYLE = {"active": "green", "draining": "yellow", "gone": "dim"}


@click.group()
def workers() -> None:
    """Workers: where runs execute."""


@workers.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include workers that are gone.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_env
def list_(env: Env, show_all: bool, as_json: bool) -> None:
    """List workers: id, host, pid, queues, labels, slots, running runs, last heartbeat."""
    app = env.client()
    found = [w for w in app.workers_list() if show_all or w.state != "gone"]
    if as_json:
        echo_json([worker_json(w) for w in found])
        return
    now = app.now()
    rows: list[list[str | Text]] = [[styled(w.id, "bold"), w.host, str(w.pid), ",".join(w.queues),
             ",".join(f"{k}={v}" for k, v in sorted(w.labels.items())),
             f"{w.running}/{w.concurrency}", styled(w.state, _STATE_STYLE.get(w.state)),
             relative(w.heartbeat_at, now), relative(w.started_at, now)]
            for w in found]
    Out(env.color).table(
        ["ID", "HOST", "PID", "QUEUES", "LABELS", "RUNNING", "STATE", "HEARTBEAT", "STARTED"],
        rows, empty="no workers" + ("" if show_all else " (--all shows those that are gone)"))


def worker_json(w: WorkerInfo) -> dict[str, Any]:
    return {"id": w.id, "host": w.host, "pid": w.pid, "queues": w.queues, "labels": w.labels,
            "concurrency": w.concurrency, "running": w.running, "state": w.state,
            "started_at": iso(w.started_at), "heartbeat_at": iso(w.heartbeat_at)}


@click.command("queues")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_env
def queues(env: Env, as_json: bool) -> None:
    """Each queue's backlog and lag (how long its oldest ready run has waited), and the
    live workers and slots that serve it. A lag above a schedule's period means workers
    do not keep up: its fires are skipped or pile up."""
    app = env.client()
    now, found = app.queues_stats()
    if as_json:
        echo_json([q.as_dict(now) for q in found])
        return
    rows: list[list[str | Text]] = []
    for q in found:
        lag = q.lag(now)
        unserved = q.workers == 0 and (q.queued or q.scheduled or q.retrying)
        rows.append([styled(q.queue, "bold"), str(q.queued), str(q.scheduled + q.retrying),
                     str(q.running), styled(_seconds(lag), "red" if lag >= 60 else None),
                     styled(f"{q.workers}", "red" if unserved else None), str(q.slots)])
    Out(env.color).table(["QUEUE", "QUEUED", "WAITING", "RUNNING", "LAG", "WORKERS", "SLOTS"],
                         rows, empty="no queue has runs or live workers")


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.1f}s"
    if value < 3600:
        return f"{value / 60:.1f}m"
    return f"{value / 3600:.1f}h"

