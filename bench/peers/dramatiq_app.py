"""The Dramatiq app of the Dramatiq peer: Redis broker on the bench's Redis db.

A middleware counts processed messages in Redis (``bench:done``): Dramatiq keeps no record
of a processed message without the Results middleware, and a count is what the drain needs.
"""

from __future__ import annotations

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware

from bench.common import REDIS_URL
from bench.peers.qharness import record_pickup

_redis = redis.Redis.from_url(REDIS_URL)


class Count(Middleware):
    def after_process_message(self, broker, message, *, result=None, exception=None):  # type: ignore[no-untyped-def]
        _redis.incr("bench:done")


broker = RedisBroker(url=REDIS_URL)
broker.add_middleware(Count())
dramatiq.set_broker(broker)


@dramatiq.actor(max_retries=0)
def noop() -> None:
    return None


@dramatiq.actor(max_retries=0)
def pickup(sent_at: float) -> None:
    record_pickup(sent_at)
