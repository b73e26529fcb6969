"""A process that dies by SIGKILL in the middle of an idempotent request.

``python -m tests.api.crash_request URL TOKEN KEY inside|after``: serves one
``POST /api/v1/runs`` with ``Idempotency-Key: KEY`` through the real API app, and kills
itself either inside the change's transaction (right after the audit row is written,
before the commit) or right after that transaction committed (before any answer). Nothing
after the kill runs: no cleanup, no release, no response.
"""

from __future__ import annotations

import os
import signal
import sys
import warnings
from typing import Any

from horae import Horae
from horae.api import create_app
from horae.store.api_store import ApiStore
from tests.api.apps import register

warnings.filterwarnings("ignore", message=".*httpx.*starlette.testclient.*")
from starlette.testclient import TestClient  # noqa: E402

BODY = {"task": "scan", "kwargs": {"targets": ["crash"]}}


def die(*_: Any) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(url: str, token: str, key: str, point: str) -> None:
    horae = register(Horae(url))
    app = create_app(horae)
    if point == "inside":
        audit_in = ApiStore.audit_in

        def audit_then_die(self: ApiStore, *args: Any, **kw: Any) -> None:
            audit_in(self, *args, **kw)
            die()

        ApiStore.audit_in = audit_then_die  # type: ignore[method-assign]
    else:
        horae.store.db.subscribe("horae_runs", die)  # called once the change committed
    client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    client.post("/api/v1/runs", json=BODY, headers={"Idempotency-Key": key})
    sys.exit("the request finished: the fault never fired")


if __name__ == "__main__":
    main(*sys.argv[1:5])
