"""The failed-authentication limit: per client address and per account, in the database.

What counts, and what a throttled client may still do (docs/api.md, *Authentication
limits*):

- Every failed authentication counts against the client address (``addr:<ip>``); a
  failed password also counts against the account name it tried (``account:<name>``),
  from whatever address, so guesses spread over many addresses still slow down.
- Past ``limit`` failures of an address in ``window`` seconds, that address's password
  attempts and invalid tokens get 429 until the window passes. Past ``account_limit``
  failures on an account, password attempts on that account get 429 from every address.
  A throttled attempt is refused before the password is checked, so it reveals nothing.
- A **valid token is never refused**: a token carries 256 random bits, so throttling its
  holder protects nothing, and refusing it would let anyone who shares (or spoofs) an
  address lock its owner out. The address throttle exists to slow guessing.
- Counts live in the database (:mod:`horae.store.auth_store`), so several API processes
  share one limit. A small in-process map of keys known to be locked answers repeated
  attempts without a write; it evicts its oldest entry when full, never all of them, and
  forgetting a key only costs a read.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from horae.store.auth_store import KEY_MAX, AuthFailureStore

CACHE_SIZE = 4096  # locked keys remembered in process


def address_key(client: str) -> str:
    return f"addr:{client}"[:KEY_MAX]


def account_key(name: str) -> str:
    return f"account:{name}"[:KEY_MAX]


class FailureLimits:
    """Failed authentications per address (``limit``) and per account (``account_limit``)
    in ``window`` seconds, shared by every API process on the database."""

    def __init__(self, store: AuthFailureStore, limit: int = 20, window: float = 60.0,
                 account_limit: int = 10) -> None:
        self.store = store
        self.limit = limit
        self.window = window
        self.account_limit = account_limit
        self._locked: OrderedDict[str, float] = OrderedDict()  # key -> monotonic deadline
        self._lock = threading.Lock()
        self._pruned = 0.0

    def limit_of(self, key: str) -> int:
        return self.account_limit if key.startswith("account:") else self.limit

    def retry_after(self, keys: list[str]) -> int:
        """Seconds before these keys may try again (0: they may), from the cache or the
        database."""
        cached = self._cached(keys)
        if cached:
            return cached
        waits = [self._remember(c.key, c.wait(self.limit_of(c.key), self.window))
                 for c in self.store.counts(keys)]
        return _seconds(max(waits, default=0.0))

    def failed(self, keys: list[str]) -> int:
        """Count a failure for each key; the seconds to wait when one of them is now past
        its limit (that attempt is answered 429), else 0."""
        cached = self._cached(keys)
        if cached:
            return cached  # already past the limit: nothing more to count
        now = time.monotonic()
        prune = now - self._pruned > self.window
        if prune:
            self._pruned = now
        counts = self.store.fail(keys, self.window, prune=prune)
        waits = [self._remember(c.key, c.wait(self.limit_of(c.key) + 1, self.window))
                 for c in counts]
        return _seconds(max(waits, default=0.0))

    def _cached(self, keys: list[str]) -> int:
        now = time.monotonic()
        with self._lock:
            deadlines = [self._locked.get(k, 0.0) for k in keys]
        return _seconds(max(deadlines) - now) if max(deadlines) > now else 0

    def _remember(self, key: str, wait: float) -> float:
        with self._lock:
            if wait > 0:
                self._locked[key] = time.monotonic() + wait
                self._locked.move_to_end(key)
                while len(self._locked) > CACHE_SIZE:
                    self._locked.popitem(last=False)  # evict the oldest, never clear
            else:
                self._locked.pop(key, None)
        return wait


def _seconds(wait: float) -> int:
    return 0 if wait <= 0 else int(wait) + 1
