"""The adapter's durable record of handled message ids (a redelivered copy is dropped)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from hub.database import Database, open_database

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS handled ("
    "message_id TEXT PRIMARY KEY, type TEXT NOT NULL, handled_at BIGINT NOT NULL)"
)


class HandledIds:
    """Ids whose handler finished; written before the broker ack, read before the handler runs."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @classmethod
    async def open(cls, url: str) -> HandledIds:
        db = await open_database(url)
        await db.execute(_SCHEMA)
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
            str(message_id), type_name, int(datetime.now(UTC).timestamp() * 1000),
        )

    async def close(self) -> None:
        await self._db.close()
