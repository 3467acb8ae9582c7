"""A case's timeline, readable by a maatwerkfunctionaris: every message, receipt, response and
deadline, the hub's own notices, and the time-out state per agency. No personal data: the state
holds no message bodies, only ids, types, participants, codes and times."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from hub.state import timeouts, views
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


class CaseStatus(BaseModel):
    case_id: str
    messages: list[MessageLine]
    hub_messages: list[HubMessageLine]
    timeouts: list[TimeoutLine]


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
    return CaseStatus(case_id=case_id, messages=messages, hub_messages=hub_messages,
                      timeouts=lines)


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
    out += ["", "Time-outs:"]
    if not status.timeouts:
        out.append("  (none)")
    for t in status.timeouts:
        period = f"{t.effective_from or '-'} .. {t.effective_until or '-'}"
        ended = f", ended {t.ended_on} ({t.ended_by})" if t.ended_on and t.state == "ended" else ""
        answer = f" ({t.outcome})" if t.outcome and t.outcome != t.state else ""
        out.append(f"  {t.agency:<16} {t.state + answer:<30} {t.requested_months} months "
                   f"requested, period {period}{ended}")
    return "\n".join(out)
