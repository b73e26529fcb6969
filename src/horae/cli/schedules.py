"""``horae schedules add|list|show|edit|pause|resume|trigger|rm``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import click
from rich.text import Text

from horae.cli.audit import audited
from horae.cli.env import Env, is_none, parse_json, parse_seconds, pass_env
from horae.cli.render import (
    Out,
    describe_trigger,
    echo_json,
    in_zone,
    relative,
    schedule_json,
    state_cell,
    styled,
    trigger_zone,
)
from horae.errors import InvalidInput
from horae.instants import iso
from horae.models import Catchup, Overlap, Run, Schedule
from horae.triggers import DateTrigger, Trigger, at, cron, interval, parse_duration

TRIGGER_OPTIONS = ("cron", "every", "at")
# Where a trigger's data field comes from on the command line.
_TRIGGER_FIELDS = {"trigger.expr": "cron", "trigger.tz": "tz", "trigger.at": "at",
                   "trigger.seconds": "every"}


def _seconds(text: str, name: str) -> float:
    return parse_seconds(text, name)


def _optional_seconds(text: str, name: str) -> float | None:
    return None if is_none(text) else parse_seconds(text, name)


def _optional_int(text: str, name: str) -> int | None:
    if is_none(text):
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidInput(name, f"{text!r} is not a whole number") from None


def _optional_text(text: str, name: str) -> str | None:
    return None if is_none(text) else text


def _same(value: Any, name: str) -> Any:
    return value


# Policy options: name -> how to read the option's text (None means "clear it").
POLICY_PARSERS: dict[str, Callable[[Any, str], Any]] = {
    "queue": _same, "priority": _same, "overlap": _same, "catchup": _same,
    "catchup_window": _seconds, "misfire_grace": _seconds, "jitter": _seconds,
    "retries": _same, "retry_backoff": _seconds, "timeout": _optional_seconds,
    "expire_after": _optional_seconds,
    "max_fires": _optional_int, "start_at": _optional_text, "end_at": _optional_text,
}


def schedule_options(edit: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The options of ``add``; for ``edit`` every one is optional and changes only itself."""
    paused = (click.option("--paused/--active", "paused", default=None,
                           help="Pause or resume the schedule.") if edit else
              click.option("--paused", is_flag=True, help="Create it paused."))
    options = [
        click.option("--task", metavar="NAME", required=not edit,
                     help="A registered task (see `horae tasks list`)."),
        click.option("--cron", metavar="EXPR",
                     help="Cron expression: 5 fields (6 with seconds first), @daily, L, W, #."),
        click.option("--every", metavar="DURATION", help="Interval: 30s, 5m, 1h30m, 2d."),
        click.option("--at", "at_", metavar="ISO-8601", help="Once, at this instant."),
        click.option("--tz", metavar="ZONE",
                     help="IANA zone for --cron and for --at without an offset [UTC]."),
        click.option("--args", "args_json", metavar="JSON", help="Positional arguments: a list."),
        click.option("--kwargs", "kwargs_json", metavar="JSON",
                     help='Keyword arguments: an object, e.g. \'{"name": "x"}\'.'),
        click.option("--queue", help="Queue its runs go to [the task's queue]."),
        click.option("--priority", type=int, help="Higher runs first [0]."),
        click.option("--overlap", type=click.Choice([o.value for o in Overlap]),
                     help="When the previous run is still going [skip]."),
        click.option("--catchup", type=click.Choice([c.value for c in Catchup]),
                     help="Fires missed while no scheduler ran [latest]."),
        click.option("--catchup-window", metavar="S", help="How far back 'all' goes [3600]."),
        click.option("--misfire-grace", metavar="S", help="Late by more than this is a miss [60]."),
        click.option("--jitter", metavar="S", help="Random delay up to S seconds [0]."),
        click.option("--retries", type=int, help="Extra attempts after a failure [the task's]."),
        click.option("--retry-backoff", metavar="S", help="First retry delay, doubling [1]."),
        click.option("--timeout", metavar="S", help="Seconds a run may take [the task's]."),
        click.option("--expire-after", metavar="S",
                     help="A run not started S seconds after it was due is missed [never]."),
        click.option("--max-fires", metavar="N", help="Stop after N fires."),
        click.option("--start-at", metavar="ISO", help="No fire before this instant."),
        click.option("--end-at", metavar="ISO", help="No fire after this instant."),
        paused,
        click.option("--description", metavar="TEXT"),
        click.option("--tag", "tags", multiple=True, metavar="T",
                     help="A label; repeat for several" + (" (replaces all)." if edit else ".")),
        click.option("--json", "as_json", is_flag=True, help="Print the schedule as JSON."),
    ]

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


