"""The pure decisions of a running workflow (horae.workflows.engine)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from horae.workflows import engine
from horae.workflows.engine import Decision
from horae.workflows.model import Step
from horae.workflows.validate import parse_workflow

ENDED = sorted(engine.ENDED)


def step(rule: str = "all_success", after: tuple[str, ...] = ("a", "b")) -> Step:
    return Step("s", "t", after=list(after), trigger_rule=rule)  # type: ignore[arg-type]


def test_nothing_is_decided_while_a_predecessor_is_open() -> None:
    for rule in ("all_success", "all_done", "any_failed"):
        assert engine.decide(step(rule), {"a": "succeeded", "b": "active"}) is None
        assert engine.decide(step(rule), {"a": "failed"}) is None


def test_all_success() -> None:
    s = step()
    assert engine.decide(s, {"a": "succeeded", "b": "succeeded"}) == engine.RUN
    assert engine.decide(s, {"a": "succeeded", "b": "failed"}) == Decision(
        False, "upstream_failed", "upstream step 'b' failed")
    assert engine.decide(s, {"a": "timed_out", "b": "failed"}) == Decision(
        False, "upstream_failed", "upstream step 'a' timed out")
    assert engine.decide(s, {"a": "skipped", "b": "succeeded"}) == Decision(
        False, "skipped", "upstream step 'a' was skipped")


def test_any_failed_and_all_done() -> None:
    assert engine.decide(step("any_failed"), {"a": "lost", "b": "succeeded"}) == engine.RUN
    assert engine.decide(step("any_failed"), {"a": "succeeded", "b": "skipped"}) == Decision(
        False, "skipped", "no upstream step failed")


@given(st.lists(st.sampled_from(ENDED), min_size=2, max_size=2))
def test_all_done_runs_whatever_ended(states: list[str]) -> None:
    assert engine.decide(step("all_done"), dict(zip("ab", states, strict=True))) == engine.RUN


@given(st.lists(st.sampled_from(ENDED), min_size=2, max_size=2))
def test_a_decided_step_runs_or_says_why_not(states: list[str]) -> None:
    for rule in ("all_success", "any_failed"):
        d = engine.decide(step(rule), dict(zip("ab", states, strict=True)))
        assert d is not None
        assert d.run or (d.state in ("skipped", "upstream_failed") and d.reason)
        # all_success runs exactly when every predecessor succeeded
        if rule == "all_success":
            assert d.run == all(s == "succeeded" for s in states)
        else:
            assert d.run == any(s in engine.FAILED for s in states)


def test_items_of_a_map() -> None:
    literal = Step("p", "t", map=[1, 2])
    assert engine.items_of(literal, {}) == [1, 2]
    mapped = Step("p", "t", after=["d"], map="d")
    assert engine.items_of(mapped, {"d": ["x"]}) == ["x"]
    error = engine.items_of(mapped, {"d": 3})
    assert isinstance(error, str) and "step 'd' returned int, not a list" in error


def test_final_state_comes_from_the_leaves() -> None:
    wf = parse_workflow("w", {"steps": [
        {"id": "probe", "task": "t"},
        {"id": "alarm", "task": "t", "after": ["probe"], "trigger_rule": "any_failed"},
        {"id": "report", "task": "t", "after": ["probe"]}]})
    assert engine.leaves(wf) == ["alarm", "report"]
    handled = {"probe": "failed", "alarm": "succeeded", "report": "upstream_failed"}
    assert engine.final_state(wf, handled, False) == (
        "failed", "step 'report' was skipped: its upstream failed")
    fine = {"probe": "succeeded", "alarm": "skipped", "report": "succeeded"}
    assert engine.final_state(wf, fine, False) == ("succeeded", None)
    assert engine.final_state(wf, fine, True) == ("cancelled", "cancelled")


def test_callbacks_and_progress() -> None:
    assert engine.callbacks_for("succeeded") == ["on_success", "on_finish"]
    assert engine.callbacks_for("failed") == ["on_failure", "on_finish"]
    assert engine.callbacks_for("cancelled") == []
    assert engine.progress(7, 12) == (7 / 12, "7 of 12 steps")
