"""Thin I/O layer under the store: connections, transactions and dialect differences.

The store writes SQL once, with ``:name`` parameters; this module adapts it to SQLite
(stdlib ``sqlite3``) or PostgreSQL (``psycopg`` 3). Each thread gets its own connection,
except in-memory SQLite, where one connection behind a lock is the only way to share data.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from typing import Any
from urllib.parse import unquote, urlparse

from horae.config import setting
from horae.errors import InvalidInput
from horae.store.notices import Notifier

#: The most the write-ahead log keeps on disk after a checkpoint (bytes): a burst of writes
#: (or a disk-full episode) does not leave a WAL that refills the disk at once.
WAL_SIZE_LIMIT = 64 * 1024 * 1024

Row = dict[str, Any]
Params = dict[str, Any] | Sequence[Any]


class Tx:
    """One transaction (or autocommit session) on one connection."""

    def __init__(self, cursor: Any, adapt: Any) -> None:
        self._cur = cursor
        self._adapt = adapt
        #: Channels to signal in this process once the transaction commits.
        self.pending: set[str] = set()

    def all(self, sql: str, params: Params | None = None, *,
            planned: bool = False) -> list[Row]:
        """Every row of ``sql``. With ``planned``, PostgreSQL plans it for these very values
        each time: the plan of a statement psycopg prepared is generic (blind to the
        values), which for a search or a filter on a rare value walks a whole index where
        the values' plan reads little. (SQLite always plans for the values.)"""
        extra = {"prepare": False} if planned and self._adapt is not _same else {}
        self._cur.execute(self._adapt(sql), params or {}, **extra)
        if self._cur.description is None:
            return []
        rows = self._cur.fetchall()
        # psycopg's rows (dict_row) are fresh dicts already; sqlite3.Row needs the copy.
        return [dict(r) for r in rows] if self._adapt is _same else list(rows)

    def one(self, sql: str, params: Params | None = None) -> Row | None:
        rows = self.all(sql, params)
        return rows[0] if rows else None

    def run(self, sql: str, params: Params | None = None) -> int:
        self._cur.execute(self._adapt(sql), params or {})
        return int(self._cur.rowcount)

    def many(self, sql: str, seq: Sequence[Params]) -> None:
        if seq:
            self._cur.executemany(self._adapt(sql), seq)

    def many_returning(self, sql: str, seq: Sequence[Params]) -> list[Row | None]:
        """Run ``sql`` (with RETURNING) once per parameter set; the first row of each."""
        if not seq:
            return []
        if self._adapt is _same:  # sqlite3: in-process, one call each costs nothing
            return [self.one(sql, params) for params in seq]
        # psycopg pipelines the statements: one round trip for the whole batch.
        self._cur.executemany(self._adapt(sql), seq, returning=True)
        out: list[Row | None] = []
        while True:
            row = self._cur.fetchone()
            out.append(dict(row) if row is not None else None)
            if not self._cur.nextset():
                return out


