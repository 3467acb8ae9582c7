"""The outbox: messages the hub itself decided to send (reminders, overdue notices, time-out ends).

A decision and its outbox rows are written in one transaction, with ids derived from what they are
about, so several replicas that reach the same decision create each message once. Publishing is a
separate step: a replica *claims* a row (a lease), publishes with confirm, then marks it sent. A
replica that dies holding a lease is replaced when the lease runs out; the copy it may have sent
carries the same id, which the adapter SDK drops.

This module owns the ``outbox`` table: no other module reads or writes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.contract.messages import Envelope
from hub.state.database import Database, now_ms

LEASE_MS = 30_000
"""Leases run on real time (:func:`~hub.state.database.now_ms`): they are between processes."""


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
        raw.decode(), now_ms(),
    )
    return bool(inserted)


PAGE = 100
"""Rows claimed at a time by :func:`claim_pending` (the router sends page after page)."""


async def claim_pending(db: Database, replica: str, limit: int | None = None
                        ) -> list[OutboxItem]:
    """Claim up to ``limit`` unsent rows whose lease is free or expired."""
    now = now_ms()
    rows = await db.fetch(
        "SELECT id, type, recipient, body FROM outbox WHERE sent_at IS NULL "
        "AND (claimed_at IS NULL OR claimed_at < $1) ORDER BY created_at LIMIT $2",
        now - LEASE_MS, PAGE if limit is None else limit,
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
    await db.execute("UPDATE outbox SET sent_at = $2 WHERE id = $1", item_id, now_ms())


# -- retention (:mod:`hub.state.retention`) -------------------------------------------------------

async def last_activity_by_case(db: Database) -> dict[str, int]:
    """Per case: the last time a hub message was queued or sent (ms)."""
    rows = await db.fetch(
        "SELECT case_id, MAX(COALESCE(sent_at, created_at)) AS last_at FROM outbox "
        "GROUP BY case_id")
    return {r["case_id"]: int(r["last_at"]) for r in rows}


async def unsent_in_case(db: Database, case_id: str) -> bool:
    """Whether a hub message of the case still waits to be sent."""
    row = await db.fetchone(
        "SELECT 1 AS x FROM outbox WHERE case_id = $1 AND sent_at IS NULL LIMIT 1", case_id)
    return row is not None


async def delete_sent_of_case(db: Database, case_id: str) -> int:
    """Remove the case's sent hub messages (their bodies may carry personal data); how many."""
    return await db.execute(
        "DELETE FROM outbox WHERE case_id = $1 AND sent_at IS NOT NULL", case_id)
