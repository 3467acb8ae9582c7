"""One small async SQL interface over SQLite (embedded default) and PostgreSQL (several replicas).

SQL is written once, in PostgreSQL's ``$1`` parameter style; the SQLite backend rewrites it to
SQLite's numbered ``?1``. Only portable SQL is used (TEXT, BIGINT, ``ON CONFLICT``). Times are
stored as epoch milliseconds (UTC), converted only by :func:`to_ms`, :func:`from_ms` and
:func:`now_ms`. The schema and its versioned migrations are in :mod:`hub.state.migrations`; each
table has one owner module in :mod:`hub.state`, the only code that reads or writes it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from hub.contract.errors import ConfigError, HubError
from hub.state.wal_checkpoints import SAFETY_PAGES, Checkpoints

Row = dict[str, Any]
log = logging.getLogger("maatwerk.state")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_ms(moment: datetime) -> int:
    """A moment as stored: epoch milliseconds (floor), in integers: ``timestamp() * 1000`` in
    floating point read 1.001 s as 1000 ms, so a stored time read back and written again lost a
    millisecond (and a page key of ``/overdue`` pointed before its own row)."""
    aware = moment if moment.tzinfo is not None else moment.astimezone(UTC)
    return (aware - _EPOCH) // _MS


def from_ms(ms: int | None) -> datetime | None:
    """A stored time (epoch milliseconds) as an aware UTC datetime; ``None`` stays ``None``."""
    return None if ms is None else _EPOCH + ms * _MS


def now_ms() -> int:
    """The real time now in epoch milliseconds (never an injected clock: for leases and probes
    between real processes)."""
    return int(time.time() * 1000)


class StoreUnavailableError(HubError):
    """The state store cannot be reached or refused a write; the caller retries, loses nothing."""


@dataclass(frozen=True)
class StateTimeouts:
    """How long the hub waits for the state store before it counts as not answering.

    PostgreSQL: ``statement_timeout`` and ``lock_timeout`` (server side) and the wait for a pool
    connection; SQLite: ``busy_timeout`` (the wait for a locked database, on the event loop's
    thread, so keep it short). A timeout raises :class:`StoreUnavailableError` (the message is
    retried, readiness goes red), logs a warning and is counted (``on_timeout``).
    """

    statement: float = 30.0
    lock: float = 15.0
    sqlite_busy_ms: int = 1000
    pool: float = 30.0  # a busy replica queues for connections: slow is not unanswering


TimeoutHook = Callable[[str], None]


def _timed_out(kind: str, hook: TimeoutHook | None, exc: BaseException) -> StoreUnavailableError:
    log.warning("state store did not answer (%s timeout): %s", kind, exc,
                extra={"event": "state_timeout", "kind": kind})
    if hook is not None:
        hook(kind)
    return StoreUnavailableError(f"state store {kind} timeout: {exc}")


class Database(ABC):
    """The few operations the hub needs, the same on both backends."""

    on_timeout: TimeoutHook | None = None  # called with the kind of every timeout

    @abstractmethod
    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; return the number of rows it changed."""

    @abstractmethod
    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        """Run a query; return its rows as dicts."""

    @abstractmethod
    def transaction(self) -> Any:
        """Async context manager yielding a Database bound to one transaction."""

    @abstractmethod
    async def close(self) -> None: ...

    async def lock_for_migration(self) -> None:
        """Inside a transaction: keep other replicas out until it ends (PostgreSQL only)."""
        return None

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None


_PARAM = re.compile(r"\$(\d+)")


@functools.lru_cache(maxsize=512)
def _sqlite_sql(sql: str) -> str:
    """PostgreSQL's ``$1`` parameters in SQLite's numbered ``?1`` form."""
    return _PARAM.sub(r"?\1", sql)


