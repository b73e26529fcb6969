"""The pure decisions of a running workflow: when a step may start, what it is given, and
how the workflow run ends. No I/O: ``store/workflow_runs.py`` reads the states, asks here,
and writes what this decides in the outcome's transaction.

Step states (``horae_workflow_steps.state``): ``waiting`` (not decided yet), ``active``
(its runs were inserted, some have not ended), then one of the ended states: a run state
(``succeeded``, ``failed``, ``timed_out``, ``lost``, ``cancelled``), ``skipped`` (its rule
could not be met, but nothing failed: "no upstream step failed") or ``upstream_failed``
(skipped because an upstream step failed). A skipped step is still recorded as a child run
in state ``skipped`` with the reason, so the DAG shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from horae.workflows.model import Step, Workflow

OPEN = frozenset({"waiting", "active"})
#: Ended states that count as a failure for trigger rules and for the final state.
FAILED = frozenset({"failed", "timed_out", "lost", "cancelled", "upstream_failed"})
ENDED = FAILED | {"succeeded", "skipped"}

_VERBS = {"failed": "failed", "timed_out": "timed out", "lost": "was lost",
          "cancelled": "was cancelled", "upstream_failed": "was skipped: its upstream failed",
          "skipped": "was skipped"}


@dataclass(frozen=True)
class Decision:
    """What happens to a step whose predecessors all ended: ``run`` it, or record it as
    skipped with ``state`` (``skipped`` / ``upstream_failed``) and ``reason``."""

    run: bool
    state: str | None = None
    reason: str | None = None


RUN = Decision(True)


def decide(step: Step, predecessors: dict[str, str]) -> Decision | None:
    """The decision for ``step`` given its predecessors' step states (in ``step.after``
    order), or None while one of them has not ended (nothing to decide yet)."""
    if any(predecessors.get(p) not in ENDED for p in step.after):
        return None
    failed = [p for p in step.after if predecessors[p] in FAILED]
    if step.trigger_rule == "all_done":
        return RUN
    if step.trigger_rule == "any_failed":
        if failed:
            return RUN
        return Decision(False, "skipped", "no upstream step failed")
    if failed:
        first = failed[0]
        return Decision(False, "upstream_failed",
                        f"upstream step {first!r} {_VERBS[predecessors[first]]}")
    skipped = [p for p in step.after if predecessors[p] == "skipped"]
    if skipped:
        return Decision(False, "skipped", f"upstream step {skipped[0]!r} was skipped")
    return RUN


def items_of(step: Step, inputs: dict[str, Any]) -> list[Any] | str:
    """A mapped step's items: its literal list, or its upstream step's result list.

    Returns the error (a string) when the upstream result is not a list: the step fails
    with it.
    """
    if isinstance(step.map, list):
        return list(step.map)
    assert step.map is not None
    value = inputs.get(step.map)
    if not isinstance(value, list):
        return (f"map: step {step.map!r} returned {type(value).__name__}, not a list;"
                f" step {step.id!r} maps over its result")
    return value


def step_ended_state(outcome: str | None) -> str:
    """A step's state once all its runs ended: the first bad run state, else succeeded."""
    return outcome or "succeeded"


def leaves(workflow: Workflow) -> list[str]:
    """The steps nothing depends on, in definition order: they decide the final state."""
    below = workflow.downstream()
    return [s.id for s in workflow.steps if not below[s.id]]


def final_state(workflow: Workflow, states: dict[str, str],
                cancelled: bool) -> tuple[str, str | None]:
    """The workflow run's ``(state, error)`` once no step is open.

    From the leaves, as Airflow does: ``cancelled`` if the run was cancelled; ``failed`` if a
    leaf failed, timed out, was lost or cancelled, or was skipped because an upstream step
    failed; else ``succeeded``. So an error branch that handled a failure ends succeeded.
    """
    if cancelled:
        return "cancelled", "cancelled"
    for leaf in leaves(workflow):
        state = states.get(leaf, "waiting")
        if state in FAILED:
            return "failed", f"step {leaf!r} {_VERBS[state]}"
    return "succeeded", None


def callbacks_for(state: str) -> list[str]:
    """The callbacks a workflow run that ended in ``state`` queues (none once cancelled:
    nothing starts after a cancel)."""
    if state == "succeeded":
        return ["on_success", "on_finish"]
    if state == "failed":
        return ["on_failure", "on_finish"]
    return []


def progress(ended: int, total: int) -> tuple[float, str]:
    """The workflow run's progress fraction and message, "7 of 12 steps"."""
    return (ended / total if total else 1.0), f"{ended} of {total} steps"