class Database(ABC):
    """A database Horae can live in. Subclasses differ only in I/O and SQL dialect."""

    dialect: str
    url: str
    _subscribers: dict[str, list[Callable[[], None]]]
    #: SQL expression for the database clock, in UTC epoch seconds.
    now_sql: str
    #: Appended to a SELECT that claims rows, so concurrent claimers skip each other.
    skip_locked: str
    #: Appended to a SELECT ... ORDER BY id that locks rows before a change (PostgreSQL's
    #: row lock of an UPDATE; SQLite has one writer at a time and needs none).
    lock_rows: str

    @abstractmethod
    def in_list(self, column: str, param: str) -> str:
        """SQL testing ``column`` against a list parameter."""

    @abstractmethod
    def list_param(self, values: Sequence[Any]) -> Any:
        """Adapt a Python list for a parameter used with :meth:`in_list`."""

    def insert_many(self, tx: Tx, table: str, rows: Sequence[dict[str, Any]],
                    suffix: str = "") -> None:
        """Insert ``rows`` (dicts with the same keys) into ``table``; ``suffix`` follows the
        VALUES (e.g. ``ON CONFLICT ... DO NOTHING``)."""
        if rows:
            cols = list(rows[0])
            tx.many(f"INSERT INTO {table} ({', '.join(cols)}) VALUES"
                    f" ({', '.join(':' + c for c in cols)}) {suffix}", rows)

    @contextmanager
    @abstractmethod
    def write(self) -> Iterator[Tx]:
        """A transaction that holds the write lock (SQLite) or row locks (PostgreSQL)."""

    @contextmanager
    @abstractmethod
    def read(self) -> Iterator[Tx]:
        """A read-only session; each statement sees committed data."""

    @abstractmethod
    def close(self) -> None:
        """Close every connection this object opened."""

    def subscribe(self, channel: str, callback: Callable[[], None]) -> None:
        """Call ``callback`` after any commit in this process that signals ``channel``."""
        self._subscribers.setdefault(channel, []).append(callback)

    def unsubscribe(self, channel: str, callback: Callable[[], None]) -> None:
        callbacks = self._subscribers.get(channel, [])
        if callback in callbacks:
            callbacks.remove(callback)

    def _committed(self, tx: Tx) -> None:
        for channel in tx.pending:
            for callback in list(self._subscribers.get(channel, ())):
                callback()

    def migrate(self) -> int:
        """Apply pending migrations in order; returns how many were applied."""
        files = sorted(
            (f for f in resources.files("horae.store.migrations").joinpath(self.dialect).iterdir()
             if f.name.endswith(".sql")),
            key=lambda f: f.name,
        )
        applied = 0
        with self.write() as tx:
            self._lock_migrations(tx)
            tx.run("CREATE TABLE IF NOT EXISTS horae_schema_version (version INTEGER PRIMARY KEY)")
            row = tx.one("SELECT max(version) AS v FROM horae_schema_version")
            current = int(row["v"]) if row and row["v"] is not None else 0
            for f in files:
                version = int(f.name.split("_", 1)[0])
                if version <= current:
                    continue
                for statement in f.read_text().split(";\n"):
                    if statement.strip():
                        tx.run(statement)
                tx.run("INSERT INTO horae_schema_version (version) VALUES (:v)", {"v": version})
                applied += 1
        return applied

    def _lock_migrations(self, tx: Tx) -> None:  # noqa: B027 - optional hook
        """Serialise concurrent migrators; SQLite's write lock already does."""


