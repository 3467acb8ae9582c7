"""The time-out lifecycle, per case and per agency.

    requested -> accepted | partially_accepted | declined
    accepted | partially_accepted -> active (from the effective date)
    active -> extended (new end date) -> ...
    accepted | active | extended -> lifted (the municipality ends it early, on ``lift_on``)
    any open state -> ended (at the end date, or on ``lift_on``): the hub sends ``timeout.ended``
                      to the municipality and the agency
    accepted | active | extended -> suspended (the agency suspends it: ``timeout.suspend``)
    any running or suspended state -> ended by the agency (``timeout.end_by_agency``, e.g. a CJIB
                      noodstop when agreements are broken; ``ended_by`` = ``agency``, the reason
                      code in ``agency_reason``): the message itself tells the municipality

Per-agency rules (:mod:`hub.contract.agreements`) are checked before a request or extension is
routed (:mod:`hub.core.timeout_rules`); a request beyond the agency's maximum is refused with the
rule named.

This module owns the ``timeouts`` table: no other module reads or writes it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid5

from hub.contract import bodies as b
from hub.contract import instruments as ib
from hub.contract.messages import Envelope, Purpose
from hub.contract.notary import Notary, Thread, notice_id
from hub.state import audit_events, outbox
from hub.state.audit import AuditLog
from hub.state.database import Database, Row, StoreUnavailableError, to_ms
from hub.state.seen import MessageStore

logger = logging.getLogger("maatwerk.timeouts")
RUNNING = ("accepted", "partially_accepted", "active", "extended")
SUSPENDED = "suspended"
AGENCY_MAY_END = (*RUNNING, SUSPENDED)
"""States an agency may end a pause from (issue 13); it may suspend only a running one."""
CLOSED = ("ended", "declined")
"""The states in which a time-out is over: it ended, or it was declined."""


@dataclass(frozen=True)
class TimeoutRecord:
    request_id: str
    case_id: str
    municipality: str
    agency: str
    state: str
    outcome: str | None
    requested_months: int
    granted_months: int
    effective_from: str | None
    effective_until: str | None
    ended_on: str | None
    ended_by: str | None
    agency_reason: str | None = None
    suspended_from: str | None = None

    @classmethod
    def from_row(cls, row: Row) -> TimeoutRecord:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})


async def get(db: Database, request_id: str) -> TimeoutRecord | None:
    row = await db.fetchone("SELECT * FROM timeouts WHERE request_id = $1", request_id)
    return TimeoutRecord.from_row(row) if row else None


async def of_case(db: Database, case_id: str) -> list[TimeoutRecord]:
    rows = await db.fetch("SELECT * FROM timeouts WHERE case_id = $1 ORDER BY agency", case_id)
    return [TimeoutRecord.from_row(r) for r in rows]


class TimeoutTable:
    """Reads of the ``timeouts`` table that the routing core's rule step needs."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, request_id: str) -> TimeoutRecord | None:
        return await get(self.db, request_id)

    async def open_request(self, case_id: str, agency: str) -> str | None:
        """The request id of the case's open time-out at ``agency``, if any."""
        row = await self.db.fetchone(
            "SELECT request_id FROM timeouts WHERE case_id = $1 AND agency = $2 AND state IN "
            "('requested', 'accepted', 'partially_accepted', 'active', 'extended', 'suspended')",
            case_id, agency)
        return str(row["request_id"]) if row else None


# -- state changes, recorded with the routing decision -------------------------------------------

async def on_routed(db: Database, envelope: Envelope, now: datetime) -> None:
    """Move the time-out state for a routed time-out message (idempotent)."""
    body, ms = envelope.body, to_ms(now)
    if isinstance(body, b.TimeoutRequest):
        await db.execute(
            "INSERT INTO timeouts (request_id, case_id, conversation_id, municipality, agency, "
            "state, requested_from, requested_months, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, 'requested', $6, $7, $8) "
            "ON CONFLICT (request_id) DO NOTHING",
            str(envelope.id), envelope.case_id, str(envelope.conversation_id), envelope.sender,
            envelope.recipient, body.requested_from.isoformat(), body.requested_months, ms)
    elif isinstance(body, b.TimeoutResponse):
        await _on_response(db, envelope, body, ms)
    elif isinstance(body, b.TimeoutExtend):
        await db.execute(
            "UPDATE timeouts SET pending_extension_months = $2, updated_at = $3 "
            "WHERE request_id = $1", str(envelope.in_reply_to), body.extend_months, ms)
    elif isinstance(body, b.TimeoutLift):
        await db.execute(
            "UPDATE timeouts SET state = 'lifted', ended_on = $2, updated_at = $3 "
            "WHERE request_id = $1 AND state IN "
            "('accepted', 'partially_accepted', 'active', 'extended', 'suspended')",
            str(envelope.in_reply_to), body.lift_on.isoformat(), ms)
    elif isinstance(body, ib.TimeoutEndByAgency):
        await db.execute(
            "UPDATE timeouts SET state = 'ended', ended_on = $2, ended_by = 'agency', "
            "agency_reason = $3, updated_at = $4 WHERE request_id = $1 AND state IN "
            "('accepted', 'partially_accepted', 'active', 'extended', 'suspended')",
            str(envelope.in_reply_to), body.ended_on.isoformat(), body.reason_code.value, ms)
    elif isinstance(body, ib.TimeoutSuspend):
        await db.execute(
            "UPDATE timeouts SET state = 'suspended', suspended_from = $2, agency_reason = $3, "
            "updated_at = $4 WHERE request_id = $1 AND state IN "
            "('accepted', 'partially_accepted', 'active', 'extended')",
            str(envelope.in_reply_to), body.suspended_from.isoformat(), body.reason_code.value,
            ms)


