"""Tasks the API tests schedule and run; module-level so `horae -A tests.api.apps:app` works.

No ``from __future__ import annotations``: task schemas are read from the annotations.
"""

import os
import time

from horae import Horae
from horae.worker.context import Context


def register(app: Horae) -> Horae:
    @app.task("scan")
    def scan(targets: list[str], port: int = 80) -> dict[str, int]:
        """Pretend to scan."""
        return {"targets": len(targets), "port": port}

    @app.task("gated")
    def gated(gate: str, ctx: Context) -> str:
        """Report half-way progress, then wait until the file ``gate`` exists."""
        ctx.logger.info("started")
        ctx.progress(0.5, "half way")
        while not os.path.exists(gate):
            if ctx.cancelled:
                return "cancelled"
            time.sleep(0.01)
        ctx.logger.info("gate opened")
        return "done"

    return app


app = register(Horae())
