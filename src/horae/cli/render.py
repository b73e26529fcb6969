"""Output for people (rich tables, colours, progress bars) and for programs (plain, JSON).

A terminal gets colour and boxes; a pipe or file gets plain aligned text without escape
codes, one row per line, so ``grep``/``awk`` work. ``--json`` is for programs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import click
from rich.console import Console, RenderableType
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from horae.instants import iso
from horae.models import Run, Schedule
from horae.triggers import trigger_from_dict, zone_of

STATE_STYLES = {
    "succeeded": "green",
    "failed": "bold red",
    "timed_out": "red",
    "lost": "red",
    "running": "cyan",
    "queued": "yellow",
    "scheduled": "blue",
    "retrying": "magenta",
    "cancelled": "dim yellow",
    "skipped": "dim",
    "missed": "dim",
    "active": "green",
    "paused": "yellow",
}
LEVEL_STYLES = {"DEBUG": "dim", "INFO": "", "WARNING": "yellow", "ERROR": "red",
                "CRITICAL": "bold red"}
RUN_TIMES = ("fire_time", "created_at", "started_at", "finished_at", "not_before",
             "lease_expires_at")
SCHEDULE_TIMES = ("next_fire_at", "last_run_at", "created_at", "updated_at")


# -- words for numbers and instants ------------------------------------------------------


def duration(seconds: float | None) -> str:
    """``0.34`` -> ``340ms``, ``1.23`` -> ``1.2s``, ``125`` -> ``2m05s``, ``3720`` -> ``1h02m``."""
    if seconds is None:
        return ""
    s = max(0.0, seconds)
    if s < 1:
        return f"{s * 1000:.0f}ms"
    if s < 60:
        return f"{s:.1f}s"
    if s < 3600:
        return f"{int(s // 60)}m{int(s % 60):02d}s"
    if s < 86400:
        return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"
    return f"{int(s // 86400)}d{int(s % 86400 // 3600):02d}h"


def relative(epoch: float | None, now: float) -> str:
    """``in 3s``, ``2m ago``, ``now``."""
    if epoch is None:
        return ""
    delta = epoch - now
    if abs(delta) < 1:
        return "now"
    amount = abs(delta)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if amount >= size:
            text = f"{int(amount // size)}{unit}"
            break
    else:
        text = f"{int(amount)}s"
    return f"in {text}" if delta > 0 else f"{text} ago"


def in_zone(epoch: float, zone: str) -> str:
    return datetime.fromtimestamp(epoch, ZoneInfo(zone)).isoformat(timespec="seconds")


def describe_trigger(data: dict[str, Any]) -> str:
    try:
        return trigger_from_dict(data).describe()
    except Exception:  # a stored trigger this version cannot read: show its data
        return json.dumps(data)


def trigger_zone(data: dict[str, Any]) -> str | None:
    """The zone a schedule's trigger computes in, when it has one other than UTC."""
    tz = zone_of(data)
    return tz if tz != "UTC" else None


