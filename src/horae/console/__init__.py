"""The web console, served at ``/`` beside the REST API (docs/console.md)."""

from __future__ import annotations

from typing import Any

from horae.console.app import Console, console
from horae.console.auth import ApiBridge

__all__ = ["Console", "console", "mount_console"]


def mount_console(api_app: Any, horae: Any) -> Console:
    """Add the console's pages to the API's Starlette app (before it serves), and the
    bridge that lets a signed-in browser call ``/api/v1`` with its session."""
    from horae.api.problems import ApiError

    api = api_app.state.api

    def check_token(token: str, client: str) -> tuple[str, str, str] | None:
        try:
            principal = api.auth.authenticate(f"Bearer {token}", client)
        except ApiError:
            return None
        return principal.token_id, principal.name, principal.role.label

    made = console(horae, check_token)
    api_app.router.routes.extend(made.routes())
    api_app.add_middleware(ApiBridge, sessions=made.sessions, prefix=made.api_prefix + "/")
    return made
