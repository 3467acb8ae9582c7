"""The demo's printed timeline: who sent what to whom, and the outcome, in plain words.

Lines are built from message *fields that carry no personal data* (types, participants, codes,
dates, amounts, rules, the professionals' contact points). The BSN, references, free-text
situation summaries, a deviation's decision text and the values of an information answer (only
the names of the fields given or refused) are never printed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any, TextIO

from demo.offices import BackOfficeCall, WebhookCall
from hub.contract.agreements import CALENDAR_ZONE

Event = tuple[str, dict[str, Any]]  # (who received it, the message document)


def euro(cents: int) -> str:
    return f"EUR {cents / 100:,.2f}"


def _words(values: list[str] | None) -> str:
    return ", ".join(v.replace("_", " ") for v in values or []) or "-"


class Story:
    """Prints the timeline and remembers every event so the demo can wait for one."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.events: list[Event] = []
        self.calls: list[BackOfficeCall] = []
        self.types: dict[str, str] = {}  # message id -> type, for receipts
        self.printed: set[str] = set()  # ids already told when sent
        self.steps = 0

    # -- printing -------------------------------------------------------------------------------

    def _clock(self) -> str:
        return datetime.now().strftime("%H:%M:%S")

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def step(self, title: str) -> None:
        """The next numbered step of the case."""
        self.steps += 1
        self.say()
        self.say(f"{self._clock()}  == {self.steps}. {title}")

    def note(self, text: str) -> None:
        self.say(f"{self._clock()}     {text}")

    def line(self, sender: str, recipient: str, type_name: str, summary: str) -> None:
        self.say(f"{self._clock()}     {sender:>15} -> {recipient:<15} {type_name:<21} {summary}")

    def sent(self, message_id: str, type_name: str, sender: str, recipient: str,
             summary: str) -> None:
        self.types[message_id] = type_name
        self.printed.add(message_id)
        self.line(sender, recipient, type_name, summary)

    # -- what arrives -----------------------------------------------------------------------------

    def on_office(self, call: BackOfficeCall | WebhookCall) -> None:
        if isinstance(call, WebhookCall):
            self.received(call.participant, call.document)
        else:
            self.calls.append(call)
            self.say(f"{self._clock()}     {'':>15}    ({describe_call(call)})")

    def received(self, who: str, document: dict[str, Any]) -> None:
        self.events.append((who, document))
        self.types.setdefault(str(document.get("id")), str(document.get("type")))
        type_name = str(document.get("type"))
        if str(document.get("id")) in self.printed:
            return
        if type_name == "notice.reminder":
            body = document["body"]
            self.line("hub", f"{body['late_participant']} (+{who})", type_name,
                      describe_late(body, reminder=True))
            return
        self.line(str(document.get("sender")), who, type_name, self.summary(document))

    def summary(self, document: dict[str, Any]) -> str:
        body: dict[str, Any] = document.get("body") or {}
        kind = document.get("type")
        if kind == "receipt":
            what = self.types.get(str(document.get("in_reply_to")), "message")
            return f"has the {what}"
        if kind == "timeout.response":
            return describe_response(body)
        if kind == "notice.overdue":
            return describe_late(body, reminder=False)
        if kind == "notice.refused":
            fields = f"; fields: {', '.join(body['field_paths'])}" if body.get(
                "field_paths") else ""
            rule = f" (rule {body['rule']})" if body.get("rule") else ""
            return f"REFUSED: {body['reason_code']}{rule}{fields}"
        if kind == "escalation.request":
            return (f"{body['urgency']}; problems: {_words(body['problem_areas'])}; agencies: "
                    f"{', '.join(body['agencies_involved'])}; situation summary for the loket "
                    f"only ({len(body.get('situation_summary', ''))} characters)")
        if kind == "escalation.response":
            return (f"{body['outcome']}, reference {body['loket_reference']}, next step: "
                    f"{body['next_step'].replace('_', ' ')}")
        if kind == "bridging.decision":
            return (f"{body['decision']} {euro(body['amount_cents'])} to the "
                    f"{body['creditor_kind'].replace('_', ' ')}"
                    f"{'; referred to the LET' if body.get('referred_to_let') else ''}")
        if kind == "let.decision":
            party = f": {body['responsible_party']}" if body.get("responsible_party") else ""
            return f"{body['decision'].replace('_', ' ')}{party}. {body.get('explanation') or ''}"
        if kind == "escalation.progress":
            return f"{body['loket_reference']}: working on it ({body['step'].replace('_', ' ')})"
        if kind == "escalation.closed":
            return f"{body['loket_reference']} closed: {body['outcome'].replace('_', ' ')}"
        if kind == "bridging.repaid":
            return f"repaid {euro(body['amount_cents'])} on {body['repaid_on']}"
        if kind == "register.answer":
            entries = body.get("entries") or []
            return f"{len(entries)} contact point(s): " + "; ".join(
                f"{e['id']}: {e['contact_point']} <{e['email']}> {e.get('phone') or ''}".rstrip()
                for e in entries)
        if kind in INSTRUMENTS:
            return INSTRUMENTS[kind](document)
        if kind == "timeout.ended":
            return (f"the time-out at {body['agency']} ended on {body['ended_on']} "
                    f"({body['ended_by'].replace('_', ' ')})")
        return ""

    # -- waiting ----------------------------------------------------------------------------------

    def find(self, predicate: Callable[[str, dict[str, Any]], bool]) -> list[dict[str, Any]]:
        return [doc for who, doc in self.events if predicate(who, doc)]

    def got(self, who: str, type_name: str, sender: str | None = None,
            about: str | None = None) -> list[dict[str, Any]]:
        """What ``who`` received of ``type_name`` (from ``sender``; in reply to a message of
        type ``about``)."""
        return self.find(lambda w, d: w == who and d.get("type") == type_name
                         and (sender is None or d.get("sender") == sender)
                         and (about is None
                              or self.types.get(str(d.get("in_reply_to"))) == about))


