"""The ledger: what was routed, what each message still waits for, and who is late.

A routed message that needs a delivery receipt or a business response gets an *expectation* per
awaited answer, with a deadline from the agreements. A receipt or response that the hub routes
fulfils it. The watcher (:mod:`hub.ops.watcher`) asks the ledger for missed deadlines:

- first miss: ``notice.reminder`` to the late recipient and a copy to the sender;
- second miss (the same period again after the reminder): ``notice.overdue`` to the Maatwerkloket,
  naming the case and who is late, nothing more.

Each decision is a conditional update plus outbox rows in one transaction, so with several hub
replicas each reminder is created once, and after a restart every deadline still fires.

This module owns the ``expectations`` table: no other module reads or writes it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from hub.contract.agreements import Agreements
from hub.contract.messages import MESSAGE_SPECS, Envelope, utc_iso
from hub.contract.notary import Notary, Thread, notice_id
from hub.contract.registry import Registry
from hub.state import (
    audit_events,
    bridging,
    deviations,
    escalations,
    information,
    outbox,
    register_contacts,
    timeouts,
)
from hub.state.audit import AuditLog
from hub.state.audit_events import AuditEntry
from hub.state.config_versions import Stamp, record_stamp
from hub.state.database import Database, Row, StoreUnavailableError, from_ms, to_ms
from hub.state.seen import DELIVERED, PROCESSED, ROUTED, MessageStore

log = logging.getLogger("maatwerk.ledger")

OVERDUE_PAGE, OVERDUE_PAGE_MAX = 100, 1000
"""Overdue answers per page by default, and at most (``/overdue?limit=``)."""

OverdueKey = tuple[int, str, str]
"""Where a page of overdue answers ends: (deadline in ms, message id, awaited)."""
_BEFORE_ALL: OverdueKey = (-1, "", "")

RECEIPT = "receipt"
RESPONSE = "response"


@dataclass(frozen=True)
class Fulfilment:
    """An answer arrived: for the latency histograms."""

    awaited: str
    party: str
    seconds: float


@dataclass(frozen=True)
class Expectation:
    message_id: str
    awaited: str
    message_type: str
    case_id: str
    conversation_id: str
    sender: str
    recipient: str
    routed_at: datetime
    deadline: datetime
    grace_ms: int
    fulfilled_at: datetime | None
    outcome: str | None
    reminded_at: datetime | None
    escalated_at: datetime | None

    @classmethod
    def from_row(cls, row: Row) -> Expectation:
        times = {k: from_ms(row[k]) for k in ("routed_at", "deadline", "fulfilled_at",
                                              "reminded_at", "escalated_at")}
        plain = {k: row[k] for k in ("message_id", "awaited", "message_type", "case_id",
                                     "conversation_id", "sender", "recipient", "grace_ms",
                                     "outcome")}
        return cls(**plain, **times)  # type: ignore[arg-type]

    @property
    def overdue(self) -> bool:
        return self.escalated_at is not None and self.fulfilled_at is None


@dataclass(frozen=True)
class _Miss:
    due: str  # the expectations past this miss
    mark: str  # marks one of them, only if no replica did before


SWEEP_PAGE = 500
"""Missed deadlines read per page by the watcher (:meth:`Ledger.remind_due`, ``escalate_due``)."""

_FIRST_MISS = _Miss(
    due="SELECT * FROM expectations WHERE fulfilled_at IS NULL AND reminded_at IS NULL "
        "AND deadline <= $1",
    mark="UPDATE expectations SET reminded_at = $3 WHERE message_id = $1 AND awaited = $2 "
         "AND reminded_at IS NULL AND fulfilled_at IS NULL",
)
_SECOND_MISS = _Miss(
    due="SELECT * FROM expectations WHERE fulfilled_at IS NULL AND reminded_at IS NOT NULL "
        "AND escalated_at IS NULL AND reminded_at + grace_ms <= $1",
    mark="UPDATE expectations SET escalated_at = $3 WHERE message_id = $1 AND awaited = $2 "
         "AND escalated_at IS NULL AND fulfilled_at IS NULL",
)


class Ledger:
    def __init__(self, db: Database, agreements: Agreements, registry: Registry,
                 notary: Notary, audit: AuditLog) -> None:
        self.audit = audit
        self.db = db
        self.agreements = agreements
        self.registry = registry
        self.notary = notary

    # -- recording, in the transaction that marks a message routed --------------------------------

    async def record_routed(self, envelope: Envelope, *, policy_version: str, rule: str,
                            now: datetime, raw: bytes, entry: AuditEntry,
                            stamp: Stamp | None = None,
                            info_rule: str | None = None) -> list[Fulfilment]:
        """Mark routed, open expectations, fulfil answered ones, move the time-out state and
        append the audit records: one transaction, all or nothing."""
        async with self.db.transaction() as tx:
            return await self.record_routed_in(tx, envelope, policy_version=policy_version,
                                               rule=rule, now=now, raw=raw, entry=entry,
                                               stamp=stamp, info_rule=info_rule)

    async def record_routed_in(self, tx: Database, envelope: Envelope, *, policy_version: str,
                               rule: str, now: datetime, raw: bytes, entry: AuditEntry,
                               stamp: Stamp | None = None,
                               info_rule: str | None = None) -> list[Fulfilment]:
        """:meth:`record_routed` inside the open transaction ``tx`` (a batch's, see
        :mod:`hub.state.batch`)."""
        await MessageStore(tx).decide(envelope.id, ROUTED, policy_version=policy_version,
                                      rule=rule, decided_at=now)
        if stamp is not None:
            await record_stamp(tx, str(envelope.id), stamp)
        tracked = await escalations.on_routed(tx, envelope, now, self.agreements,
                                              self.registry, self.notary, self.audit)
        await self._expect(tx, envelope, now, responses=not tracked)
        fulfilled = await self._fulfil(tx, envelope, now)
        await timeouts.on_routed(tx, envelope, now)
        await bridging.on_routed(tx, envelope, now)
        await deviations.on_routed(tx, envelope, now)
        await information.on_routed(tx, envelope, now, info_rule)
        await register_contacts.on_routed(tx, envelope, now)
        await self.audit.append(entry, tx)
        for answer in fulfilled:
            await self.audit.append(audit_events.entry_for_answer(
                answer.awaited, envelope, raw, self.audit.hash_key), tx)
        return fulfilled

    async def _expect(self, tx: Database, envelope: Envelope, now: datetime, *,
                      responses: bool = True) -> None:
        """Open the receipt and response expectations; ``responses=False`` when the business
        answer's deadline is kept by the escalation's own steps (:mod:`hub.state.escalations`)."""
        spec = MESSAGE_SPECS[envelope.type]
        if envelope.recipient == self.registry.hub.id:
            return  # the hub answers such messages itself, at once (a register query)
        wanted = []
        if spec.needs_receipt:
            wanted.append((RECEIPT, self.agreements.receipt_deadline(envelope.recipient)))
        if spec.responses and responses:
            wanted.append((RESPONSE, self.agreements.response_deadline(envelope.recipient)))
        for awaited, duration in wanted:
            deadline = duration.after(now)
            await tx.execute(
                "INSERT INTO expectations (message_id, awaited, message_type, case_id, "
                "conversation_id, sender, recipient, routed_at, deadline, grace_ms) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
                "ON CONFLICT (message_id, awaited) DO NOTHING",
                str(envelope.id), awaited, envelope.type, envelope.case_id,
                str(envelope.conversation_id), envelope.sender, envelope.recipient,
                to_ms(now), to_ms(deadline), to_ms(deadline) - to_ms(now))

    async def _fulfil(self, tx: Database, envelope: Envelope, now: datetime) -> list[Fulfilment]:
        if envelope.in_reply_to is None:
            return []
        original = await MessageStore(tx).get(envelope.in_reply_to)
        if original is None:
            return []
        answers: list[tuple[str, str | None, str]] = []
        if envelope.type == "receipt":
            answers.append((RECEIPT, None, DELIVERED))
        elif envelope.type in MESSAGE_SPECS[original.type].responses:
            outcome = getattr(envelope.body, "outcome", None)
            answers += [(RECEIPT, None, DELIVERED),
                        (RESPONSE, str(getattr(outcome, "value", outcome or "")), PROCESSED)]
        done = []
        for awaited, outcome, status in answers:
            row = await tx.fetchone(
                "SELECT routed_at, recipient FROM expectations WHERE message_id = $1 "
                "AND awaited = $2 AND fulfilled_at IS NULL", str(original.id), awaited)
            if row is None:
                continue
            await tx.execute(
                "UPDATE expectations SET fulfilled_at = $3, fulfilled_by = $4, outcome = $5 "
                "WHERE message_id = $1 AND awaited = $2 AND fulfilled_at IS NULL",
                str(original.id), awaited, to_ms(now), str(envelope.id), outcome)
            await MessageStore(tx).mark_answered(original.id, status)
            done.append(Fulfilment(awaited, row["recipient"],
                                   (to_ms(now) - row["routed_at"]) / 1000))
        return done

    # -- deadlines ---------------------------------------------------------------------------------

    async def remind_due(self, now: datetime) -> int:
        """First miss: a reminder to the late party and a copy to the sender."""
        return await self._on_miss(now, _FIRST_MISS, "notice.reminder",
                                   lambda item: [item.recipient, item.sender])

    async def escalate_due(self, now: datetime) -> int:
        """Second miss: ``notice.overdue`` to the Maatwerkloket."""
        lokets = [p.id for p in self.registry.of_kind("loket")]
        return await self._on_miss(now, _SECOND_MISS, "notice.overdue", lambda item: lokets)

    async def _on_miss(self, now: datetime, miss: _Miss, notice: str,
                       recipients: Callable[[Expectation], list[str]]) -> int:
        """For each expectation past ``miss``: mark it (once, whichever replica wins) and queue
        the notices, in one transaction. Read a page of ``SWEEP_PAGE`` at a time, earliest
        deadline first, so that a backlog (an agency silent for hours) is never held in memory
        at once; the next page is read while the last one marked something."""
        made = 0
        while True:
            rows = await self.db.fetch(f"{miss.due} ORDER BY deadline LIMIT $2", to_ms(now),
                                       SWEEP_PAGE)
            marked = 0
            for row in rows:
                item = Expectation.from_row(row)
                try:
                    async with self.db.transaction() as tx:
                        if await tx.execute(miss.mark, item.message_id, item.awaited,
                                            to_ms(now)):
                            for to in recipients(item):
                                await self._notice(tx, notice, to, item, now)
                            marked += 1
                except StoreUnavailableError:
                    raise
                except Exception:  # one bad row must not stop every other deadline
                    log.exception("cannot act on missed %s of %s; skipped", item.awaited,
                                  item.message_id)
            made += marked
            # A short page was the last; a page with nothing marked is all rows that another
            # replica took meanwhile or that fail (read again on the next tick, not now).
            if len(rows) < SWEEP_PAGE or not marked:
                return made

    async def _notice(self, tx: Database, type_name: str, to: str, item: Expectation,
                      now: datetime) -> None:
        body: dict[str, Any] = {
            "message_id": item.message_id, "message_type": item.message_type,
            "awaited": item.awaited, "late_participant": item.recipient,
            "deadline": utc_iso(item.deadline),
        }
        thread = Thread(case_id=item.case_id, conversation_id=UUID(item.conversation_id),
                        purpose=MESSAGE_SPECS[item.message_type].purpose)
        key = uuid5(notice_id(type_name, UUID(item.message_id)), f"{item.awaited}:{to}")
        envelope, raw = self.notary.sign(type=type_name, recipient=to, body=body, now=now,
                                         thread=thread, message_id=key)
        if await outbox.add(tx, envelope, raw):
            await self.audit.append(
                audit_events.entry_for_hub_message(envelope, raw, self.audit.hash_key), tx)

    async def overdue(self, *, limit: int = OVERDUE_PAGE,
                      after: OverdueKey | None = None) -> list[Expectation]:
        return await overdue(self.db, limit=limit, after=after)

    async def overdue_counts(self) -> dict[str, int]:
        return await count_overdue(self.db)

    async def late_counts(self, now: datetime) -> dict[str, int]:
        return await count_late(self.db, now)


# -- reading (no key needed) -----------------------------------------------------------------------

async def expectations_of_case(db: Database, case_id: str) -> list[Expectation]:
    rows = await db.fetch(
        "SELECT * FROM expectations WHERE case_id = $1 ORDER BY routed_at, awaited", case_id)
    return [Expectation.from_row(r) for r in rows]


def overdue_key(expectation: Expectation) -> OverdueKey:
    return (to_ms(expectation.deadline), expectation.message_id, expectation.awaited)


async def overdue(db: Database, *, limit: int = OVERDUE_PAGE,
                  after: OverdueKey | None = None) -> list[Expectation]:
    """Answers escalated to the Maatwerkloket and still missing, earliest deadline first, one
    page of at most ``limit`` after the key ``after`` (keyset paging: a page costs the same
    however far into the list it is)."""
    limit = max(1, min(limit, OVERDUE_PAGE_MAX))
    rows = await db.fetch(
        "SELECT * FROM expectations WHERE fulfilled_at IS NULL AND escalated_at IS NOT NULL "
        "AND (deadline, message_id, awaited) > ($1, $2, $3) "
        "ORDER BY deadline, message_id, awaited LIMIT $4", *(after or _BEFORE_ALL), limit)
    return [Expectation.from_row(r) for r in rows]


async def count_overdue(db: Database) -> dict[str, int]:
    """Escalated and still missing answers per late participant (the gauge): counted by the
    database, however many there are."""
    rows = await db.fetch(
        "SELECT recipient, COUNT(*) AS n FROM expectations WHERE fulfilled_at IS NULL "
        "AND escalated_at IS NOT NULL GROUP BY recipient")
    return {r["recipient"]: int(r["n"]) for r in rows}


async def count_late(db: Database, now: datetime) -> dict[str, int]:
    """Open expectations past their deadline per late participant (the gauge)."""
    rows = await db.fetch(
        "SELECT recipient, COUNT(*) AS n FROM expectations WHERE fulfilled_at IS NULL "
        "AND deadline <= $1 GROUP BY recipient", to_ms(now))
    return {r["recipient"]: int(r["n"]) for r in rows}


# -- retention (:mod:`hub.state.retention`) -------------------------------------------------------

async def last_activity_by_case(db: Database) -> dict[str, int]:
    """Per case: the last time an answer was awaited from or fulfilled (ms)."""
    rows = await db.fetch(
        "SELECT case_id, MAX(COALESCE(fulfilled_at, routed_at)) AS last_at FROM expectations "
        "GROUP BY case_id")
    return {r["case_id"]: int(r["last_at"]) for r in rows}


async def open_in_case(db: Database, case_id: str) -> bool:
    """Whether the case still waits for a receipt or response."""
    row = await db.fetchone(
        "SELECT 1 AS x FROM expectations WHERE case_id = $1 AND fulfilled_at IS NULL LIMIT 1",
        case_id)
    return row is not None


async def delete_case(db: Database, case_id: str) -> int:
    """Remove the case's expectations; return how many."""
    return await db.execute("DELETE FROM expectations WHERE case_id = $1", case_id)
