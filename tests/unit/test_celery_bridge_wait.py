"""The bridge's wait (horae/integrations/celery/bridge.py) against a stand-in Celery app:
which backend states end an attempt, and which stop reasons revoke."""

from __future__ import annotations

from typing import Any

import pytest

from horae.integrations.celery.bridge import Bridge, CeleryTaskRevoked, Released


class FakeResult:
    def __init__(self, states: list[Any], result: Any = None, tb: str | None = None) -> None:
        self._states = states
        self.result = result
        self.traceback = tb

    @property
    def state(self) -> str:
        value = self._states.pop(0) if len(self._states) > 1 else self._states[0]
        if isinstance(value, Exception):
            raise value
        return str(value)


class FakeCelery:
    def __init__(self, result: FakeResult) -> None:
        self._result = result
        self.revoked: list[tuple[str, bool]] = []
        self.control = self

    def AsyncResult(self, task_id: str) -> FakeResult:  # Celery's name
        return self._result

    def revoke(self, task_id: str, terminate: bool = False) -> None:
        self.revoked.append((task_id, terminate))


class FakeCtx:
    def __init__(self, reason: str | None = None) -> None:
        self.cancelled = reason is not None
        self.stop_reason = reason
        import logging

        self.logger = logging.getLogger("test")


def bridge(result: FakeResult) -> tuple[Bridge, FakeCelery]:
    celery = FakeCelery(result)
    return Bridge(app=None, celery_app=celery, poll=0.001, max_poll=0.001), celery  # type: ignore[arg-type]


def test_an_unreadable_backend_does_not_end_the_attempt() -> None:
    b, _ = bridge(FakeResult([ConnectionError("redis down"), "PENDING", "SUCCESS"], {"n": 1}))
    assert b.wait("horae-1-1", FakeCtx()) == {"n": 1}  # type: ignore[arg-type]


def test_a_failure_raises_celerys_exception_with_its_traceback_as_cause() -> None:
    b, _ = bridge(FakeResult(["FAILURE"], KeyError("k"), "Traceback...\nKeyError: 'k'"))
    with pytest.raises(KeyError) as caught:
        b.wait("horae-1-1", FakeCtx())  # type: ignore[arg-type]
    assert "Traceback in the Celery worker" in str(caught.value.__cause__)


@pytest.mark.parametrize("reason", ["cancel", "timeout"])
def test_cancel_and_timeout_revoke(reason: str) -> None:
    b, celery = bridge(FakeResult(["PENDING"]))
    with pytest.raises(CeleryTaskRevoked):
        b.wait("horae-1-1", FakeCtx(reason))  # type: ignore[arg-type]
    assert celery.revoked == [("horae-1-1", True)]


def test_a_drain_does_not_revoke() -> None:
    b, celery = bridge(FakeResult(["PENDING"]))
    with pytest.raises(Released):
        b.wait("horae-1-1", FakeCtx("drain"))  # type: ignore[arg-type]
    assert celery.revoked == []