class SqliteDatabase(Database):
    """sqlite3 in WAL mode, called on the event loop's own thread.

    Every statement is microseconds (WAL with synchronous=NORMAL does not fsync on commit), and
    they all serialise on one connection anyway, so a worker thread would only add a thread hop
    per statement (the profile measured 1.6 ms per message through aiosqlite against 0.19 ms
    direct). A lock keeps each transaction to itself across awaits: the task that opened it runs
    its statements straight through; any other task's statement waits for the lock, so it never
    lands inside (and is never rolled back with) someone else's transaction. Several hub
    replicas belong on PostgreSQL; SQLite is the embedded single-machine default.
    """

    def __init__(self, conn: sqlite3.Connection, checkpoints: Checkpoints | None = None) -> None:
        self._conn = conn
        self.checkpoints = checkpoints
        self._lock = asyncio.Lock()
        self._tx_owner: asyncio.Task[Any] | None = None
        self.on_timeout: TimeoutHook | None = None

    @classmethod
    async def open(cls, path: Path, busy_ms: int = 1000, *,
                   background_checkpoints: bool = False) -> SqliteDatabase:
        """``background_checkpoints``: the WAL is copied back by a thread of its own
        (:mod:`hub.state.wal_checkpoints`), not by a commit on this thread (the hub's own
        store; short-lived readers such as the CLI's need none)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", f"busy_timeout={int(busy_ms)}"):
            conn.execute(f"PRAGMA {pragma}")
        checkpoints = None
        if background_checkpoints:
            conn.execute(f"PRAGMA wal_autocheckpoint={SAFETY_PAGES}")
            checkpoints = Checkpoints(path)
            checkpoints.start()
        return cls(conn, checkpoints)

    def _run(self, sql: str, args: Sequence[Any]) -> sqlite3.Cursor:
        try:
            return self._conn.execute(_sqlite_sql(sql), tuple(args))
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise _timed_out("busy", self.on_timeout, exc) from exc
            raise StoreUnavailableError(f"sqlite: {exc}") from exc

    def _rows(self, sql: str, args: Sequence[Any]) -> list[Row]:
        cursor = self._run(sql, args)
        names = [d[0] for d in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    @property
    def in_transaction(self) -> bool:
        """True inside a transaction this task opened (not one another task holds open)."""
        return self._tx_owner is not None and self._tx_owner is asyncio.current_task()

    async def execute(self, sql: str, *args: Any) -> int:
        if self.in_transaction:
            return self._run(sql, args).rowcount
        async with self._lock:
            return self._run(sql, args).rowcount

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        if self.in_transaction:
            return self._rows(sql, args)
        async with self._lock:
            return self._rows(sql, args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Database]:
        if self.in_transaction:
            raise HubError("nested transactions are not used")
        async with self._lock:
            self._run("BEGIN IMMEDIATE", ())
            self._tx_owner = asyncio.current_task()
            try:
                yield self
            except BaseException:
                self._tx_owner = None
                self._run("ROLLBACK", ())
                raise
            self._tx_owner = None
            self._run("COMMIT", ())

    async def close(self) -> None:
        if self.checkpoints is not None:
            await asyncio.to_thread(self.checkpoints.stop)
        self._conn.close()


class _PgConnection(Database):
    """A Database bound to one asyncpg connection inside a transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> int:
        status: str = await self._conn.execute(sql, *args)
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return [dict(r) for r in await self._conn.fetch(sql, *args)]

    def transaction(self) -> Any:
        raise HubError("nested transactions are not used")

    async def lock_for_migration(self) -> None:
        await self._conn.execute("SELECT pg_advisory_xact_lock(726348)")

    async def close(self) -> None:
        return None


_PG_DOWN = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError)


class PostgresDatabase(Database):
    """asyncpg pool; every statement on its own connection unless inside ``transaction()``.

    Every wait is bounded (:class:`StateTimeouts`): statements and lock waits on the server, the
    pool connection in the client, so a stuck database stalls nothing forever.
    """

    def __init__(self, pool: asyncpg.Pool, timeouts: StateTimeouts | None = None) -> None:
        self._pool = pool
        self.timeouts = timeouts or StateTimeouts()
        self.on_timeout: TimeoutHook | None = None

    @classmethod
    async def open(cls, url: str, timeouts: StateTimeouts | None = None) -> PostgresDatabase:
        timeouts = timeouts or StateTimeouts()
        settings = {"statement_timeout": str(int(timeouts.statement * 1000)),
                    "lock_timeout": str(int(timeouts.lock * 1000))}
        try:
            pool = await asyncpg.create_pool(url, min_size=1, max_size=10,
                                             server_settings=settings,
                                             timeout=timeouts.statement)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            raise StoreUnavailableError(f"postgresql: cannot connect: {exc}") from exc
        return cls(pool, timeouts)

    @asynccontextmanager
    async def _acquire(self) -> AsyncIterator[asyncpg.Connection]:
        """A pool connection; every failure to get or use one is a StoreUnavailableError."""
        try:
            conn = await self._pool.acquire(timeout=self.timeouts.pool)
        except TimeoutError as exc:
            raise _timed_out("pool", self.on_timeout, exc) from exc
        except _PG_DOWN as exc:
            raise StoreUnavailableError(f"postgresql: {exc}") from exc
        try:
            yield conn
        except asyncpg.LockNotAvailableError as exc:
            raise _timed_out("lock", self.on_timeout, exc) from exc
        except asyncpg.QueryCanceledError as exc:
            raise _timed_out("statement", self.on_timeout, exc) from exc
        except _PG_DOWN as exc:
            raise StoreUnavailableError(f"postgresql: {exc}") from exc
        finally:
            await self._pool.release(conn)

    async def execute(self, sql: str, *args: Any) -> int:
        async with self._acquire() as conn:
            return await _PgConnection(conn).execute(sql, *args)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        async with self._acquire() as conn:
            return await _PgConnection(conn).fetch(sql, *args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Database]:
        async with self._acquire() as conn, conn.transaction():
            yield _PgConnection(conn)

    async def close(self) -> None:
        await self._pool.close()


async def open_database(url: str, timeouts: StateTimeouts | None = None, *,
                        background_checkpoints: bool = False) -> Database:
    """``sqlite:///relative/path``, ``sqlite:////abs/path`` or ``postgresql://...``;
    ``background_checkpoints`` for SQLite: see :meth:`SqliteDatabase.open`."""
    timeouts = timeouts or StateTimeouts()
    if url.startswith("sqlite:///"):
        return await SqliteDatabase.open(Path(url.removeprefix("sqlite:///")),
                                         timeouts.sqlite_busy_ms,
                                         background_checkpoints=background_checkpoints)
    if url.startswith(("postgresql://", "postgres://")):
        return await PostgresDatabase.open(url, timeouts)
    raise ConfigError(f"MAATWERK_STATE_URL={url!r}: use sqlite:///PATH or postgresql://...")
