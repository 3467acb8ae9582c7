"""What the hub remembers about each authenticated message: the record behind dedupe and ledger.

A row is *claimed* (status ``processing``) before the message is routed and gets its outcome
(``routed`` or ``refused``) after the broker confirmed the publish. Only messages whose sender was
authenticated (broker identity and signature) are recorded, so nobody can block another
participant's message id by sending a forgery with it first.

This module owns the ``messages`` table: no other module reads or writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from hub.contract.messages import Envelope
from hub.state.batch import GroupCommit
from hub.state.database import Database, Row, from_ms, to_ms

# The status of a message row, in the order it can move. Only this module writes the column.
PROCESSING = "processing"  # claimed; being decided
ROUTED = "routed"  # published to the recipient's inbox and confirmed
REFUSED = "refused"  # refused with a reason code
DELIVERED = "delivered"  # the recipient's receipt came back
PROCESSED = "processed"  # the recipient's answer came back
ANSWERABLE = (ROUTED, DELIVERED, PROCESSED)


@dataclass(frozen=True)
class MessageRecord:
    id: UUID
    type: str
    sender: str
    recipient: str
    case_id: str
    conversation_id: UUID
    in_reply_to: UUID | None
    status: str
    reason: str | None
    policy_version: str | None
    rule: str | None
    received_at: datetime
    decided_at: datetime | None
    content_sha256: str | None = None  # of the canonical bytes; None in rows before migration 5

    @classmethod
    def from_row(cls, row: Row) -> MessageRecord:
        return cls(
            id=UUID(row["id"]),
            type=row["type"],
            sender=row["sender"],
            recipient=row["recipient"],
            case_id=row["case_id"],
            conversation_id=UUID(row["conversation_id"]),
            in_reply_to=UUID(row["in_reply_to"]) if row["in_reply_to"] else None,
            status=row["status"],
            reason=row["reason"],
            policy_version=row["policy_version"],
            rule=row["rule"],
            received_at=from_ms(row["received_at"]) or datetime.now(UTC),
            decided_at=from_ms(row["decided_at"]),
            content_sha256=row.get("content_sha256"),
        )


@dataclass(frozen=True)
class Claim:
    """The result of claiming a message id: ``new`` is False when the id was seen before."""

    new: bool
    record: MessageRecord


class MessageStore:
    """The ``messages`` table. With ``claims`` (a :class:`GroupCommit`), the claims of messages
    in flight are committed together, up to ``MAATWERK_BATCH_MAX`` per transaction: a claim
    returns only once its transaction committed, as it does alone. Two claims of one id in one
    batch see each other (the second is not new), as they would one after the other."""

    def __init__(self, db: Database, *, claims: GroupCommit | None = None) -> None:
        self.db = db
        self.claims = claims

    async def claim(
        self, envelope: Envelope, received_at: datetime, content_sha256: str | None = None
    ) -> Claim:
        """Record the id as being processed, unless it is known; return the (existing) record.

        ``content_sha256`` (the message's content digest, see
        :func:`hub.contract.authenticate.content_digest`) is kept with the claim
        so that a later message with the same id can be told apart: a copy or other content.
        """
        if self.claims is not None:
            return await self.claims.run(
                lambda tx: MessageStore(tx).claim(envelope, received_at, content_sha256))
        values: list[Any] = [
            str(envelope.id), envelope.type, envelope.sender, envelope.recipient,
            envelope.case_id, str(envelope.conversation_id),
            str(envelope.in_reply_to) if envelope.in_reply_to else None,
            PROCESSING, to_ms(received_at), content_sha256,
        ]
        inserted = await self.db.fetch(
            "INSERT INTO messages (id, type, sender, recipient, case_id, conversation_id, "
            "in_reply_to, status, received_at, content_sha256) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
            "ON CONFLICT (id) DO NOTHING RETURNING id",
            *values,
        )
        if inserted:
            return Claim(new=True, record=MessageRecord(
                id=envelope.id, type=envelope.type, sender=envelope.sender,
                recipient=envelope.recipient, case_id=envelope.case_id,
                conversation_id=envelope.conversation_id, in_reply_to=envelope.in_reply_to,
                status=PROCESSING, reason=None, policy_version=None, rule=None,
                received_at=received_at, decided_at=None, content_sha256=content_sha256))
        record = await self.get(envelope.id)
        assert record is not None  # inserted before; rows are never deleted here
        return Claim(new=False, record=record)

    async def reclaim_refused(self, message_id: UUID) -> bool:
        """Claim a refused message again (a replay): True for the one caller that did."""
        rows = await self.db.fetch(
            "UPDATE messages SET status = $2, reason = NULL, decided_at = NULL "
            "WHERE id = $1 AND status = $3 RETURNING id", str(message_id), PROCESSING, REFUSED)
        return bool(rows)

    async def decide(
        self, message_id: UUID, status: str, *, reason: str | None = None,
        policy_version: str | None = None, rule: str | None = None,
        decided_at: datetime | None = None,
    ) -> None:
        """Record the outcome of a claimed message."""
        await self.db.execute(
            "UPDATE messages SET status = $2, reason = $3, policy_version = $4, rule = $5, "
            "decided_at = $6 WHERE id = $1",
            str(message_id), status, reason, policy_version, rule,
            to_ms(decided_at or datetime.now(UTC)),
        )

    async def get(self, message_id: UUID) -> MessageRecord | None:
        row = await self.db.fetchone("SELECT * FROM messages WHERE id = $1", str(message_id))
        return MessageRecord.from_row(row) if row else None

    async def mark_answered(self, message_id: UUID, status: str) -> None:
        """An answer to the message came back: ``delivered`` or ``processed`` (never back from
        ``processed``)."""
        await self.db.execute("UPDATE messages SET status = $2 WHERE id = $1 AND status <> $3",
                              str(message_id), status, PROCESSED)

    # -- retention (:mod:`hub.state.retention`) ---------------------------------------------------

    async def last_activity_by_case(self, *, excluding: str) -> dict[str, int]:
        """Per case (but ``excluding``): the last time a message was received or decided (ms)."""
        rows = await self.db.fetch(
            "SELECT case_id, MAX(COALESCE(decided_at, received_at)) AS last_at FROM messages "
            "WHERE case_id <> $1 GROUP BY case_id", excluding)
        return {r["case_id"]: int(r["last_at"]) for r in rows}

    async def processing_in_case(self, case_id: str) -> bool:
        """Whether a message of the case is still being decided."""
        row = await self.db.fetchone(
            "SELECT 1 AS x FROM messages WHERE case_id = $1 AND status = $2 LIMIT 1",
            case_id, PROCESSING)
        return row is not None

    async def earlier_in_hand(self, case_id: str, message_id: UUID) -> bool:
        """Whether a message of the case claimed before ``message_id`` (by claim time, then id)
        is still being decided. Only earlier ones count, so two messages never wait for each
        other."""
        row = await self.db.fetchone(
            "SELECT 1 AS x FROM messages m, messages o WHERE o.id = $3 AND m.case_id = $1 "
            "AND m.status = $2 AND m.id <> o.id AND (m.received_at < o.received_at "
            "OR (m.received_at = o.received_at AND m.id < o.id)) LIMIT 1",
            case_id, PROCESSING, str(message_id))
        return row is not None

    async def tombstone_case(self, case_id: str, *, blank: str) -> int:
        """Keep the case's rows for dedupe but cut their tie to it: the case id becomes ``blank``,
        the conversation the message id, in-reply-to and rule empty. Returns the rows changed."""
        return await self.db.execute(
            "UPDATE messages SET case_id = $2, conversation_id = id, in_reply_to = NULL, "
            "rule = NULL WHERE case_id = $1", case_id, blank)


async def record_versions(db: Database, message_id: str, *, generation: int,
                          registry_version: str, agreements_version: str) -> None:
    """The configuration generation, registry and agreements versions a decision used."""
    await db.execute(
        "UPDATE messages SET config_generation = $2, registry_version = $3, "
        "agreements_version = $4 WHERE id = $1",
        message_id, generation, registry_version, agreements_version)
