"""What the workflow tests share: the issue's JSON form and the scanner's task functions."""

from __future__ import annotations

from typing import Any

ISSUE_FORM: dict[str, Any] = {"steps": [
    {"id": "discover", "task": "scan.discover", "kwargs": {"segment": "10.0.2.0/24"}},
    {"id": "probe", "task": "scan.probe", "after": ["discover"], "map": "discover"},
    {"id": "report", "task": "scan.report", "after": ["probe"], "trigger_rule": "all_done"}],
    "on_failure": {"task": "ops.alert"}}


def discover(segment: str) -> list[str]:
    return []


def probe(item: str, ports: list[int] | None = None) -> dict[str, Any]:
    return {}


def report() -> None:
    pass


def alert(channel: str = "ops") -> None:
    pass


def add(x: int, y: int = 0) -> int:
    return x + y
