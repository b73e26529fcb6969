"""The Horae app of the Celery bridge's crash tests: Celery tasks registered through the
bridge. Its database, broker, Celery queue and task-id prefix come from the environment."""

from __future__ import annotations

import os

from horae import Horae
from horae.integrations.celery import register
from tests.celery_app import BACKEND, BROKER, make_app


def bridged(url: str | None, broker: str, queue: str, id_prefix: str) -> Horae:
    app = Horae(url) if url else Horae()
    register(app, make_app(broker, BACKEND), ["tests.celery_app.ok", "tests.celery_app.slow"],
             retries=2, retry_backoff=0.1, send_options={"queue": queue}, id_prefix=id_prefix)
    return app


app = bridged(None, BROKER, os.environ.get("HORAE_TEST_CELERY_QUEUE", "celery"),
              os.environ.get("HORAE_TEST_CELERY_ID_PREFIX", "horae"))
