"""The overbrugging as a ledger: what the loket prefinanced or guaranteed, and who paid it back.

    decided (bridging.decision, tied to an accepted escalation by its loket_reference)
      -> party named (let.decision names the responsible party)
      -> repayment_requested (bridging.settlement to that party, with a due date)
      -> repaid (bridging.repaid from that party, the full amount)

On the due date without a confirmed repayment the responsible party is reminded
(``notice.reminder``, a copy to the loket); when ``bridging.overdue_after`` (agreements) has passed
since the reminder, the loket receives ``notice.overdue``. Each once, whichever replica wins.
The rules that refuse a decision without its escalation, or a settlement to another party than
the LET named, are :mod:`hub.core.escalation_rules`; this module records what was routed.

This module owns the ``bridging`` table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID, uuid5

from hub.contract import bodies as b
from hub.contract.agreements import CALENDAR_ZONE, Agreements
from hub.contract.messages import Envelope, Purpose
from hub.contract.notary import Notary, Thread, notice_id
from hub.contract.registry import Registry
from hub.state import escalations, notices
from hub.state.audit import AuditLog
from hub.state.database import Database, Row, StoreUnavailableError, from_ms, to_ms

log = logging.getLogger("maatwerk.bridging")
UNASSIGNED = "(not yet named)"


@dataclass(frozen=True)
class BridgingRecord:
    decision_id: str
    case_id: str
    escalation_id: str | None
    loket: str
    beneficiary: str
    loket_reference: str
    kind: str
    amount_cents: int
    creditor_kind: str
    responsible_party: str | None
    state: str
    settlement_id: str | None
    conversation_id: str | None
    due_on: str | None
    requested_cents: int
    repaid_cents: int
    repaid_on: str | None
    decided_at: datetime
    reminded_at: datetime | None
    overdue_at: datetime | None
    repaid_at: datetime | None

    @classmethod
    def from_row(cls, row: Row) -> BridgingRecord:
        times = {k: from_ms(row[k]) for k in ("decided_at", "reminded_at", "overdue_at",
                                              "repaid_at")}
        plain = {k: row[k] for k in cls.__dataclass_fields__ if k not in times}
        return cls(**plain, **times)  # type: ignore[arg-type]

    @property
    def open_cents(self) -> int:
        """Prefinanced and not yet repaid (a guarantee is not money out)."""
        return max(self.amount_cents - self.repaid_cents, 0) if self.kind == "prefinance" else 0

    @property
    def overdue(self) -> bool:
        return self.overdue_at is not None and self.state != "repaid"


async def of_case(db: Database, case_id: str) -> list[BridgingRecord]:
    rows = await db.fetch("SELECT * FROM bridging WHERE case_id = $1 ORDER BY decided_at",
                          case_id)
    return [BridgingRecord.from_row(r) for r in rows]


async def by_reference(db: Database, case_id: str, loket_reference: str
                       ) -> BridgingRecord | None:
    """The case's live (not declined) bridging decision under ``loket_reference``."""
    row = await db.fetchone(
        "SELECT * FROM bridging WHERE case_id = $1 AND loket_reference = $2 AND kind <> "
        "'declined' ORDER BY decided_at DESC LIMIT 1", case_id, loket_reference)
    return BridgingRecord.from_row(row) if row else None


async def by_settlement(db: Database, settlement_id: str) -> BridgingRecord | None:
    row = await db.fetchone("SELECT * FROM bridging WHERE settlement_id = $1", settlement_id)
    return BridgingRecord.from_row(row) if row else None


async def all_records(db: Database) -> list[BridgingRecord]:
    rows = await db.fetch("SELECT * FROM bridging WHERE kind <> 'declined' ORDER BY decided_at")
    return [BridgingRecord.from_row(r) for r in rows]


@dataclass
class PartyTotals:
    party: str
    prefinanced_cents: int = 0
    guaranteed_cents: int = 0
    requested_cents: int = 0
    repaid_cents: int = 0
    open_cents: int = 0
    overdue: int = 0


def totals(records: list[BridgingRecord]) -> list[PartyTotals]:
    """Per responsible party (or not yet named): prefinanced, guaranteed, asked, repaid, open."""
    out: dict[str, PartyTotals] = {}
    for r in records:
        t = out.setdefault(r.responsible_party or UNASSIGNED,
                           PartyTotals(r.responsible_party or UNASSIGNED))
        if r.kind == "prefinance":
            t.prefinanced_cents += r.amount_cents
        else:
            t.guaranteed_cents += r.amount_cents
        t.requested_cents += r.requested_cents
        t.repaid_cents += r.repaid_cents
        t.open_cents += r.open_cents
        t.overdue += int(r.overdue)
    return sorted(out.values(), key=lambda t: t.party)


# -- state changes, in the transaction that marks a message routed --------------------------------

