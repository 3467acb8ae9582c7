"""A case's timeline, readable by a maatwerkfunctionaris: every message, receipt, response and
deadline, the hub's own notices, the time-out state per agency, the escalation's steps and the
overbrugging ledger. No personal data: the state
holds no message bodies, only ids, types, participants, codes and times."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from hub.state import bridging, deviations, escalations, information, timeouts, views
from hub.state.database import Database, from_ms
from hub.state.ledger import Expectation, expectations_of_case


class Answer(BaseModel):
    awaited: str
    deadline: datetime
    answered_at: datetime | None
    outcome: str | None
    reminded_at: datetime | None
    escalated_at: datetime | None
    state: str  # answered | waiting | late | reminded | overdue


class MessageLine(BaseModel):
    id: str
    type: str
    sender: str
    recipient: str
    status: str
    reason: str | None
    at: datetime
    answers: list[Answer]


class HubMessageLine(BaseModel):
    id: str
    type: str
    recipient: str
    at: datetime
    sent: bool


class TimeoutLine(BaseModel):
    agency: str
    municipality: str
    state: str
    outcome: str | None
    requested_months: int
    effective_from: str | None
    effective_until: str | None
    ended_on: str | None
    ended_by: str | None
    agency_reason: str | None = None
    suspended_from: str | None = None


class DeviationLine(BaseModel):
    """A deviation of the case: codes, dates and the deciding role; never the free text."""

    organisation: str
    law: str
    article: str
    decision_code: str
    decided_by_role: str
    legal_ground: str
    approval_reference: str | None
    period_from: str
    period_until: str
    at: datetime


class InfoLine(BaseModel):
    """An information request of the case: fields as codes, never their values."""

    asker: str
    holder: str
    purpose_code: str
    rule: str
    state: str
    fields: list[str]
    answered_fields: list[str]
    refused_fields: list[str]
    refusal_reason: str | None


class StepLine(BaseModel):
    state: str
    at: datetime


class EscalationLine(BaseModel):
    escalation_id: str
    escalated_by: str
    loket: str
    loket_reference: str | None
    state: str
    step_party: str | None
    step_deadline: datetime | None
    reminded_at: datetime | None
    overdue_at: datetime | None
    let_decision: str | None
    responsible_party: str | None
    submitted_at: datetime
    steps: list[StepLine]


class BridgingLine(BaseModel):
    decision_id: str
    loket_reference: str
    kind: str
    amount_cents: int
    beneficiary: str
    responsible_party: str | None
    state: str
    due_on: str | None
    requested_cents: int
    repaid_cents: int
    open_cents: int
    decided_at: datetime
    reminded_at: datetime | None
    overdue_at: datetime | None
    repaid_at: datetime | None


class CaseStatus(BaseModel):
    case_id: str
    messages: list[MessageLine]
    hub_messages: list[HubMessageLine]
    timeouts: list[TimeoutLine]
    escalations: list[EscalationLine] = []
    bridging: list[BridgingLine] = []
    deviations: list[DeviationLine] = []
    information: list[InfoLine] = []


def _answer(item: Expectation, now: datetime) -> Answer:
    if item.fulfilled_at is not None:
        state = "answered"
    elif item.escalated_at is not None:
        state = "overdue"
    elif item.reminded_at is not None:
        state = "reminded"
    else:
        state = "late" if item.deadline <= now else "waiting"
    return Answer(awaited=item.awaited, deadline=item.deadline, answered_at=item.fulfilled_at,
                  outcome=item.outcome, reminded_at=item.reminded_at,
                  escalated_at=item.escalated_at, state=state)


async def case_status(db: Database, case_id: str, now: datetime | None = None) -> CaseStatus:
    now = now or datetime.now(UTC)
    expectations: dict[str, list[Answer]] = {}
    for item in await expectations_of_case(db, case_id):
        expectations.setdefault(item.message_id, []).append(_answer(item, now))
    rows = await views.case_messages(db, case_id)
    messages = [MessageLine(id=r["id"], type=r["type"], sender=r["sender"],
                            recipient=r["recipient"], status=r["status"], reason=r["reason"],
                            at=from_ms(r["received_at"]) or now,
                            answers=expectations.get(r["id"], [])) for r in rows]
    outbox_rows = await views.case_hub_messages(db, case_id)
    hub_messages = [HubMessageLine(id=r["id"], type=r["type"], recipient=r["recipient"],
                                   at=from_ms(r["created_at"]) or now,
                                   sent=r["sent_at"] is not None) for r in outbox_rows]
    lines = [TimeoutLine.model_validate(t, from_attributes=True)
             for t in await timeouts.of_case(db, case_id)]
    steps: dict[str, list[StepLine]] = {}
    for event in await escalations.events_of_case(db, case_id):
        steps.setdefault(event.escalation_id, []).append(StepLine(state=event.state,
                                                                  at=event.at))
    ladder = [EscalationLine(**{k: getattr(e, k) for k in EscalationLine.model_fields
                                if k != "steps"}, steps=steps.get(e.escalation_id, []))
              for e in await escalations.of_case(db, case_id)]
    ledger_lines = [BridgingLine(**{k: getattr(r, k) for k in BridgingLine.model_fields})
                    for r in await bridging.of_case(db, case_id)]
    devs = [DeviationLine(
        organisation=r["organisation"], law=r["law"], article=r["article"],
        decision_code=r["decision_code"], decided_by_role=r["decided_by_role"],
        legal_ground=f"{r['ground_law']} {r['ground_article']}",
        approval_reference=r["approval_reference"], period_from=r["period_from"],
        period_until=r["period_until"], at=from_ms(r["recorded_at"]) or now)
        for r in await deviations.of_case(db, case_id)]
    infos = [InfoLine.model_validate(i, from_attributes=True)
             for i in await information.of_case(db, case_id)]
    return CaseStatus(case_id=case_id, messages=messages, hub_messages=hub_messages,
                      timeouts=lines, deviations=devs, information=infos,
                      escalations=ladder, bridging=ledger_lines)


def _t(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def render(status: CaseStatus) -> str:
    """The timeline as text, oldest first, then the time-outs per agency."""
    out = [f"Case {status.case_id}", "", "Timeline (UTC):"]
    events: list[tuple[datetime, str]] = []
    for m in status.messages:
        outcome = m.status + (f" ({m.reason})" if m.reason else "")
        events.append((m.at, f"{m.type:<20} {m.sender} -> {m.recipient}: {outcome}"))
        for a in m.answers:
            detail = f"answered {_t(a.answered_at)}" + (f" ({a.outcome})" if a.outcome else "")
            if a.answered_at is None:
                detail = a.state + (f", reminded {_t(a.reminded_at)}" if a.reminded_at else "")
                detail += f", escalated {_t(a.escalated_at)}" if a.escalated_at else ""
            events.append((m.at, f"{'':<22}{a.awaited} from {m.recipient} by "
                                 f"{_t(a.deadline)}: {detail}"))
    for h in status.hub_messages:
        events.append((h.at, f"{h.type:<20} hub -> {h.recipient}"
                             f"{'' if h.sent else ' (queued)'}"))
    out += [f"  {_t(at)}  {text}" for at, text in sorted(events, key=lambda e: e[0])]
    out += ["", "Escalations:"]
    if not status.escalations:
        out.append("  (none)")
    for e in status.escalations:
        late = " overdue" if e.overdue_at else (" reminded" if e.reminded_at else "")
        waits = f", {e.step_party} by {_t(e.step_deadline)}{late}" if e.step_deadline else ""
        named = f", responsible: {e.responsible_party}" if e.responsible_party else ""
        out.append(f"  {e.loket_reference or e.escalation_id[:8]:<16} from {e.escalated_by}: "
                   f"{e.state}{waits}{named}")
        out += [f"  {'':<16} {_t(step.at)} {step.state}" for step in e.steps]
    out += ["", "Overbrugging:"]
    if not status.bridging:
        out.append("  (none)")
    for r in status.bridging:
        due = f", due {r.due_on}" if r.due_on else ""
        flag = " OVERDUE" if r.overdue_at and r.state != "repaid" else ""
        out.append(f"  {r.loket_reference:<16} {r.kind} {r.amount_cents / 100:.2f} EUR, "
                   f"{r.state}{flag}, responsible {r.responsible_party or '-'}{due}, repaid "
                   f"{r.repaid_cents / 100:.2f}, open {r.open_cents / 100:.2f}")
    out += ["", "Time-outs:"]
    if not status.timeouts:
        out.append("  (none)")
    for t in status.timeouts:
        period = f"{t.effective_from or '-'} .. {t.effective_until or '-'}"
        ended = f", ended {t.ended_on} ({t.ended_by})" if t.ended_on and t.state == "ended" else ""
        if t.agency_reason:
            ended += f", by the agency: {t.agency_reason}" + (
                f" (suspended from {t.suspended_from})" if t.state == "suspended" else "")
        answer = f" ({t.outcome})" if t.outcome and t.outcome != t.state else ""
        out.append(f"  {t.agency:<16} {t.state + answer:<30} {t.requested_months} months "
                   f"requested, period {period}{ended}")
    return "\n".join(out + _instrument_lines(status))


def _instrument_lines(status: CaseStatus) -> list[str]:
    """Deviations and information requests of the case (issue 13), when it has any."""
    out: list[str] = []
    if status.deviations:
        out += ["", "Deviations (afwijkingen):"]
        for d in status.deviations:
            approval = f", approval {d.approval_reference}" if d.approval_reference else ""
            out.append(f"  {d.organisation:<16} {d.law} {d.article}: {d.decision_code}, "
                       f"{d.period_from} .. {d.period_until}, by the {d.decided_by_role} "
                       f"(ground {d.legal_ground}{approval})")
    if status.information:
        out += ["", "Information requests:"]
        for i in status.information:
            refused = (f"; refused {', '.join(i.refused_fields)} ({i.refusal_reason})"
                       if i.refused_fields else "")
            answered = f"; answered {', '.join(i.answered_fields)}" if i.answered_fields else ""
            out.append(f"  {i.asker} -> {i.holder} ({i.purpose_code}, rule {i.rule}): "
                       f"{i.state}{answered}{refused}")
    return out
