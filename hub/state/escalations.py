"""The escalation ladder as a tracked case: one row per ``escalation.request``.

    submitted -> accepted | declined | needs_information     (escalation.response)
    accepted | in_progress -> in_progress                     (escalation.progress)
    accepted | in_progress -> referred_to_let                 (let.referral, same loket_reference)
    referred_to_let -> decided                                (let.decision on the referral)
    accepted | in_progress | referred_to_let | decided -> closed   (escalation.closed)

The municipality *or agency* that escalated is ``escalated_by``; it receives every answer of the
loket, and the hub copies the LET's decision to it (``let.decision`` from the hub, in reply to
its escalation). Every open state has a deadline for the party that must act next (agreements,
``escalation:``): the loket for its decision, its progress and its closing, the LET for its
decision. A missed step is reminded once (``notice.reminder`` to the late party, a copy to the
party that escalated); when the same period passes again it is reported overdue once
(``notice.overdue``: a late loket to the LET, a late LET to the loket, and a copy to the party that
escalated). Each step has its own deadline, so each step is reminded and escalated at most once.

This module owns the ``escalations`` and ``escalation_events`` tables.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid5

from hub.contract import bodies as b
from hub.contract.agreements import Agreements, Duration
from hub.contract.messages import Envelope, Purpose
from hub.contract.notary import Notary, Thread, notice_id
from hub.contract.registry import Registry
from hub.state import notices
from hub.state.audit import AuditLog
from hub.state.database import Database, Row, StoreUnavailableError, from_ms, to_ms

log = logging.getLogger("maatwerk.escalations")
OPEN = ("submitted", "accepted", "in_progress", "referred_to_let", "decided")
WORKING = ("accepted", "in_progress", "referred_to_let", "decided")
"""States in which the loket has taken the case (a bridging decision may follow)."""
TERMINAL = ("declined", "needs_information", "closed")


@dataclass(frozen=True)
class Escalation:
    escalation_id: str
    case_id: str
    conversation_id: str
    escalated_by: str
    loket: str
    loket_reference: str | None
    state: str
    step_party: str | None
    step_message: str | None
    step_deadline: datetime | None
    reminded_at: datetime | None
    overdue_at: datetime | None
    referral_id: str | None
    let_decision: str | None
    responsible_party: str | None
    submitted_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> Escalation:
        times = {k: from_ms(row[k]) for k in ("step_deadline", "reminded_at", "overdue_at",
                                              "submitted_at", "updated_at")}
        plain = {k: row[k] for k in cls.__dataclass_fields__ if k not in times}
        return cls(**plain, **times)  # type: ignore[arg-type]


@dataclass(frozen=True)
class StepEvent:
    escalation_id: str
    state: str
    at: datetime


# -- reading ---------------------------------------------------------------------------------------

async def get(db: Database, escalation_id: str) -> Escalation | None:
    row = await db.fetchone("SELECT * FROM escalations WHERE escalation_id = $1", escalation_id)
    return Escalation.from_row(row) if row else None


async def by_reference(db: Database, case_id: str, loket_reference: str) -> Escalation | None:
    """The case's escalation that the loket gave ``loket_reference``."""
    row = await db.fetchone(
        "SELECT * FROM escalations WHERE case_id = $1 AND loket_reference = $2 "
        "ORDER BY submitted_at DESC LIMIT 1", case_id, loket_reference)
    return Escalation.from_row(row) if row else None


async def of_case(db: Database, case_id: str) -> list[Escalation]:
    rows = await db.fetch("SELECT * FROM escalations WHERE case_id = $1 ORDER BY submitted_at",
                          case_id)
    return [Escalation.from_row(r) for r in rows]


async def events_of_case(db: Database, case_id: str) -> list[StepEvent]:
    rows = await db.fetch(
        "SELECT e.escalation_id, e.state, e.at FROM escalation_events e JOIN escalations x "
        "ON x.escalation_id = e.escalation_id WHERE x.case_id = $1 ORDER BY e.at", case_id)
    return [StepEvent(r["escalation_id"], r["state"], from_ms(r["at"]) or datetime.min)
            for r in rows]


async def count_by_state(db: Database) -> dict[str, int]:
    rows = await db.fetch("SELECT state, COUNT(*) AS n FROM escalations GROUP BY state")
    return {r["state"]: int(r["n"]) for r in rows}


async def recent(db: Database, limit: int) -> list[Escalation]:
    rows = await db.fetch("SELECT * FROM escalations ORDER BY updated_at DESC LIMIT $1", limit)
    return [Escalation.from_row(r) for r in rows]


# -- state changes, in the transaction that marks a message routed --------------------------------