async def _on_response(db: Database, envelope: Envelope, body: b.TimeoutResponse, ms: int) -> None:
    if envelope.in_reply_to is None:
        return
    answered = await MessageStore(db).get(envelope.in_reply_to)
    if answered is None:
        return
    if answered.type == "timeout.extend":
        record = await get(db, str(answered.in_reply_to)) if answered.in_reply_to else None
        if record is None or body.outcome is b.TimeoutOutcome.DECLINED:
            return
        await db.execute(
            "UPDATE timeouts SET state = 'extended', effective_until = $2, extensions = "
            "extensions + 1, granted_months = granted_months + pending_extension_months, "
            "pending_extension_months = 0, updated_at = $3 WHERE request_id = $1",
            record.request_id, _iso(body.effective_until), ms)
        return
    state = body.outcome.value
    scope = json.dumps([s.value for s in body.paused_scope])
    await db.execute(
        "UPDATE timeouts SET state = $2, outcome = $2, effective_from = $3, "
        "effective_until = $4, paused_scope = $5, reason_code = $6, "
        "granted_months = requested_months, updated_at = $7 "
        "WHERE request_id = $1 AND state = 'requested'",
        str(envelope.in_reply_to), state, _iso(body.effective_from), _iso(body.effective_until),
        scope, body.reason_code.value if body.reason_code else None, ms)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


# -- the clock moves: activate, end ----------------------------------------------------------------

async def advance(db: Database, notary: Notary, log: AuditLog, now: datetime) -> int:
    """Activate time-outs whose period began and end those whose end date passed; return ends."""
    today = now.date().isoformat()
    await db.execute(
        "UPDATE timeouts SET state = 'active', updated_at = $2 WHERE state IN "
        "('accepted', 'partially_accepted') AND effective_from <= $1 AND effective_until >= $1",
        today, to_ms(now))
    due = await db.fetch(
        "SELECT * FROM timeouts WHERE (state IN ('accepted', 'partially_accepted', 'active', "
        "'extended', 'suspended') AND effective_until <= $1) "
        "OR (state = 'lifted' AND ended_on <= $1)", today)
    ended = 0
    for row in due:
        try:
            ended += await _end(db, notary, log, TimeoutRecord.from_row(row), row, now)
        except StoreUnavailableError:
            raise
        except Exception:  # one bad row must not stop every other time-out's end
            logger.exception("cannot end time-out %s; skipped", row.get("request_id"))
    return ended


async def _end(db: Database, notary: Notary, log: AuditLog, record: TimeoutRecord, row: Row,
               now: datetime) -> int:
    lifted = record.state == "lifted"
    ended_on = record.ended_on if lifted else record.effective_until
    async with db.transaction() as tx:
        won = await tx.execute(
            "UPDATE timeouts SET state = 'ended', ended_by = $2, ended_on = $3, updated_at = $4 "
            "WHERE request_id = $1 AND state = $5",
            record.request_id, "lifted" if lifted else "end_date", ended_on, to_ms(now),
            record.state)
        if not won:
            return 0
        thread = Thread(case_id=record.case_id, conversation_id=UUID(row["conversation_id"]),
                        purpose=Purpose.TIMEOUT, in_reply_to=UUID(record.request_id))
        body: dict[str, Any] = {"agency": record.agency, "ended_on": ended_on,
                                "ended_by": "lifted" if lifted else "end_date"}
        for recipient in (record.municipality, record.agency):
            envelope, raw = notary.sign(
                type="timeout.ended", recipient=recipient, body=body, now=now, thread=thread,
                message_id=uuid5(notice_id("timeout.ended", UUID(record.request_id)), recipient))
            if await outbox.add(tx, envelope, raw):
                await log.append(
                    audit_events.entry_for_hub_message(envelope, raw, log.hash_key), tx)
    return 1


async def count_active(db: Database) -> dict[str, int]:
    """Running time-outs per agency (for the gauge)."""
    rows = await db.fetch(
        "SELECT agency, COUNT(*) AS n FROM timeouts WHERE state IN ('active', 'extended') "
        "GROUP BY agency")
    return {r["agency"]: int(r["n"]) for r in rows}


# -- retention (:mod:`hub.state.retention`) -------------------------------------------------------

async def last_activity_by_case(db: Database) -> dict[str, int]:
    """Per case: the last time one of its time-outs changed (ms)."""
    rows = await db.fetch("SELECT case_id, MAX(updated_at) AS last_at FROM timeouts "
                          "GROUP BY case_id")
    return {r["case_id"]: int(r["last_at"]) for r in rows}


async def open_in_case(db: Database, case_id: str) -> bool:
    """Whether a time-out of the case is not yet over (see :data:`CLOSED`)."""
    row = await db.fetchone(
        "SELECT 1 AS x FROM timeouts WHERE case_id = $1 AND state NOT IN ($2, $3) LIMIT 1",
        case_id, *CLOSED)
    return row is not None


async def delete_case(db: Database, case_id: str) -> int:
    """Remove the case's time-outs; return how many."""
    return await db.execute("DELETE FROM timeouts WHERE case_id = $1", case_id)
