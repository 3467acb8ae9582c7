"""Read models for operations: the queries behind the console (``/console``) and a case's
timeline (``maatwerk-hub status``, ``/cases/{id}``). Read-only; the tables belong to their owner
modules (seen messages, ledger, outbox, time-outs), this module only reads them across.

Rows are returned as the database gives them (times in epoch milliseconds; see
:func:`hub.state.database.from_ms`).
"""

from __future__ import annotations

from hub.state.database import Database, Row
from hub.state.seen import REFUSED


async def recent_cases(db: Database, limit: int) -> list[Row]:
    """The ``limit`` cases with the latest message: ``case_id, n, last, refused``."""
    return await db.fetch(
        "SELECT case_id, COUNT(*) AS n, MAX(received_at) AS last, "
        "SUM(CASE WHEN status = $1 THEN 1 ELSE 0 END) AS refused "
        "FROM messages WHERE case_id <> '' GROUP BY case_id ORDER BY MAX(received_at) DESC "
        "LIMIT $2", REFUSED, limit)


async def open_expectations(db: Database) -> list[Row]:
    """Every awaited receipt or response not yet fulfilled, earliest deadline first."""
    return await db.fetch("SELECT * FROM expectations WHERE fulfilled_at IS NULL "
                          "ORDER BY deadline")


async def all_timeouts(db: Database) -> list[Row]:
    """Every time-out, oldest change first."""
    return await db.fetch("SELECT * FROM timeouts ORDER BY updated_at")


async def refusals_by_reason(db: Database) -> dict[str, int]:
    """``{reason code: refused messages}``, most frequent first."""
    rows = await db.fetch("SELECT reason, COUNT(*) AS n FROM messages WHERE status = $1 "
                          "GROUP BY reason ORDER BY COUNT(*) DESC, reason", REFUSED)
    return {str(r["reason"]): int(r["n"]) for r in rows}


async def recent_refusals(db: Database, limit: int) -> list[Row]:
    """The latest ``limit`` refused messages: ``case_id, type, sender, recipient, reason,
    received_at``."""
    return await db.fetch(
        "SELECT case_id, type, sender, recipient, reason, received_at FROM messages "
        "WHERE status = $1 ORDER BY received_at DESC LIMIT $2", REFUSED, limit)


async def declined_timeouts(db: Database) -> list[Row]:
    """Time-outs declined in full or in part, with a reason: ``agency, outcome, reason_code, n``."""
    return await db.fetch(
        "SELECT agency, outcome, reason_code, COUNT(*) AS n FROM timeouts "
        "WHERE outcome IN ('declined', 'partially_accepted') AND reason_code IS NOT NULL "
        "GROUP BY agency, outcome, reason_code ORDER BY agency, outcome, reason_code")


async def running_timeouts(db: Database) -> dict[str, int]:
    """``{agency: running time-outs}``."""
    rows = await db.fetch(
        "SELECT agency, COUNT(*) AS n FROM timeouts WHERE state IN "
        "('accepted', 'partially_accepted', 'active', 'extended') GROUP BY agency "
        "ORDER BY agency")
    return {r["agency"]: int(r["n"]) for r in rows}


async def message_totals(db: Database) -> dict[str, int]:
    """``{status: messages}``."""
    rows = await db.fetch("SELECT status, COUNT(*) AS n FROM messages GROUP BY status "
                          "ORDER BY status")
    return {str(r["status"]): int(r["n"]) for r in rows}


async def case_messages(db: Database, case_id: str) -> list[Row]:
    """One case's messages in the order received."""
    return await db.fetch(
        "SELECT id, type, sender, recipient, status, reason, received_at FROM messages "
        "WHERE case_id = $1 ORDER BY received_at, id", case_id)


async def case_hub_messages(db: Database, case_id: str) -> list[Row]:
    """The hub's own messages (outbox) in one case, oldest first."""
    return await db.fetch(
        "SELECT id, type, recipient, created_at, sent_at FROM outbox WHERE case_id = $1 "
        "ORDER BY created_at, id", case_id)