class SQLiteDatabase(Database):
    dialect = "sqlite"
    now_sql = "((julianday('now') - 2440587.5) * 86400.0)"
    skip_locked = ""
    lock_rows = ""

    def __init__(self, url: str, path: str) -> None:
        self.url = url
        self.path = path
        self.memory = path in ("", ":memory:")
        self._subscribers: dict[str, list[Callable[[], None]]] = {}
        self._local = threading.local()
        self._shared: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._all: list[sqlite3.Connection] = []
        self._in_use: dict[int, threading.RLock] = {}  # id(connection) -> its user's lock
        self.busy_timeout = _busy_timeout()

    def in_list(self, column: str, param: str) -> str:
        return f"{column} IN (SELECT value FROM json_each(:{param}))"

    def list_param(self, values: Sequence[Any]) -> Any:
        import json

        return json.dumps(list(values))

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path or ":memory:", isolation_level=None,
                               check_same_thread=False, timeout=self.busy_timeout)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        if not self.memory:
            # A new file gets incremental auto-vacuum, so retention can give the pages of
            # deleted runs back to the file system (Store.sqlite_release_free_pages). SQLite
            # ignores this on a file that already has tables (only VACUUM changes it there).
            # Set only on an empty file: on one already incremental, setting it again takes
            # the write lock, so every new connection would wait behind any writer.
            if conn.execute("PRAGMA page_count").fetchone()[0] == 0:
                conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            self._enable_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
        with self._lock:
            self._all.append(conn)
        return conn

    @staticmethod
    def _enable_wal(conn: sqlite3.Connection) -> None:
        # Switching a new file to WAL needs an exclusive lock and SQLite answers "locked"
        # at once, without its busy handler, when another process is doing the same.
        for attempt in range(200):
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError:
                if attempt == 199:
                    raise
                threading.Event().wait(0.01 * (1 + attempt % 10))

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        if self.memory:
            with self._lock:
                if self._shared is None:
                    self._shared = self._connect()
                yield self._shared
            return
        held = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = _ThreadConnection(self._connect(), self.forget)
            with self._lock:
                self._in_use[id(held.conn)] = held.lock
        # Held while this thread uses its connection, so close() from another thread waits
        # for the statement in flight instead of freeing the connection under it (which
        # crashed the interpreter: a background writer was mid-statement at a close).
        with held.lock:
            yield held.conn

    @contextmanager
    def write(self) -> Iterator[Tx]:
        with self._connection() as conn:
            cur = conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            tx = Tx(cur, _same)
            try:
                yield tx
                # A COMMIT that fails (a deferred constraint, a full disk) leaves SQLite's
                # transaction open: roll it back too, or the connection stays stuck in it.
                conn.commit()
            except BaseException:
                if conn.in_transaction:
                    conn.rollback()
                raise
        self._committed(tx)

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self._connection() as conn:
            yield Tx(conn.cursor(), _same)

    def incremental_vacuum(self, pages: int) -> None:
        """Give up to ``pages`` free pages back to the file system, in a transaction of its
        own. ``executescript`` runs the pragma to completion: ``execute`` steps a statement
        once, and each step of this one frees a single page."""
        with self._connection() as conn:
            conn.executescript(f"PRAGMA incremental_vacuum({int(pages)})")

    def data_version(self) -> int:
        """SQLite's ``PRAGMA data_version`` on this thread's connection: it changes when
        another connection commits, so an unchanged value means nothing else was written
        (a far cheaper question than reading any table)."""
        held = None if self.memory else getattr(self._local, "held", None)
        if held is None:  # the general path (it also opens this thread's connection)
            with self._connection() as conn:
                return int(conn.execute("PRAGMA data_version").fetchone()[0])
        return int(held.conn.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                lock = self._in_use.pop(id(conn), None)
                # A thread mid-statement finishes it first (bounded: a stuck one is not
                # waited for forever).
                acquired = lock is not None and lock.acquire(timeout=5)
                try:
                    conn.close()
                finally:
                    if acquired and lock is not None:
                        lock.release()
            self._all.clear()
            self._in_use.clear()
            self._shared = None
        self._local = threading.local()

    def forget(self, conn: Any) -> None:
        """Stop tracking a connection this object opened (it was closed)."""
        with self._lock:
            if conn in self._all:
                self._all.remove(conn)
            self._in_use.pop(id(conn), None)


def _busy_timeout() -> float:
    """Seconds a SQLite statement waits for another connection's write lock
    (``HORAE_SQLITE_BUSY_TIMEOUT``, default 30) before it fails with "database is locked"."""
    raw = setting("sqlite_busy_timeout", default=30.0)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise InvalidInput("sqlite_busy_timeout", f"{raw!r} is not a number of seconds") \
            from None
    if not 0 <= value <= 3600:
        raise InvalidInput("sqlite_busy_timeout", "between 0 and 3600 seconds")
    return value


class PostgresDatabase(Database):
    dialect = "postgres"
    now_sql = "extract(epoch from clock_timestamp())::float8"
    skip_locked = " FOR UPDATE SKIP LOCKED"
    lock_rows = " FOR NO KEY UPDATE"

    def __init__(self, url: str) -> None:
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise InvalidInput(
                "database_url", "PostgreSQL needs psycopg: pip install 'horae[postgres]'"
            ) from exc
        self.url = url
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[Any] = []
        self._subscribers: dict[str, list[Callable[[], None]]] = {}
        self.notices = Notifier(self.connect, self.forget)

    def in_list(self, column: str, param: str) -> str:
        return f"{column} = ANY(:{param})"

    def list_param(self, values: Sequence[Any]) -> Any:
        return list(values)

    def insert_many(self, tx: Tx, table: str, rows: Sequence[dict[str, Any]],
                    suffix: str = "") -> None:
        # One statement for the batch: the rows travel as one JSON array that the server
        # turns into the table's row type. Per-row statements, even pipelined, cost the
        # server a parse, plan and trigger call each.
        if rows:
            cols = ", ".join(rows[0])
            tx.run(f"INSERT INTO {table} ({cols}) SELECT {cols}"
                   f" FROM json_populate_recordset(NULL::{table}, :rows::json) {suffix}",
                   {"rows": _json_dumps(list(rows))})

    def connect(self, autocommit: bool = True) -> Any:
        """A new connection of this database (also used for LISTEN)."""
        import psycopg
        from psycopg.rows import dict_row

        conn = psycopg.connect(self.url, autocommit=autocommit, row_factory=dict_row)
        with self._lock:
            self._all.append(conn)
        return conn

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        import psycopg

        held = getattr(self._local, "held", None)
        if held is None or held.conn.closed or held.conn.broken:
            held = self._local.held = _ThreadConnection(self.connect(), self.forget)
        try:
            yield held.conn
        except psycopg.OperationalError:
            # The server went away or restarted: drop the connection so the next call
            # reconnects; the caller's loop decides how long to back off.
            self._local.held = None
            raise

    @contextmanager
    def write(self) -> Iterator[Tx]:
        with self._connection() as conn, conn.transaction(), conn.cursor() as cur:
            tx = Tx(cur, _pg_params)
            yield tx
        self._committed(tx)

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self._connection() as conn, conn.cursor() as cur:
            yield Tx(cur, _pg_params)

    def _committed(self, tx: Tx) -> None:
        if tx.pending:
            self.notices.send(tx.pending)  # other processes: NOTIFY, after commit
        super()._committed(tx)

    def _lock_migrations(self, tx: Tx) -> None:
        tx.run("SELECT pg_advisory_xact_lock(727716)")

    def close(self) -> None:
        self.notices.close()
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    def forget(self, conn: Any) -> None:
        """Stop tracking a connection this object opened (it was closed)."""
        with self._lock:
            if conn in self._all:
                self._all.remove(conn)


class _ThreadConnection:
    """A thread's own connection, closed when the thread ends (its thread-local storage is
    released then), so servers that start a thread per request do not leak connections."""

    def __init__(self, conn: Any, forget: Callable[[Any], None]) -> None:
        self.conn = conn
        self._forget = forget
        self.lock = threading.RLock()  # held by the owning thread while it uses conn

    def __del__(self) -> None:
        try:
            self._forget(self.conn)
            self.conn.close()
        except Exception:  # interpreter shutdown or an already broken connection
            pass


def _json_dumps(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


def _same(sql: str) -> str:
    return sql


_PARAM = re.compile(r"(?<![:\w]):(\w+)")
_pg_cache: dict[str, str] = {}


def _pg_params(sql: str) -> str:
    """``:name`` -> ``%(name)s`` (psycopg's style), leaving ``::type`` casts alone."""
    out = _pg_cache.get(sql)
    if out is None:
        out = _pg_cache[sql] = _PARAM.sub(r"%(\1)s", sql)
    return out


def open_database(url: str) -> Database:
    """``sqlite:///path.db``, ``sqlite:///:memory:``, ``postgresql://...``."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(url[len("sqlite://"):])
        path = path[1:] if path.startswith("/") else path
        if path.startswith("/:memory:") or path in ("", ":memory:"):
            path = ":memory:"
        return SQLiteDatabase(url, path)
    if parsed.scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        return PostgresDatabase(url.replace("postgresql+psycopg", "postgresql", 1))
    raise InvalidInput(
        "database_url", f"unsupported scheme {parsed.scheme!r}: use sqlite:/// or postgresql://"
    )
