"""The segment-scan workflow's tasks (docs/workflows.md), module-level so that process mode
can import them."""

from __future__ import annotations

from typing import Any

from horae import Horae
from horae.worker.context import Context


def discover(segment: str, count: int = 5) -> list[str]:
    base = segment.rsplit(".", 1)[0]
    return [f"{base}.{n}" for n in range(1, count + 1)]


def batch(ctx: Context) -> dict[str, Any]:
    """A batch plugin over the whole target list (in a child process)."""
    return {"step": ctx.step, "targets": len(ctx.inputs["discover"]),
            "parent": ctx.parent_id}


def probe(ctx: Context, item: str) -> dict[str, Any]:
    return {"target": item, "open": [22], "index": ctx.shard_index}


def flaky_probe(item: str) -> dict[str, Any]:
    if item.endswith(".3"):
        raise RuntimeError(f"{item} did not answer")
    return {"target": item}


def report(ctx: Context) -> dict[str, Any]:
    return {"seen": sorted(ctx.inputs), "probed": [p["target"] for p in ctx.inputs["probe"]
                                                   if p is not None],
            "batch": ctx.inputs.get("batch")}


def alert(ctx: Context, channel: str = "ops") -> dict[str, Any]:
    return {"channel": channel, "steps": sorted(ctx.inputs), "step": ctx.step}


def dispatcher(ctx: Context) -> int:
    """A task that makes a child of itself."""
    app = ctx_app[0]
    child = app.runs.create("scan.discover", kwargs={"segment": "10.9.9.0/24", "count": 1},
                            parent=ctx.run_id)
    return child.id


ctx_app: list[Horae] = []


def register(app: Horae) -> None:
    ctx_app[:] = [app]
    app.task("scan.discover")(discover)
    app.task("scan.batch", mode="process")(batch)
    app.task("scan.probe")(probe)
    app.task("scan.flaky", retries=0)(flaky_probe)
    app.task("scan.report")(report)
    app.task("ops.alert")(alert)
    app.task("dispatch")(dispatcher)
