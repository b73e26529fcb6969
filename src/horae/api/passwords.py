"""Password hashing for user accounts: standard-library scrypt, no extra dependency.

A stored hash reads ``scrypt$<n>$<r>$<p>$<salt>$<digest>`` (salt and digest in URL-safe
base64): each user has a random 16-byte salt, and the parameters travel with the hash so
they can be raised later without breaking older hashes. Verification recomputes the digest
with the stored salt and parameters and compares in constant time. A password is never
logged, never audited and never returned.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets

from horae.errors import InvalidInput, text_problem

MIN_LENGTH = 12
MAX_LENGTH = 1024  # scrypt reads all of it: bound the work a request can ask for
N, R, P = 2**14, 8, 1  # 16 MiB and about 50 ms per hash on one core
_DKLEN = 32
_MAXMEM = 64 * 1024 * 1024


USER_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$"  # no ':' (the audit writes user:<name>)


def check_user_name(name: str, field: str = "name") -> str:
    """The name if it is acceptable, else InvalidInput naming ``field``."""
    if not isinstance(name, str) or not re.fullmatch(USER_NAME, name):
        raise InvalidInput(field, "1-100 letters, digits and _ . @ -, starting with a letter "
                                  "or digit")
    return name


def check_password(password: str, field: str = "password") -> str:
    """The password if it is acceptable, else InvalidInput naming ``field``."""
    if not isinstance(password, str):
        raise InvalidInput(field, "must be text")
    if len(password) < MIN_LENGTH:
        raise InvalidInput(field, f"must be at least {MIN_LENGTH} characters long")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(field, f"must be at most {MAX_LENGTH} characters long")
    reason = text_problem(password)
    if reason is not None:
        raise InvalidInput(field, reason)
    return password


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=_MAXMEM, dklen=_DKLEN)


def hash_password(password: str) -> str:
    """A new salted hash of ``password`` (check it with :func:`check_password` first)."""
    salt = secrets.token_bytes(16)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(_scrypt(password, salt, N, R, P))}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored``; False for a malformed hash."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt" or int(n) > 2**20 or int(r) > 32 or int(p) > 16:
            return False
        expected = _unb64(digest)
        actual = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
    except (ValueError, TypeError, UnicodeEncodeError):
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def dummy_hash() -> str:
    """Verified when a user name is unknown, so the answer takes as long as for a known
    one (made on first use: no work at import)."""
    return hash_password(secrets.token_urlsafe(16))
