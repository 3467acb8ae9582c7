"""The adapter's durable record of handled message ids and of the side effects done per message.

Two tables in one local database (SQLite by default):

- ``handled``: ids whose handler finished. Written after the reply was published and before the
  broker ack; read before the handler runs, so a redelivered copy is dropped.
- ``steps``: the recorded result of a side effect (a back-office call) per message id and step
  name (:meth:`adapters.sdk.Delivery.once`). Written as soon as the back office answered, so a
  message redelivered after a crash -- before it was marked handled -- re-sends the same answer
  without calling the back office again.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from hub.contract.errors import ConfigError

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS handled ("
    "message_id TEXT PRIMARY KEY, type TEXT NOT NULL, handled_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS steps ("
    "message_id TEXT NOT NULL, step TEXT NOT NULL, result TEXT NOT NULL, "
    "done_at BIGINT NOT NULL, PRIMARY KEY (message_id, step))",
)
SQLITE_PREFIX = "sqlite:///"


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:///PATH`` URL: the SDK keeps its record in a local SQLite file."""
    if not url.startswith(SQLITE_PREFIX):
        raise ConfigError(f"adapter state URL {url!r}: use sqlite:///PATH (the SDK keeps its "
                          "record of handled ids in a local SQLite file)")
    return Path(url[len(SQLITE_PREFIX):])


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


class HandledIds:
    """Ids whose handler finished; written before the broker ack, read before the handler runs."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @classmethod
    async def open(cls, url: str) -> HandledIds:
        path = sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=5000"):
            conn.execute(f"PRAGMA {pragma}")
        for statement in _SCHEMA:
            conn.execute(statement)
        return cls(conn)

    async def seen(self, message_id: UUID) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM handled WHERE message_id = ?", (str(message_id),)).fetchone()
        return row is not None

    async def mark(self, message_id: UUID, type_name: str) -> None:
        self._conn.execute(
            "INSERT INTO handled (message_id, type, handled_at) VALUES (?, ?, ?) "
            "ON CONFLICT (message_id) DO NOTHING", (str(message_id), type_name, _now_ms()))

    async def recall(self, message_id: UUID, step: str) -> str | None:
        """The recorded result (JSON text) of ``step`` for this message, if it was done."""
        row = self._conn.execute(
            "SELECT result FROM steps WHERE message_id = ? AND step = ?",
            (str(message_id), step)).fetchone()
        return None if row is None else str(row[0])

    async def remember(self, message_id: UUID, step: str, result: str) -> None:
        self._conn.execute(
            "INSERT INTO steps (message_id, step, result, done_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (message_id, step) DO NOTHING", (str(message_id), step, result, _now_ms()))

    async def close(self) -> None:
        self._conn.close()