def short(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = text.splitlines()[0] if text.strip() else text
    return text if len(text) <= width else text[: width - 1] + "…"


# -- JSON for programs ---------------------------------------------------------------


def run_json(run: Run) -> dict[str, Any]:
    data = run.to_dict()
    for key in RUN_TIMES:
        data[key] = iso(data[key])
    return data


def schedule_json(s: Schedule) -> dict[str, Any]:
    data = s.to_dict()
    for key in SCHEDULE_TIMES:
        data[key] = iso(data[key])
    for key in ("start_at", "end_at"):
        data["policies"][key] = iso(data["policies"][key])
    data["trigger_description"] = describe_trigger(s.trigger)
    return data


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


# -- cells, tables, fields -------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """A progress bar cell: ``fraction`` in [0, 1], or None for "running, amount unknown"."""

    fraction: float | None


Cell = str | Text | Bar


def styled(text: str, style: str | None) -> Text:
    return Text(text, style=style or "")


def state_cell(state: str | None) -> Text:
    return styled(state or "", STATE_STYLES.get(state or ""))


class Out:
    """Where a command writes: a rich console on a terminal, plain text elsewhere."""

    def __init__(self, color: str = "auto") -> None:
        if color == "always":
            self.rich = True
        elif color == "never":
            self.rich = False
        else:
            self.rich = sys.stdout.isatty()
        self.console = Console(highlight=False, force_terminal=self.rich or None,
                               no_color=not self.rich, soft_wrap=not self.rich)

    def line(self, text: str = "", style: str | None = None) -> None:
        if self.rich:
            self.console.print(styled(text, style))
        else:
            click.echo(text)

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[Cell]],
              empty: str = "nothing to show") -> None:
        if not rows:
            self.hint(empty)
            return
        if not self.rich:
            self._plain_table(columns, rows)
            return
        table = Table(header_style="bold", box=None, pad_edge=False)
        for i, name in enumerate(columns):
            last = i == len(columns) - 1
            table.add_column(name, overflow="fold" if last else "ellipsis", no_wrap=not last,
                             min_width=(17 if any(isinstance(r[i], Bar) for r in rows) else
                                        16 if last else None))
        for row in rows:
            table.add_row(*(self._renderable(c) for c in row))
        self.console.print(table)

    def fields(self, pairs: Sequence[tuple[str, Cell]], title: str | None = None) -> None:
        """A record as ``name  value`` lines."""
        if title:
            self.line(title, "bold")
        if not self.rich:
            width = max((len(k) for k, _ in pairs), default=0)
            for key, value in pairs:
                click.echo(f"{key.ljust(width)}  {self._plain(value)}".rstrip())
            return
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column(overflow="fold")
        for key, value in pairs:
            grid.add_row(key, self._renderable(value))
        self.console.print(grid)

    def hint(self, text: str) -> None:
        """A remark for people: dim on a terminal, on stderr elsewhere (keeps stdout data)."""
        if self.rich:
            self.console.print(styled(text, "dim"))
        else:
            click.echo(text, err=True)

    @staticmethod
    def _plain(cell: Cell) -> str:
        if isinstance(cell, Bar):
            return "" if cell.fraction is None else f"{cell.fraction:.0%}"
        return cell.plain if isinstance(cell, Text) else cell

    def _plain_table(self, columns: Sequence[str], rows: Sequence[Sequence[Cell]]) -> None:
        text = [list(columns)] + [[self._plain(c).replace("\n", " ") for c in r] for r in rows]
        widths = [max(len(r[i]) for r in text) for i in range(len(columns))]
        for r in text:
            click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())

    @staticmethod
    def _renderable(cell: Cell) -> RenderableType:
        if isinstance(cell, Bar):
            grid = Table.grid(padding=(0, 1))
            bar = ProgressBar(total=1.0 if cell.fraction is not None else None,
                              completed=cell.fraction or 0.0, width=12)
            grid.add_row(bar, "" if cell.fraction is None else f"{cell.fraction:4.0%}")
            return grid
        return cell


# -- live progress of one run ----------------------------------------------------------


class RunProgress:
    """A live bar fed from a run's stored progress (only on a terminal)."""

    def __init__(self, out: Out, run_id: int) -> None:
        self.out = out
        self.run_id = run_id
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    @contextmanager
    def shown(self) -> Iterator[RunProgress]:
        if not self.out.rich:
            yield self
            return
        self._progress = Progress(
            TextColumn("[bold]run {task.fields[run]}[/] {task.fields[state]}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=self.out.console,
            transient=True,
        )
        with self._progress:
            self._task = self._progress.add_task("", total=None, run=self.run_id, state="")
            yield self
        self._progress, self._task = None, None

    def update(self, run: Run) -> None:
        if self._progress is None or self._task is None:
            return
        total = 1.0 if run.progress is not None else None
        self._progress.update(self._task, total=total, completed=run.progress or 0.0,
                              description=run.progress_message or "",
                              state=f"[{STATE_STYLES.get(run.state.value, '')}]"
                                    f"{run.state.value}[/]")

    def print(self, renderable: RenderableType) -> None:
        """Print above the bar (or plainly without one)."""
        if self._progress is not None:
            self._progress.console.print(renderable)
        elif self.out.rich or not isinstance(renderable, Text):
            self.out.console.print(renderable)
        else:
            click.echo(renderable.plain)
