"""Contact details that participants published themselves (``register.update``).

The registry file stays the source of who takes part, their keys, kinds and permissions; it is
configuration, reviewed and deployed. A participant's own contact point (central mail address,
phone) may change between deployments, so a signed ``register.update`` stores an *override* here,
in the hub's state, and ``register.answer`` merges it over the file's contact (see
docs/instruments.md). The routed update is in the audit trail like every routed message; this row
names the message that set it.

This module owns the ``register_contacts`` table: no other module reads or writes it.
"""

from __future__ import annotations

from datetime import datetime

from hub.contract import instruments as ib
from hub.contract.messages import Envelope
from hub.state.database import Database, from_ms, to_ms

FIELDS = ("contact_point", "email", "phone")


async def on_routed(db: Database, envelope: Envelope, now: datetime) -> None:
    """Store the sender's new contact details (fields left out keep their earlier override)."""
    body = envelope.body
    if not isinstance(body, ib.RegisterUpdate):
        return
    current = await overrides(db)
    merged = {**current.get(envelope.sender, {}),
              **{k: getattr(body, k) for k in FIELDS if getattr(body, k) is not None}}
    await db.execute(
        "INSERT INTO register_contacts (participant, contact_point, email, phone, message_id, "
        "updated_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (participant) DO UPDATE SET "
        "contact_point = excluded.contact_point, email = excluded.email, phone = excluded.phone, "
        "message_id = excluded.message_id, updated_at = excluded.updated_at",
        envelope.sender, merged.get("contact_point"), merged.get("email"), merged.get("phone"),
        str(envelope.id), to_ms(now))


async def overrides(db: Database) -> dict[str, dict[str, str]]:
    """``{participant: {field: value}}`` for every participant that updated its contact."""
    rows = await db.fetch("SELECT * FROM register_contacts")
    return {r["participant"]: {k: r[k] for k in FIELDS if r[k] is not None} for r in rows}


async def history(db: Database) -> list[tuple[str, str, datetime | None]]:
    """``(participant, message id, updated at)`` of every override (for operators)."""
    rows = await db.fetch("SELECT participant, message_id, updated_at FROM register_contacts "
                          "ORDER BY participant")
    return [(r["participant"], r["message_id"], from_ms(r["updated_at"])) for r in rows]