@contextmanager
def cli_fields(trigger_option: str | None = None) -> Iterator[None]:
    """Name trigger problems after the options people typed (``cron``, not ``trigger.expr``)."""
    try:
        yield
    except InvalidInput as exc:
        name = _TRIGGER_FIELDS.get(exc.field)
        if name is None and exc.field == "trigger" and trigger_option:
            name = trigger_option
        if name is None:
            raise
        # Trigger messages speak Python (tz='Europe/Berlin'); say it the command line's way.
        reason = exc.reason.replace("tz='Europe/Berlin'", "--tz Europe/Berlin")
        raise InvalidInput(name, reason) from None


def trigger_from_options(opts: Mapping[str, Any], current: Mapping[str, Any] | None) -> \
        tuple[Trigger | None, str | None]:
    """The trigger the options describe (None: keep the current one), and its option name."""
    given = [name for name in TRIGGER_OPTIONS if opts[_key(name)] is not None]
    if len(given) > 1:
        raise click.UsageError("give one of --cron, --every or --at, not "
                               + " and ".join(f"--{g}" for g in given))
    tz = opts["tz"]
    if not given:
        if current is None:
            raise click.UsageError("say when it fires: give one of --cron EXPR, "
                                   "--every DURATION or --at ISO-8601")
        if tz is None:
            return None, None
        if current.get("kind") == "date":
            # The instant stays; only the zone it is shown in changes.
            with cli_fields("at"):
                return DateTrigger(current["at"], tz), "at"
        if current.get("kind") != "cron":
            raise InvalidInput("tz", "only cron and one-off schedules have a zone; give "
                                     "--cron or --at with --tz")
        with cli_fields("cron"):
            return cron(current["expr"], tz=tz), "cron"
    kind = given[0]
    value = opts[_key(kind)]
    with cli_fields(kind):
        if kind == "cron":
            if tz is None and current is not None and current.get("kind") == "cron":
                tz = current.get("tz")
            return cron(value, tz=tz or "UTC"), kind
        if kind == "every":
            if tz is not None:
                raise InvalidInput("tz", "--every counts elapsed time and has no zone; drop --tz")
            return interval(seconds=parse_duration(value, "every")), kind
        return at(value, tz=tz), kind


def _key(option: str) -> str:
    return "at_" if option == "at" else option


