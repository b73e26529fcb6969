"""The API and the console as one ASGI app (``Horae.asgi``), and paths under the prefix
it may be mounted at.

Mounted under a prefix (``Mount("/horae", app)`` in Starlette or FastAPI), a request's
``scope["root_path"]`` is the prefix and ``scope["path"]`` still holds the whole path;
served behind a proxy that strips the prefix (``uvicorn --root-path /horae``), the path
lacks it. :func:`route_path` gives the path inside the app either way, :func:`root_of` the
prefix every link, redirect and cookie of the console carries.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from horae.app import Horae


def root_of(scope: MutableMapping[str, Any]) -> str:
    """The prefix the app is served under: "" at the root, else "/horae" (no end slash)."""
    return str(scope.get("root_path") or "").rstrip("/")


def route_path(scope: MutableMapping[str, Any]) -> str:
    """The request's path inside the app (without the prefix)."""
    path = str(scope["path"])
    root = root_of(scope)
    if root and (path == root or path.startswith(root + "/")):
        return path[len(root):] or "/"
    return path


def asgi(horae: Horae, prefix: str = "", *, start: bool = False) -> Starlette:
    """The REST API (``/api/v1``) and the web console (``/``) of ``horae`` as one ASGI app.

    Mount it in your app (``Mount("/horae", app=horae.asgi())``): links, redirects, cookies
    and static files of the console follow the mount point. ``prefix`` serves the app
    itself under that path (for a server that runs it as the top-level app). Its lifespan
    starts a scheduler and a worker in this process only with ``start=True`` (and stops
    them at shutdown); note that Starlette and FastAPI do not run the lifespan of a mounted
    app, so there start them from your own lifespan (docs/integrations.md).
    """
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from horae.api.app import ApiSettings, create_app
    from horae.console import mount_console

    if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
        from horae.errors import InvalidInput

        raise InvalidInput("prefix", "must start with '/' and not end with one, e.g. '/horae'")
    api = create_app(horae, ApiSettings.from_config())
    mount_console(api, horae)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        from starlette.concurrency import run_in_threadpool

        if start:
            await run_in_threadpool(horae.start)
        try:
            yield
        finally:
            api.state.api.stopping.set()  # event streams end
            if start:
                await run_in_threadpool(horae.stop)

    if not prefix:
        api.router.lifespan_context = lifespan
        return api
    outer = Starlette(routes=[Mount(prefix, app=api)], lifespan=lifespan)
    outer.state.api = api.state.api
    return outer
