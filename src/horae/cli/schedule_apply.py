"""``horae schedules apply FILE``: many schedule changes from JSON lines (or YAML) at once."""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from horae.cli.audit import audited_batch
from horae.cli.env import Env, pass_env
from horae.cli.render import Out
from horae.errors import Conflict, InvalidInput
from horae.schedule_batch import BatchResult, InvalidBatch

CHUNK = 10_000  # operations per request when not atomic (the REST API's bound)
_VERBS = {"created": "create", "updated": "update", "removed": "remove",
          "unchanged": "leave unchanged"}
_ITEM = re.compile(r"operations\[(\d+)\]")


@click.command("apply")
@click.argument("file", metavar="FILE")
@click.option("--atomic", is_flag=True, help="All or nothing: if any line fails, change none.")
@click.option("--dry-run", is_flag=True, help="Validate and print what would change; write "
                                              "nothing.")
@click.option("--format", "fmt", type=click.Choice(["auto", "jsonl", "yaml"]), default="auto",
              show_default=True, help="auto: YAML for .yaml/.yml files, else JSON lines.")
@pass_env
def apply(env: Env, file: str, atomic: bool, dry_run: bool, fmt: str) -> None:
    """Add, update, upsert and remove schedules from FILE (- reads stdin).

    \b
    JSON lines: one object per line, either an operation
      {"op": "add"|"update"|"upsert"|"remove", "id": ..., ...fields}
    or a schedule, which is upserted (created, or its definition replaced):
      {"id": "ping", "task": "demo.hello", "trigger": {"kind": "interval", "seconds": 30}}
    Fields are those of `horae schedules add`; policies may sit at the top level or
    under "policies". YAML (when PyYAML is installed): a list of such objects. Exit 2
    when a line is invalid (its line number and field are printed), 1 when one conflicts.
    """
    text = sys.stdin.read() if file == "-" else _read(file)
    yaml = fmt == "yaml" or (fmt == "auto" and file.endswith((".yaml", ".yml")))
    items = list(_yaml_items(text) if yaml else _json_lines(text))
    lines, ops = [n for n, _ in items], [o for _, o in items]
    client = env.client()
    results: list[BatchResult] = []
    try:
        with audited_batch(env):
            results = _apply(client, ops, atomic, dry_run)
    except InvalidBatch as exc:
        for i, field, reason in exc.items[1:]:
            click.echo(f"error: line {lines[i]}: {field}: {reason}", err=True)
        i, field, reason = exc.items[0]
        raise InvalidInput(f"line {lines[i]}: {field}", f"{reason} (nothing was changed)") \
            from None
    except Conflict as exc:
        raise Conflict(_ITEM.sub(lambda m: f"line {lines[int(m.group(1))]}", str(exc))) \
            from None
    _report(env, results, lines, dry_run)


def _apply(client: Any, ops: list[dict[str, Any]], atomic: bool,
           dry_run: bool) -> list[BatchResult]:
    if atomic:
        return client.schedules.batch(ops, atomic=True, dry_run=dry_run)  # type: ignore[no-any-return]
    results: list[BatchResult] = []
    for start in range(0, len(ops), CHUNK):
        part = client.schedules.batch(ops[start:start + CHUNK], dry_run=dry_run)
        for r in part:
            r.index += start
        results.extend(part)
    return results


def _read(file: str) -> str:
    try:
        return Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput("FILE", f"cannot read {file}: {exc}") from None


def _operation(obj: Any, line: int) -> dict[str, Any]:
    """An operation of ``app.schedules.batch``: a bare schedule is an upsert, and policies
    under "policies" move to the top level, as the Python API takes them."""
    if not isinstance(obj, dict):
        raise InvalidInput(f"line {line}", f"must be an object, not {type(obj).__name__}")
    op = dict(obj) if "op" in obj else {"op": "upsert", **obj}
    policies = op.pop("policies", None) or {}
    if not isinstance(policies, dict):
        raise InvalidInput(f"line {line}: policies", "must be an object")
    clash = sorted(set(policies) & set(op))
    if clash:
        raise InvalidInput(f"line {line}: {clash[0]}", "given both at the top level and "
                                                       "under policies")
    return op | policies


def _json_lines(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            hint = " (a YAML file? give --format yaml)" if number == 1 else ""
            raise InvalidInput(f"line {number}", f"not valid JSON: {exc}{hint}") from None
        yield number, _operation(obj, number)


def _yaml_items(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        yaml: Any = importlib.import_module("yaml")
    except ImportError:
        raise InvalidInput("format", "YAML needs PyYAML (pip install pyyaml); or give the "
                                     "file as JSON lines") from None
    try:
        # The node tree gives each item's line; the loaded values are the same items.
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        values = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "FILE"
        raise InvalidInput(where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    for node, value in zip(nodes, values, strict=True):
        if node is None:
            continue
        if isinstance(value, list):
            for child, item in zip(node.value, value, strict=True):
                yield child.start_mark.line + 1, _operation(item, child.start_mark.line + 1)
        else:
            yield node.start_mark.line + 1, _operation(value, node.start_mark.line + 1)


def _report(env: Env, results: list[BatchResult], lines: list[int], dry_run: bool) -> None:
    out = Out(env.color)
    counts = dict.fromkeys(("created", "updated", "unchanged", "removed", "failed"), 0)
    for r in results:
        counts[r.status] += 1
        line = lines[r.index]
        if not r.ok:
            click.echo(f"error: line {line}: {r.field}: {r.reason}"
                       + (f" (schedule {r.id!r})" if r.id else ""), err=True)
        elif dry_run and r.status != "unchanged":
            out.line(f"line {line}: would {_VERBS[r.status]} schedule {r.id!r}")
    prefix = "dry run, nothing written: would have " if dry_run else ""
    out.line(prefix + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if counts["failed"]:
        invalid = any(r.error == "invalid" for r in results)
        raise click.exceptions.Exit(2 if invalid else 1)