def arguments_from_options(opts: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if opts["args_json"] is not None:
        args = parse_json(opts["args_json"], "args")
        if not isinstance(args, list):
            raise InvalidInput("args", "must be a JSON array, e.g. '[1, \"two\"]'")
        out["args"] = args
    if opts["kwargs_json"] is not None:
        kwargs = parse_json(opts["kwargs_json"], "kwargs")
        if not isinstance(kwargs, dict):
            raise InvalidInput("kwargs", 'must be a JSON object, e.g. \'{"name": "x"}\'')
        out["kwargs"] = kwargs
    return out


def policies_from_options(opts: Mapping[str, Any]) -> dict[str, Any]:
    return {name: parse(opts[name], name) for name, parse in POLICY_PARSERS.items()
            if opts[name] is not None}


@click.group()
def schedules() -> None:
    """Create, change and inspect schedules (changes apply at once, no restart)."""


@schedules.command()
@click.argument("schedule_id", metavar="ID")
@schedule_options(edit=False)
@pass_env
def add(env: Env, /, schedule_id: str, **opts: Any) -> None:
    """Add a schedule: ID, --task, and one of --cron, --every or --at.

    \b
    horae schedules add nightly --task reports.build --cron "0 2 * * *" --tz Europe/Berlin
    horae schedules add ping --task demo.hello --every 30s --kwargs '{"name": "ops"}'
    """
    trigger, kind = trigger_from_options(opts, None)
    fields = arguments_from_options(opts) | policies_from_options(opts)
    app = env.client()
    with cli_fields(kind), audited(env, "schedule.create", "schedule", target=schedule_id,
                                   after=_wire):
        s = app.schedules.add(schedule_id, opts["task"], trigger or {}, paused=opts["paused"],
                              description=opts["description"] or "", tags=opts["tags"],
                              **fields)
    _report(env, s, "added")
    env.warn_unserved([s.policies.queue])


@schedules.command()
@click.argument("schedule_id", metavar="ID")
@schedule_options(edit=True)
@pass_env
def edit(env: Env, /, schedule_id: str, **opts: Any) -> None:
    """Change a schedule: only the options given change.

    --cron, --every or --at replace the trigger; --tz alone moves a cron schedule to
    another zone (a one-off keeps its instant and is shown in that zone). Write `none` to
    clear --timeout, --max-fires, --start-at or --end-at.
    """
    as_json = opts.pop("as_json")
    app = env.client()
    current = app.schedules.get(schedule_id)
    trigger, kind = trigger_from_options(opts, current.trigger)
    changes = arguments_from_options(opts) | policies_from_options(opts)
    if trigger is not None:
        changes["trigger"] = trigger
    for name in ("task", "paused", "description"):
        if opts[name] is not None:
            changes[name] = opts[name]
    if opts["tags"]:
        changes["tags"] = [t for t in opts["tags"] if t]
    if not changes:
        raise click.UsageError("nothing to change: give at least one option (see --help)")
    with cli_fields(kind), audited(env, "schedule.update", "schedule", target=schedule_id,
                                   before=lambda: _wire(current), after=_wire):
        s = app.schedules.update(schedule_id, expected_version=current.version, **changes)
    _report(env, s, "changed", as_json=as_json)
    env.warn_unserved([s.policies.queue])


def _wire(s: Schedule) -> dict[str, Any]:
    from horae.api.schemas import schedule_wire

    return schedule_wire(s)


def _run_wire(run: Run) -> dict[str, Any]:
    from horae.api.schemas import run_wire

    return run_wire(run)


def _report(env: Env, s: Schedule, verb: str, as_json: bool | None = None) -> None:
    if as_json is None:
        as_json = bool(click.get_current_context().params.get("as_json"))
    if as_json:
        echo_json(schedule_json(s))
        return
    out = Out(env.color)
    now = env.client().now()
    when = ("paused" if s.paused else
            f"next fire {relative(s.next_fire_at, now)} ({iso(s.next_fire_at)})")
    out.line(f"{verb} schedule {s.id!r}: {s.task}, {describe_trigger(s.trigger)}; {when}")


@schedules.command("list")
@click.option("--task", metavar="NAME", help="Only schedules of this task.")
@click.option("--paused/--active", "paused", default=None, help="Only paused / active ones.")
@click.option("--search", metavar="TEXT", help="Text in the id, task or description.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_env
def list_(env: Env, task: str | None, paused: bool | None, search: str | None, limit: int,
          as_json: bool) -> None:
    """List schedules, ordered by id."""
    app = env.client()
    found = app.schedules.list(task=task, paused=paused, search=search, limit=limit)
    if as_json:
        echo_json([schedule_json(s) for s in found])
        return
    now = app.now()
    rows = [[
        _id_cell(s), s.task, describe_trigger(s.trigger),
        "" if s.paused else relative(s.next_fire_at, now),
        state_cell("paused" if s.paused else "active"),
        _last(s, now), str(s.fires), styled(str(s.successes), "green" if s.successes else None),
        styled(str(s.failures), "red" if s.failures else None),
    ] for s in found]
    Out(env.color).table(
        ["ID", "TASK", "TRIGGER", "NEXT", "STATE", "LAST RUN", "FIRES", "OK", "FAILED"], rows,
        empty="no schedules; add one with `horae schedules add`")


def _also_in(instant: float, zone: str | None) -> str:
    """`` = <local time>`` in the schedule's zone, when it has one other than UTC."""
    return "" if zone is None else f" = {in_zone(instant, zone)}"


def _id_cell(s: Schedule) -> Text:
    """The id, marked ``[code]`` when the schedule is declared in code."""
    cell = styled(s.id, "bold")
    if s.declared:
        cell.append(" [code]", style="cyan")
    return cell


def _last(s: Schedule, now: float) -> Any:
    if s.last_state is None:
        return ""
    cell = state_cell(s.last_state)
    cell.append(f" {relative(s.last_run_at, now)}", style="dim")
    return cell


@schedules.command()
@click.argument("schedule_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@pass_env
def show(env: Env, schedule_id: str, as_json: bool) -> None:
    """Everything about one schedule, with its next 5 fires."""
    app = env.client()
    s = app.schedules.get(schedule_id)
    fires = [d.timestamp() for d in app.schedules.preview(schedule_id, 5)]
    zone = trigger_zone(s.trigger)
    if as_json:
        data = schedule_json(s)
        data["zone"] = zone or "UTC"
        data["next_fires"] = [{"utc": iso(f), "local": in_zone(f, zone or "UTC")}
                              for f in fires]
        echo_json(data)
        return
    now = app.now()
    p = s.policies
    out = Out(env.color)
    out.fields([
        ("id", styled(s.id, "bold")), ("task", s.task),
        ("trigger", describe_trigger(s.trigger)), ("trigger data", _json(s.trigger)),
        ("zone", zone or "UTC"),
        ("state", state_cell("paused" if s.paused else "active")),
        ("next fire", "" if s.next_fire_at is None else
         f"{iso(s.next_fire_at)}{_also_in(s.next_fire_at, zone)} "
         f"({relative(s.next_fire_at, now)})"),
        ("args", _json(s.args)), ("kwargs", _json(s.kwargs)),
        ("description", s.description), ("tags", ", ".join(s.tags)),
        ("declared", "in code: a start with changed code replaces its definition (not its "
                     "pause)" if s.declared else "no (made at runtime)"),
        ("queue", p.queue), ("priority", str(p.priority)), ("overlap", p.overlap.value),
        ("catchup", f"{p.catchup.value} (window {p.catchup_window:g}s)"),
        ("misfire grace", f"{p.misfire_grace:g}s"), ("jitter", f"{p.jitter:g}s"),
        ("retries", f"{p.retries} (backoff {p.retry_backoff:g}s, max {p.retry_backoff_max:g}s)"),
        ("timeout", "none" if p.timeout is None else f"{p.timeout:g}s"),
        ("expire after", "never" if p.expire_after is None else f"{p.expire_after:g}s"),
        ("max fires", "no limit" if p.max_fires is None else str(p.max_fires)),
        ("window", f"{iso(p.start_at) or 'any time'} → {iso(p.end_at) or 'forever'}"),
        ("fires", f"{s.fires} (missed {s.missed}, skipped {s.skipped})"),
        ("outcomes", f"{s.successes} succeeded, {s.failures} failed"),
        ("last run", _last(s, now)),
        ("created", f"{iso(s.created_at)} ({relative(s.created_at, now)})"),
        ("updated", f"{iso(s.updated_at)} ({relative(s.updated_at, now)}), version {s.version}"),
    ])
    out.line()
    rows = [[str(i), iso(f) or "", in_zone(f, zone) if zone else "", relative(f, now)]
            for i, f in enumerate(fires, start=1)]
    out.line("Next fires" + (" (while paused, none happen)" if s.paused else ""), "bold")
    out.table(["#", "UTC", zone or "", "WHEN"] if zone else ["#", "UTC", "", "WHEN"], rows,
              empty="it will not fire again")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


@schedules.command()
@click.argument("schedule_id", metavar="ID")
@pass_env
def pause(env: Env, schedule_id: str) -> None:
    """Pause a schedule: no fires until it is resumed."""
    app = env.client()
    with audited(env, "schedule.pause", "schedule", target=schedule_id,
                 before=lambda: _wire(app.schedules.get(schedule_id)), after=_wire):
        s = app.schedules.pause(schedule_id)
    Out(env.color).line(f"paused schedule {s.id!r}")


@schedules.command()
@click.argument("schedule_id", metavar="ID")
@pass_env
def resume(env: Env, schedule_id: str) -> None:
    """Resume a schedule from now (fires missed while paused are not caught up)."""
    app = env.client()
    with audited(env, "schedule.resume", "schedule", target=schedule_id,
                 before=lambda: _wire(app.schedules.get(schedule_id)), after=_wire):
        s = app.schedules.resume(schedule_id)
    now = app.now()
    Out(env.color).line(f"resumed schedule {s.id!r}; next fire {relative(s.next_fire_at, now)}"
                        f" ({iso(s.next_fire_at)})")


@schedules.command()
@click.argument("schedule_id", metavar="ID")
@pass_env
def trigger(env: Env, schedule_id: str) -> None:
    """Run a schedule now, outside its trigger; prints the new run's id."""
    with audited(env, "schedule.trigger", "schedule", target=schedule_id,
                 after=lambda runs: _run_wire(runs[0])):
        run = env.client().schedules.trigger_now(schedule_id)
    click.echo(run.id)
    env.warn_unserved([run.queue])
    if sys.stdout.isatty():
        click.echo(f"queued run {run.id}; follow it with `horae runs wait {run.id}`", err=True)


def stdin_is_tty() -> bool:
    """Whether a person can answer a question (tests replace this)."""
    return sys.stdin.isatty()


@schedules.command("rm")
@click.argument("schedule_id", metavar="ID")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_env
def remove(env: Env, schedule_id: str, yes: bool) -> None:
    """Remove a schedule (its past runs stay). Asks first on a terminal."""
    app = env.client()
    current = app.schedules.get(schedule_id)  # "not found" before asking
    if not yes and stdin_is_tty():
        click.confirm(f"Remove schedule {schedule_id!r}?", abort=True)
    with audited(env, "schedule.delete", "schedule", target=schedule_id,
                 before=lambda: _wire(current)):
        app.schedules.remove(schedule_id)
    Out(env.color).line(f"removed schedule {schedule_id!r}")
