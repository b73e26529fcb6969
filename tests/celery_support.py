"""A real Celery worker for the bridge's tests: ``celery -A tests.celery_app worker`` in a
child process, on its own queue, with a broker of the test's choosing."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import IN_CI, eventually

ROOT = Path(__file__).resolve().parents[1]
BROKERS = {"rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
           "redis": "redis://127.0.0.1:6379/14"}
BACKEND = "redis://127.0.0.1:6379/15"


@dataclass
class Fleet:
    broker: str
    queue: str  # the only queue this worker consumes: tests of other runs never meet
    client: Any  # a Celery app on the same broker, in the test's process
    proc: subprocess.Popen[bytes]
    log: Path

    def said(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]


def require_services(broker: str) -> None:
    """Skip on a laptop without the broker or Redis (the result backend); fail in CI,
    where they must run."""
    import socket

    import pytest

    for name, port in (("redis", 6379), (broker, 5672 if broker == "rabbitmq" else 6379)):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except OSError as exc:
            if IN_CI:
                pytest.fail(f"{name} is required in CI but unreachable on port {port}: {exc}")
            pytest.skip(f"no {name} on 127.0.0.1:{port}: {exc}")


@contextmanager
def celery_worker(broker: str, log: Path, concurrency: int = 2) -> Iterator[Fleet]:
    """Start a prefork Celery worker (revoke with terminate needs a pool of children) and
    wait until it consumes; stop it (SIGTERM, then SIGKILL) afterwards."""
    from tests.celery_app import make_app

    require_services(next(k for k, v in BROKERS.items() if v == broker))

    queue = f"horae-test-{secrets.token_hex(4)}"
    env = dict(os.environ, HORAE_TEST_CELERY_BROKER=broker, HORAE_TEST_CELERY_BACKEND=BACKEND,
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    out = open(log, "wb")  # noqa: SIM115 - closed with the child
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tests.celery_app", "worker", "-P", "prefork",
         "-c", str(concurrency), "-Q", queue, "-n", f"{queue}@%h", "-l", "INFO",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    fleet = Fleet(broker, queue, make_app(broker, BACKEND), proc, log)
    try:
        eventually(lambda: proc.poll() is not None or b" ready." in log.read_bytes(),
                   timeout=60, interval=0.1)
        assert proc.poll() is None, f"the Celery worker exited: {fleet.said()}"
        yield fleet
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        out.close()


def ran(task_id: str) -> int:
    """How many times Celery executed ``task_id`` (each task counts itself)."""
    from tests.celery_app import RAN_KEY, counter

    return int(counter().get(RAN_KEY.format(id=task_id)) or 0)


def delivered(task_id: str) -> int:
    """How many messages of ``task_id`` reached a Celery worker (the guard counts them)."""
    from horae.integrations.celery.guard import DELIVERED_KEY
    from tests.celery_app import counter

    return int(counter().get(DELIVERED_KEY.format(id=task_id)) or 0)
