"""The web console, served at ``/`` beside the REST API (docs/console.md)."""

from __future__ import annotations

from typing import Any

from horae.console.app import Console, SignInRefused, console
from horae.console.auth import ApiBridge
from horae.store.console_store import ConsoleSession

__all__ = ["Console", "console", "mount_console"]


class ApiAccounts:
    """User sign-in and password changes for the console, through the API's authenticator
    (one failure limit for tokens and passwords) and its audit trail."""

    def __init__(self, api: Any) -> None:
        self.api = api

    def sign_in(self, name: str, password: str, client: str) -> tuple[int, str, str]:
        from horae.api.problems import ApiError

        try:
            principal = self.api.auth.authenticate_password(name, password, client)
        except ApiError as exc:
            raise SignInRefused(exc.status) from None
        return principal.user_id, principal.name, principal.role.label

    def change_password(self, session: ConsoleSession, current: str, new: str,
                        client: str) -> None:
        from horae.api.passwords import check_password, hash_password
        from horae.api.problems import ApiError
        from horae.errors import InvalidInput
        from horae.store import on_change
        from horae.store.user_store import UserStore

        assert session.user_id is not None
        users = UserStore(self.api.horae.store)
        user = users.user_get(session.user_id)
        try:
            principal = self.api.auth.authenticate_password(user.name, current, client)
        except ApiError as exc:
            raise SignInRefused(exc.status, "current_password") from None
        try:
            digest = hash_password(check_password(new, "new_password"))
        except InvalidInput as exc:
            raise SignInRefused(422, exc.field) from None

        def audit(tx: Any, changed: Any) -> None:
            self.api.store.audit_in(
                tx, actor=principal.actor, role=principal.role.label, action="user.password",
                target_kind="user", target_id=str(user.id),
                after={"id": user.id, "name": user.name,
                       "password_changed_at": changed.password_changed_at})

        with on_change(audit):
            users.user_set_password(user.id, digest, keep_session=session.id)


def mount_console(api_app: Any, horae: Any) -> Console:
    """Add the console's pages to the API's Starlette app (before it serves), and the
    bridge that lets a signed-in browser call ``/api/v1`` with its session."""
    from horae.api.problems import ApiError

    api = api_app.state.api

    def check_token(token: str, client: str) -> tuple[str, str, str] | None:
        try:
            principal = api.auth.authenticate(f"Bearer {token}", client)
        except ApiError as exc:
            if exc.status == 429:
                raise SignInRefused(429) from None
            return None
        return principal.token_id, principal.name, principal.role.label

    made = console(horae, check_token, accounts=ApiAccounts(api))
    api_app.router.routes.extend(made.routes())
    api_app.add_middleware(ApiBridge, sessions=made.sessions, prefix=made.api_prefix + "/")
    return made
