"""API tokens and roles.

A token reads ``hor_<id>_<secret>``: ``id`` (8 hex digits) is public and finds the record,
``secret`` (``secrets.token_urlsafe(32)``) is never stored; the record keeps the SHA-256 of
the whole token, compared in constant time. A token is shown once, when it is created.

Users sign in to the console with a name and password (:mod:`horae.api.passwords`); their
console session then calls the API as the user, with the user's current role.

Roles are cumulative: ``viewer`` reads; ``operator`` also triggers, pauses, resumes, cancels
and retries; ``editor`` also creates, changes and deletes schedules; ``admin`` also manages
tokens and users. Failed authentications (a token presented that is not valid, or a user
name and password that do not match) are counted per client address and, for passwords,
per account, in the database (:mod:`horae.api.limits`); past the limit guesses get 429
until the window passes, while a valid token is always accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import IntEnum

from horae.api.last_used import LastUsed
from horae.api.limits import FailureLimits, account_key, address_key
from horae.api.passwords import dummy_hash, verify_password
from horae.api.problems import ApiError
from horae.errors import NotFound
from horae.store.api_store import ApiStore, TokenRecord
from horae.store.console_store import ConsoleSession, ConsoleStore
from horae.store.user_store import UserStore

TOKEN_PREFIX = "hor_"


class Role(IntEnum):
    VIEWER = 1
    OPERATOR = 2
    EDITOR = 3
    ADMIN = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.upper()]
        except KeyError:
            raise ValueError(f"unknown role {text!r}; roles: "
                             + ", ".join(r.label for r in cls)) from None


ROLE_NAMES = tuple(r.label for r in Role)


@dataclass(frozen=True)
class Principal:
    """Who makes a request: a token (its id, name and role) or a user (``user_id``; then
    ``token_id`` is empty); ``session_id`` when it acts through a console session."""

    token_id: str
    name: str
    role: Role
    user_id: int | None = None
    session_id: str | None = None

    @property
    def actor(self) -> str:
        """How the audit names it: the token id, or ``user:<name>``."""
        return self.token_id if self.user_id is None else f"user:{self.name}"

    @property
    def kind(self) -> str:
        return "token" if self.user_id is None else "user"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def mint_token(store: ApiStore, name: str, role: Role, created_by: str | None = None,
               *, only_if_none: bool = False) -> tuple[str, TokenRecord] | None:
    """Create a token; returns (the token, its record), or None when ``only_if_none`` and a
    token already exists."""
    for _ in range(10):
        token_id = secrets.token_hex(4)
        token = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        record = TokenRecord(token_id, name, role.label, token_hash(token), 0.0, created_by)
        if store.token_get(token_id) is not None:
            continue
        if not store.token_add(record, only_if_none=only_if_none):
            return None
        stored = store.token_get(token_id)
        assert stored is not None
        return token, stored
    raise RuntimeError("could not find a free token id")  # pragma: no cover - 2^32 ids


def ensure_admin_token(store: ApiStore) -> str | None:
    """On first start, with no token at all, create an admin token and return it (once)."""
    if store.token_count():
        return None
    made = mint_token(store, "admin (first start)", Role.ADMIN, "first start",
                      only_if_none=True)
    return None if made is None else made[0]


class Authenticator:
    """Bearer tokens, user passwords and console sessions against the store, with the
    failed-authentication limits and a light last-used mark."""

    def __init__(self, store: ApiStore, limits: FailureLimits) -> None:
        self.store = store
        self.users = UserStore(store.store)
        self.sessions = ConsoleStore(store.store)
        self.limits = limits
        self.last_used = LastUsed(store)

    def authenticate_password(self, name: str, password: str, client: str) -> Principal:
        """A user's principal from name and password, or ApiError 401/429. A wrong pair
        counts against the address and the account; a throttled one is refused before the
        password is checked, so it tells nothing."""
        keys = [address_key(client), account_key(name)]
        wait = self.limits.retry_after(keys)
        if wait:
            raise _throttled(wait)
        user = self.users.user_by_name(name) if name and "\x00" not in name else None
        ok = verify_password(password, user.password_hash if user else dummy_hash())
        if user is None or not ok or user.disabled_at is not None:
            self.limits.failed(keys)
            raise _unauthorized("that user name and password do not match an active user")
        return Principal("", user.name, Role.parse(user.role), user.id)

    def authenticate_user(self, user_id: int, session_id: str | None = None) -> Principal:
        """The principal of a signed-in user's console session (the console checked the
        session): the user's current role, or 401 once disabled."""
        try:
            user = self.users.user_get(user_id)
        except NotFound:
            user = None
        if user is None or user.disabled_at is not None:
            raise _unauthorized("this user is disabled; sign in again")
        return Principal("", user.name, Role.parse(user.role), user.id, session_id)

    def authenticate_session(self, session: ConsoleSession) -> Principal:
        """The principal of a console session the bridge found valid (its token not
        revoked, its user not disabled): the token's or the user's."""
        if session.user_id is not None:
            return self.authenticate_user(session.user_id, session.id)
        self.last_used.mark(session.token_id)  # never waits on the database
        return Principal(session.token_id, session.name, Role.parse(session.role),
                         session_id=session.id)

    def still_valid(self, principal: Principal) -> bool:
        """Whether what ``principal`` was made from still authenticates: its session
        (not signed out, expired, nor made from a revoked token or a disabled user), its
        user (not disabled) or its token (not revoked). Long streams ask this again."""
        if principal.session_id is not None:
            return self.sessions.session_get(principal.session_id) is not None
        if principal.user_id is not None:
            try:
                return self.users.user_get(principal.user_id).disabled_at is None
            except NotFound:
                return False
        record = self.store.token_get(principal.token_id)
        return record is not None and record.revoked_at is None

    def authenticate(self, header: str | None, client: str) -> Principal:
        """The principal of an ``Authorization`` header, or ApiError 401/429. A valid token
        is accepted whatever the address did; an invalid one counts against the address,
        and past the limit is answered 429."""
        if not header:
            raise _unauthorized("no token: send 'Authorization: Bearer <token>' (create one "
                                "with `horae tokens create --role viewer`)")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthorized("use 'Authorization: Bearer <token>'")
        principal = self._verify(token)
        if principal is None:
            wait = self.limits.failed([address_key(client)])
            if wait:
                raise _throttled(wait)
            raise _unauthorized("the token is not valid (unknown, revoked or mistyped)")
        return principal

    def _verify(self, token: str) -> Principal | None:
        if not token.startswith(TOKEN_PREFIX) or "\x00" in token:
            return None
        token_id, _, secret = token[len(TOKEN_PREFIX):].partition("_")
        if not secret or len(token_id) != 8:
            return None
        record = self.store.token_get(token_id)
        if record is None or record.revoked_at is not None:
            return None
        if not hmac.compare_digest(record.hash, token_hash(token)):
            return None
        self.last_used.mark(record.id)  # never waits on the database
        return Principal(record.id, record.name, Role.parse(record.role))


def require(principal: Principal, role: Role) -> None:
    if principal.role < role:
        raise ApiError(403, f"this needs the {role.label} role; the {principal.kind} "
                            f"{principal.name!r} has {principal.role.label}",
                       slug="forbidden")


def _throttled(wait: int) -> ApiError:
    return ApiError(429, "too many failed authentications from this address or for this "
                         f"account; try again in {wait}s", headers={"Retry-After": str(wait)},
                    slug="too-many-failed-authentications")


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, detail, headers={"WWW-Authenticate": 'Bearer realm="horae"'},
                    slug="unauthorized")
