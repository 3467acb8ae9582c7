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

from datetime import UTC, datetime
from uuid import UUID

from hub.database import Database, open_database

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS handled ("
    "message_id TEXT PRIMARY KEY, type TEXT NOT NULL, handled_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS steps ("
    "message_id TEXT NOT NULL, step TEXT NOT NULL, result TEXT NOT NULL, "
    "done_at BIGINT NOT NULL, PRIMARY KEY (message_id, step))",
)


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


class HandledIds:
    """Ids whose handler finished; written before the broker ack, read before the handler runs."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @classmethod
    async def open(cls, url: str) -> HandledIds:
        db = await open_database(url)
        for statement in _SCHEMA:
            await db.execute(statement)
        return cls(db)

    async def seen(self, message_id: UUID) -> bool:
        row = await self._db.fetchone(
            "SELECT 1 AS one FROM handled WHERE message_id = $1", str(message_id)
        )
        return row is not None

    async def mark(self, message_id: UUID, type_name: str) -> None:
        await self._db.execute(
            "INSERT INTO handled (message_id, type, handled_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (message_id) DO NOTHING",
            str(message_id), type_name, _now_ms(),
        )

    async def recall(self, message_id: UUID, step: str) -> str | None:
        """The recorded result (JSON text) of ``step`` for this message, if it was done."""
        row = await self._db.fetchone(
            "SELECT result FROM steps WHERE message_id = $1 AND step = $2", str(message_id), step
        )
        return None if row is None else str(row["result"])

    async def remember(self, message_id: UUID, step: str, result: str) -> None:
        await self._db.execute(
            "INSERT INTO steps (message_id, step, result, done_at) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (message_id, step) DO NOTHING",
            str(message_id), step, result, _now_ms(),
        )

    async def close(self) -> None:
        await self._db.close()
