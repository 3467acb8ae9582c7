"""Queue one signed hub message in the outbox and audit it, inside the caller's transaction.

The owners of case state (:mod:`hub.state.escalations`, :mod:`hub.state.bridging`) decide that
the hub must say something (a reminder, an overdue notice, a copy of the LET's decision); this
signs it, queues it once (the id is derived from what it is about) and appends the audit record.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID

from hub.contract.agreements import CALENDAR_ZONE
from hub.contract.notary import Notary, Thread
from hub.state import audit_events, outbox
from hub.state.audit import AuditLog
from hub.state.database import Database


async def queue(tx: Database, notary: Notary, audit: AuditLog, *, type: str, to: str,
                body: dict[str, Any], thread: Thread, message_id: UUID, now: datetime) -> bool:
    """Sign and queue; False when a message with this id was queued before (nothing doubled)."""
    envelope, raw = notary.sign(type=type, recipient=to, body=body, now=now, thread=thread,
                                message_id=message_id)
    if not await outbox.add(tx, envelope, raw):
        return False
    await audit.append(audit_events.entry_for_hub_message(envelope, raw, audit.hash_key), tx)
    return True


def late_body(*, message_id: str, message_type: str, late: str, deadline: datetime
              ) -> dict[str, Any]:
    """The body of ``notice.reminder`` and ``notice.overdue``: ids, who is late, the deadline."""
    return {"message_id": message_id, "message_type": message_type, "awaited": "response",
            "late_participant": late,
            "deadline": deadline.astimezone(UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")}


def start_of(day: date) -> datetime:
    """Midnight at the start of ``day`` on the Dutch calendar."""
    return datetime.combine(day, time(0), CALENDAR_ZONE)
