"""The hooks dispatcher: the app's hooks as one consumer of the event log.

Delivery (lease, cursor, order, holes, waking) is :class:`horae.hooks.follower.EventFollower`;
this adds what hooks need: each row becomes a :class:`HookEvent`, the hooks registered for
it are called in registration order (async ones on the dispatcher's own event loop), a
hook that raises is logged with the event and the next one is called, and a slow hook
delays only the hooks after it (docs/hooks.md says it for users).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from horae.hooks.events import HookEvent, hook_event
from horae.hooks.follower import EventFollower
from horae.hooks.registry import HookRegistry, Registered
from horae.store.hook_queries import LoggedEvent

if TYPE_CHECKING:
    from horae.app import Horae

log = logging.getLogger("horae.hooks")


class HookDispatcher(EventFollower):
    def __init__(self, app: Horae, registry: HookRegistry, **options: Any) -> None:
        super().__init__(app, registry.consumer, lease=registry.lease, thread="horae-hooks",
                         **options)
        self.registry = registry
        self._loop: asyncio.AbstractEventLoop | None = None

    def work(self, event: LoggedEvent) -> Callable[[], None] | None:
        hooked = hook_event(event, self.app.runs.get)
        hooks = self.registry.for_kind(hooked.kind) if hooked is not None else []
        if hooked is None or not hooks:
            return None
        return lambda: self._call_all(hooks, hooked)

    def _call_all(self, hooks: list[Registered], event: HookEvent) -> None:
        for hook in hooks:
            self._call(hook.name, hook.func, event)

    def _call(self, name: str, func: Any, event: HookEvent) -> None:
        try:
            result = func(event)
            if inspect.isawaitable(result):
                if self._loop is None:
                    self._loop = asyncio.new_event_loop()
                self._loop.run_until_complete(_awaited(result))
        except Exception:
            log.exception("hook %s failed on event %d (%s, run %s, schedule %s, worker %s)",
                          name, event.id, event.kind, event.run_id, event.schedule_id,
                          event.worker_id)

    def finished(self) -> None:
        if self._loop is not None:
            self._loop.close()


async def _awaited(result: Any) -> Any:
    return await result