def describe_late(body: dict[str, Any], *, reminder: bool) -> str:
    """A reminder or overdue notice: an answer late, or a repayment not confirmed by its date."""
    late, about = body["late_participant"], body["message_type"]
    if about == "bridging.settlement":
        due = _day(body["deadline"])
        if reminder:
            return (f"{late}'s repayment asked in the bridging.settlement was due {due}: "
                    "not confirmed")
        return (f"OVERDUE: {late} has not confirmed the repayment asked in the "
                f"bridging.settlement (due {due}, reminder sent); the loket follows up")
    deadline = _hhmmss(body["deadline"])
    if reminder:
        return f"{late}'s {body['awaited']} to the {about} is late (deadline {deadline})"
    return (f"OVERDUE: {late} has not answered the {about} (deadline {deadline}, reminder "
            "sent); the loket follows up")


def _info_request(document: dict[str, Any]) -> str:
    body = document["body"]
    return (f"purpose {body['purpose_code'].replace('_', ' ')}, legal ground "
            f"{body['legal_ground']}; asks: {_words(body['fields'])}")


def _info_response(document: dict[str, Any]) -> str:
    """Which fields were answered and which refused, by which rule; never the values."""
    body = document["body"]
    rule = body.get("rule") or "none"
    given = _words(sorted(body.get("items") or {}))
    refused = f"REFUSED (rule {rule}, {body.get('refusal_reason')}): " + _words(
        body.get("refused_fields"))
    if body["outcome"] == "answered":
        return f"ANSWERED (rule {rule}): {given}"
    if body["outcome"] == "refused":
        return refused
    return f"PARTLY ANSWERED (rule {rule}): {given}; {refused}"


def _deviation(document: dict[str, Any]) -> str:
    """The rule, the decision as a code, the period, the role and the grounds; the decision
    text stays with the loket."""
    body = document["body"]
    rule, ground = body["rule"], body["legal_ground"]
    approval = body.get("approval")
    backing = f", bestuurlijke approval of {approval['approved_on']}" if approval else ""
    return (f"{rule['law']} {rule['article']}: {body['decision_code'].replace('_', ' ')} "
            f"{body['period_from']} .. {body['period_until']}, by the "
            f"{body['decided_by_role']} (ground {ground['law']} {ground['article']}{backing}); "
            f"decision text for the loket only ({len(body.get('decision_text', ''))} "
            "characters)")


def _agency_pause(document: dict[str, Any]) -> str:
    body = document["body"]
    reason = str(body["reason_code"]).replace("_", " ")
    if document.get("type") == "timeout.suspend":
        resume = f", resumes {body['resume_on']}" if body.get("resume_on") else ""
        return (f"{document.get('sender')} suspends its time-out from "
                f"{body['suspended_from']}{resume}: {reason}")
    return f"{document.get('sender')} ends its time-out on {body['ended_on']}: {reason}"


def _register_update(document: dict[str, Any]) -> str:
    return "own entry: new " + ", ".join(
        f"{k.replace('_', ' ')} {v}" for k, v in (document.get("body") or {}).items())


INSTRUMENTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "info.request": _info_request, "info.response": _info_response,
    "deviation.record": _deviation, "timeout.end_by_agency": _agency_pause,
    "timeout.suspend": _agency_pause, "register.update": _register_update,
}


def describe_response(body: dict[str, Any]) -> str:
    outcome = str(body.get("outcome", "?"))
    if outcome == "declined":
        contact = body.get("contact") or {}
        who = f"; contact: {contact['name']} <{contact['email']}>" if contact else ""
        return (f"DECLINED ({body.get('reason_code')}): {body.get('explanation') or ''}"
                f"{who}")
    text = (f"{outcome.replace('_', ' ').upper()}: {_words(body.get('paused_scope'))} paused "
            f"{body.get('effective_from')} .. {body.get('effective_until')}")
    if body.get("not_paused_scope"):
        text += (f"; NOT paused: {_words(body['not_paused_scope'])} "
                 f"({body.get('reason_code')})")
    return text


def describe_call(call: BackOfficeCall) -> str:
    name = f"{call.participant} back office"
    if call.participant == "loket":
        return f"{name}: the loket's case system takes the escalation"
    if call.status == 202:
        return f"{name}: request taken into the work queue; no decision yet"
    answer = call.answer or {}
    if "decision" in answer:
        verdict = str(answer["decision"]).replace("_", " ")
        period = f" {answer['from']} .. {answer['until']}" if answer.get("from") else ""
        return f"{name}: POST {call.path} -> {verdict}{period}"
    if isinstance(call.payload.get("fields"), list):
        return (f"{name}: POST {call.path} -> {len(answer)} of the {len(call.payload['fields'])} "
                f"fields asked: {_words(sorted(answer))}")
    if "amount_cents" in call.payload and answer.get("repaid_on"):
        return (f"{name}: settlement of {euro(int(call.payload['amount_cents']))} recorded "
                f"and repaid on {answer['repaid_on']}")
    if "amount_cents" in call.payload:
        return (f"{name}: settlement of {euro(int(call.payload['amount_cents']))} recorded, "
                f"due {call.payload.get('due_on')}")
    return f"{name}: POST {call.path} noted"


def _day(moment: str) -> str:
    try:
        return datetime.fromisoformat(moment).astimezone(CALENDAR_ZONE).date().isoformat()
    except ValueError:
        return moment


def _hhmmss(moment: str) -> str:
    try:
        return datetime.fromisoformat(moment).astimezone().strftime("%H:%M:%S")
    except ValueError:
        return moment