class _Step:
    def __init__(self, agreements: Agreements, registry: Registry) -> None:
        self.terms = agreements.escalation
        self.registry = registry

    def of(self, state: str, loket: str) -> tuple[str | None, Duration | None]:
        """Who must act next in ``state``, and within what."""
        lets = [p.id for p in self.registry.of_kind("let")]
        return {
            "submitted": (loket, self.terms.loket_decision),
            "accepted": (loket, self.terms.loket_progress),
            "in_progress": (loket, self.terms.loket_progress),
            "referred_to_let": (lets[0] if lets else None, self.terms.let_decision),
            "decided": (loket, self.terms.loket_closing),
        }.get(state, (None, None))


async def _move(tx: Database, item: Escalation, state: str, now: datetime, step: _Step, *,
                step_message: str | None = None, loket_reference: str | None = None,
                referral_id: str | None = None, let_decision: str | None = None,
                responsible_party: str | None = None) -> None:
    party, duration = step.of(state, item.loket)
    deadline = to_ms(duration.after(now)) if duration and party else None
    await tx.execute(
        "UPDATE escalations SET state = $2, step_party = $3, step_message = $4, "
        "step_deadline = $5, grace_ms = $6, reminded_at = NULL, overdue_at = NULL, "
        "updated_at = $7, loket_reference = COALESCE($8, loket_reference), "
        "referral_id = COALESCE($9, referral_id), let_decision = COALESCE($10, let_decision), "
        "responsible_party = COALESCE($11, responsible_party) WHERE escalation_id = $1",
        item.escalation_id, state, party, step_message or item.escalation_id, deadline,
        (deadline - to_ms(now)) if deadline else 0, to_ms(now), loket_reference, referral_id,
        let_decision, responsible_party)
    await _event(tx, item.escalation_id, state, now)


async def _event(tx: Database, escalation_id: str, state: str, now: datetime) -> None:
    await tx.execute(
        "INSERT INTO escalation_events (escalation_id, state, at) VALUES ($1, $2, $3) "
        "ON CONFLICT (escalation_id, state, at) DO NOTHING", escalation_id, state, to_ms(now))


async def on_routed(tx: Database, envelope: Envelope, now: datetime, agreements: Agreements,
                    registry: Registry, notary: Notary, audit: AuditLog) -> bool:
    """Move the escalation for a routed message; True when this module keeps the deadline of
    the message's business response (so the ledger opens none of its own)."""
    body, step = envelope.body, _Step(agreements, registry)
    if isinstance(body, b.EscalationRequest):
        party, duration = step.of("submitted", envelope.recipient)
        deadline = duration.after(now) if duration else now
        inserted = await tx.execute(
            "INSERT INTO escalations (escalation_id, case_id, conversation_id, escalated_by, "
            "loket, state, step_party, step_message, step_deadline, grace_ms, submitted_at, "
            "updated_at) VALUES ($1, $2, $3, $4, $5, 'submitted', $6, $1, $7, $8, $9, $9) "
            "ON CONFLICT (escalation_id) DO NOTHING",
            str(envelope.id), envelope.case_id, str(envelope.conversation_id), envelope.sender,
            envelope.recipient, party, to_ms(deadline), to_ms(deadline) - to_ms(now), to_ms(now))
        if inserted:
            await _event(tx, str(envelope.id), "submitted", now)
        return True
    if isinstance(body, b.LetReferral):
        item = await by_reference(tx, envelope.case_id, body.loket_reference)
        if item is None or item.state not in ("accepted", "in_progress"):
            return False
        await _move(tx, item, "referred_to_let", now, step, step_message=str(envelope.id),
                    referral_id=str(envelope.id))
        return True
    item = await _answered(tx, envelope)
    if item is None:
        return False
    if isinstance(body, b.EscalationResponse) and item.state == "submitted":
        state = {"accepted": "accepted", "declined": "declined"}.get(body.outcome,
                                                                     "needs_information")
        await _move(tx, item, state, now, step, loket_reference=body.loket_reference)
    elif isinstance(body, b.EscalationProgress) and item.state in ("accepted", "in_progress"):
        await _move(tx, item, "in_progress", now, step)
    elif isinstance(body, b.LetDecision) and item.state == "referred_to_let":
        await _move(tx, item, "decided", now, step, let_decision=body.decision,
                    responsible_party=body.responsible_party)
        await _copy_decision(tx, envelope, item, notary, audit, now)
    elif isinstance(body, b.EscalationClosed) and item.state in WORKING:
        await _move(tx, item, "closed", now, step)
    return False


