"""The outbox: messages the hub itself decided to send (reminders, overdue notices, time-out ends).

A decision and its outbox rows are written in one transaction, with ids derived from what they are
about, so several replicas that reach the same decision create each message once. Publishing is a
separate step: a replica *claims* a row (a lease), publishes with confirm, then marks it sent. A
replica that dies holding a lease is replaced when the lease runs out; the copy it may have sent
carries the same id, which the adapter SDK drops.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from hub.contract.messages import Envelope
from hub.state.database import Database

LEASE_MS = 30_000


def wall_ms() -> int:
    """Real time for leases (never an injected clock: leases are between real processes)."""
    return int(time.time() * 1000)


@dataclass(frozen=True)
class OutboxItem:
    id: str
    type: str
    recipient: str
    body: bytes


async def add(db: Database, envelope: Envelope, raw: bytes) -> bool:
    """Queue a signed hub message; False when a message with this id was queued before."""
    inserted = await db.execute(
        "INSERT INTO outbox (id, type, case_id, recipient, body, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
        str(envelope.id), envelope.type, envelope.case_id, envelope.recipient,
        raw.decode(), wall_ms(),
    )
    return bool(inserted)


async def claim_pending(db: Database, replica: str, limit: int = 100) -> list[OutboxItem]:
    """Claim up to ``limit`` unsent rows whose lease is free or expired."""
    now = wall_ms()
    rows = await db.fetch(
        "SELECT id, type, recipient, body FROM outbox WHERE sent_at IS NULL "
        "AND (claimed_at IS NULL OR claimed_at < $1) ORDER BY created_at LIMIT $2",
        now - LEASE_MS, limit,
    )
    claimed = []
    for row in rows:
        won = await db.execute(
            "UPDATE outbox SET claimed_at = $2, claimed_by = $3 WHERE id = $1 "
            "AND sent_at IS NULL AND (claimed_at IS NULL OR claimed_at < $4)",
            row["id"], now, replica, now - LEASE_MS,
        )
        if won:
            claimed.append(OutboxItem(id=row["id"], type=row["type"],
                                      recipient=row["recipient"], body=row["body"].encode()))
    return claimed


async def mark_sent(db: Database, item_id: str) -> None:
    await db.execute("UPDATE outbox SET sent_at = $2 WHERE id = $1", item_id, wall_ms())