async def on_routed(tx: Database, envelope: Envelope, now: datetime) -> None:
    body, ms = envelope.body, to_ms(now)
    if isinstance(body, b.BridgingDecision):
        escalation = await escalations.by_reference(tx, envelope.case_id, body.loket_reference)
        await tx.execute(
            "INSERT INTO bridging (decision_id, case_id, escalation_id, loket, beneficiary, "
            "loket_reference, kind, amount_cents, creditor_kind, responsible_party, state, "
            "requested_cents, repaid_cents, decided_at, updated_at) VALUES ($1, $2, $3, $4, $5, "
            "$6, $7, $8, $9, $10, $11, 0, 0, $12, $12) ON CONFLICT (decision_id) DO NOTHING",
            str(envelope.id), envelope.case_id,
            escalation.escalation_id if escalation else None, envelope.sender,
            envelope.recipient, body.loket_reference, body.decision, body.amount_cents,
            body.creditor_kind, escalation.responsible_party if escalation else None,
            "declined" if body.decision == "declined" else "decided", ms)
    elif isinstance(body, b.LetDecision) and body.responsible_party:
        await tx.execute(
            "UPDATE bridging SET responsible_party = $3, updated_at = $4 WHERE case_id = $1 "
            "AND loket_reference = $2 AND state = 'decided'",
            envelope.case_id, body.loket_reference, body.responsible_party, ms)
    elif isinstance(body, b.BridgingSettlement):
        await tx.execute(
            "UPDATE bridging SET state = 'repayment_requested', settlement_id = $3, "
            "conversation_id = $4, due_on = $5, requested_cents = $6, responsible_party = $7, "
            "updated_at = $8 WHERE case_id = $1 AND loket_reference = $2 AND kind <> 'declined' "
            "AND state = 'decided'",
            envelope.case_id, body.loket_reference, str(envelope.id),
            str(envelope.conversation_id), body.due_on.isoformat(), body.amount_cents,
            body.responsible_party, ms)
    elif isinstance(body, b.BridgingRepaid) and envelope.in_reply_to is not None:
        await tx.execute(
            "UPDATE bridging SET repaid_cents = repaid_cents + $2, repaid_on = $3, "
            "repaid_at = $4, updated_at = $4, state = CASE WHEN repaid_cents + $2 >= "
            "requested_cents THEN 'repaid' ELSE state END WHERE settlement_id = $1 "
            "AND state = 'repayment_requested'",
            str(envelope.in_reply_to), body.amount_cents, body.repaid_on.isoformat(), ms)


# -- the clock moves: the due date ----------------------------------------------------------------

_MARK = {
    column: f"UPDATE bridging SET {column} = $2 WHERE decision_id = $1 AND "  # noqa: S608
            f"{column} IS NULL AND state = 'repayment_requested'"
    for column in ("reminded_at", "overdue_at")
}

async def advance(db: Database, notary: Notary, audit: AuditLog, agreements: Agreements,
                  registry: Registry, now: datetime) -> tuple[int, int]:
    """Remind on the due date, report overdue after the agreed period; (reminded, overdue)."""
    today = now.astimezone(CALENDAR_ZONE).date().isoformat()
    due = await db.fetch(
        "SELECT * FROM bridging WHERE state = 'repayment_requested' AND reminded_at IS NULL "
        "AND due_on <= $1", today)
    late = [r for r in await db.fetch(
        "SELECT * FROM bridging WHERE state = 'repayment_requested' AND reminded_at IS NOT NULL "
        "AND overdue_at IS NULL") if agreements.bridging.overdue_after.after(
            from_ms(r["reminded_at"]) or now) <= now]
    counts = [0, 0]
    lokets = [p.id for p in registry.of_kind("loket")]
    for index, (rows, column) in enumerate(((due, "reminded_at"), (late, "overdue_at"))):
        for row in rows:
            item = BridgingRecord.from_row(row)
            party = item.responsible_party or item.loket
            to = [party, item.loket] if column == "reminded_at" else lokets
            try:
                counts[index] += await _miss(db, notary, audit, item, column, to, now)
            except StoreUnavailableError:
                raise
            except Exception:  # one bad row must not stop every other due date
                log.exception("cannot act on bridging %s; skipped", item.decision_id)
    return counts[0], counts[1]


async def _miss(db: Database, notary: Notary, audit: AuditLog, item: BridgingRecord,
                column: str, recipients: list[str], now: datetime) -> int:
    notice = "notice.reminder" if column == "reminded_at" else "notice.overdue"
    async with db.transaction() as tx:
        won = await tx.execute(_MARK[column], item.decision_id, to_ms(now))
        if not won or item.settlement_id is None or item.due_on is None:
            return 0
        body = notices.late_body(
            message_id=item.settlement_id, message_type="bridging.settlement",
            late=item.responsible_party or item.loket,
            deadline=notices.start_of(date.fromisoformat(item.due_on)))
        thread = Thread(case_id=item.case_id, conversation_id=UUID(item.conversation_id or
                                                                   item.settlement_id),
                        purpose=Purpose.BRIDGING)
        about = notice_id(notice, UUID(item.settlement_id))
        for to in dict.fromkeys(recipients):
            await notices.queue(tx, notary, audit, type=notice, to=to, body=body, thread=thread,
                                message_id=uuid5(about, f"bridging:{to}"), now=now)
    return 1


# -- retention (:mod:`hub.state.retention`) -------------------------------------------------------

async def open_in_case(db: Database, case_id: str) -> bool:
    """Whether prefinanced money of the case is still to come back."""
    row = await db.fetchone(
        "SELECT 1 AS x FROM bridging WHERE case_id = $1 AND state IN ('decided', "
        "'repayment_requested') AND kind = 'prefinance' LIMIT 1", case_id)
    return row is not None


async def delete_case(db: Database, case_id: str) -> int:
    return await db.execute("DELETE FROM bridging WHERE case_id = $1", case_id)