async def _answered(tx: Database, envelope: Envelope) -> Escalation | None:
    """The escalation an answer belongs to: by its request id, or (let.decision) its referral."""
    if envelope.in_reply_to is None:
        return None
    if envelope.type == "let.decision":
        row = await tx.fetchone("SELECT * FROM escalations WHERE referral_id = $1",
                                str(envelope.in_reply_to))
        return Escalation.from_row(row) if row else None
    return await get(tx, str(envelope.in_reply_to))


async def _copy_decision(tx: Database, envelope: Envelope, item: Escalation, notary: Notary,
                         audit: AuditLog, now: datetime) -> None:
    """The party that escalated receives the LET's decision, in reply to its escalation."""
    thread = Thread(case_id=item.case_id, conversation_id=UUID(item.conversation_id),
                    purpose=envelope.purpose, in_reply_to=UUID(item.escalation_id))
    await notices.queue(
        tx, notary, audit, type="let.decision", to=item.escalated_by,
        body=envelope.body.model_dump(mode="json", exclude_none=True), thread=thread,
        message_id=uuid5(notice_id("let.decision", envelope.id), item.escalated_by), now=now)


# -- the clock moves: remind once, report overdue once, per step ---------------------------------

_MARK = {
    column: f"UPDATE escalations SET {column} = $2 WHERE escalation_id = $1 AND "  # noqa: S608
            f"{column} IS NULL AND step_deadline = $3 AND state = $4"
    for column in ("reminded_at", "overdue_at")
}

async def advance(db: Database, notary: Notary, audit: AuditLog, registry: Registry,
                  now: datetime) -> tuple[int, int]:
    """Remind missed steps and report second misses; return (reminded, overdue)."""
    first = await db.fetch(
        "SELECT * FROM escalations WHERE step_deadline IS NOT NULL AND reminded_at IS NULL "
        "AND step_deadline <= $1", to_ms(now))
    second = await db.fetch(
        "SELECT * FROM escalations WHERE step_deadline IS NOT NULL AND reminded_at IS NOT NULL "
        "AND overdue_at IS NULL AND reminded_at + grace_ms <= $1", to_ms(now))
    counts = [0, 0]
    for index, (rows, column) in enumerate(((first, "reminded_at"), (second, "overdue_at"))):
        for row in rows:
            try:
                counts[index] += await _miss(db, notary, audit, registry,
                                             Escalation.from_row(row), column, now)
            except StoreUnavailableError:
                raise
            except Exception:  # one bad row must not stop every other deadline
                log.exception("cannot act on escalation %s; skipped", row.get("escalation_id"))
    return counts[0], counts[1]


async def _miss(db: Database, notary: Notary, audit: AuditLog, registry: Registry,
                item: Escalation, column: str, now: datetime) -> int:
    late = item.step_party or item.loket
    if column == "reminded_at":
        notice, recipients = "notice.reminder", [late, item.escalated_by]
    else:
        above = registry.of_kind("let") if late == item.loket else registry.of_kind("loket")
        notice = "notice.overdue"
        recipients = [p.id for p in above] + [item.escalated_by]
    async with db.transaction() as tx:
        won = await tx.execute(
            _MARK[column], item.escalation_id, to_ms(now), to_ms(item.step_deadline or now),
            item.state)
        if not won:
            return 0
        step_message = item.step_message or item.escalation_id
        message_type = "let.referral" if step_message == item.referral_id else (
            "escalation.request")
        body = notices.late_body(message_id=step_message, message_type=message_type, late=late,
                                 deadline=item.step_deadline or now)
        thread = Thread(case_id=item.case_id, conversation_id=UUID(item.conversation_id),
                        purpose=Purpose.ESCALATION)
        about = notice_id(notice, UUID(item.escalation_id))
        deadline_ms = to_ms(item.step_deadline or now)
        for to in dict.fromkeys(recipients):
            await notices.queue(tx, notary, audit, type=notice, to=to, body=body, thread=thread,
                                message_id=uuid5(about, f"{item.state}:{deadline_ms}:{to}"),
                                now=now)
        await _event(tx, item.escalation_id, f"{notice.split('.')[1]}:{item.state}", now)
    return 1


# -- retention (:mod:`hub.state.retention`) -------------------------------------------------------

async def open_in_case(db: Database, case_id: str) -> bool:
    row = await db.fetchone(
        "SELECT 1 AS x FROM escalations WHERE case_id = $1 AND state IN "
        "('submitted', 'accepted', 'in_progress', 'referred_to_let', 'decided') LIMIT 1", case_id)
    return row is not None


async def delete_case(db: Database, case_id: str) -> int:
    await db.execute("DELETE FROM escalation_events WHERE escalation_id IN "
                     "(SELECT escalation_id FROM escalations WHERE case_id = $1)", case_id)
    return await db.execute("DELETE FROM escalations WHERE case_id = $1", case_id)
