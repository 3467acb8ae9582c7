"""The demo's printed timeline: who sent what to whom, and the outcome, in plain words.

Lines are built from message *fields that carry no personal data* (types, participants, codes,
dates, amounts, the professionals' contact points). The BSN, references and free-text situation
summaries are never printed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any, TextIO

from demo.offices import BackOfficeCall, WebhookCall

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

    # -- printing -------------------------------------------------------------------------------

    def _clock(self) -> str:
        return datetime.now().strftime("%H:%M:%S")

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def step(self, number: int, title: str) -> None:
        self.say()
        self.say(f"{self._clock()}  == {number}. {title}")

    def note(self, text: str) -> None:
        self.say(f"{self._clock()}     {text}")

    def line(self, sender: str, recipient: str, type_name: str, summary: str) -> None:
        self.say(f"{self._clock()}     {sender:>15} -> {recipient:<15} {type_name:<20} {summary}")

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
            late = body["late_participant"]
            self.line("hub", f"{late} (+{who})", type_name,
                      f"{late}'s {body['awaited']} to the {body['message_type']} is late "
                      f"(deadline {_hhmmss(body['deadline'])})")
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
            return (f"OVERDUE: {body['late_participant']} has not answered the "
                    f"{body['message_type']} (deadline {_hhmmss(body['deadline'])}, "
                    "reminder sent); the loket follows up")
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
            return f"{len(entries)} contact points: " + "; ".join(
                f"{e['id']}: {e['contact_point']} <{e['email']}>" for e in entries)
        if kind == "timeout.ended":
            return (f"the time-out at {body['agency']} ended on {body['ended_on']} "
                    f"({body['ended_by'].replace('_', ' ')})")
        return ""

    # -- waiting ----------------------------------------------------------------------------------

    def find(self, predicate: Callable[[str, dict[str, Any]], bool]) -> list[dict[str, Any]]:
        return [doc for who, doc in self.events if predicate(who, doc)]

    def got(self, who: str, type_name: str, sender: str | None = None) -> list[dict[str, Any]]:
        return self.find(lambda w, d: w == who and d.get("type") == type_name
                         and (sender is None or d.get("sender") == sender))


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
    if "amount_cents" in call.payload and answer.get("repaid_on"):
        return (f"{name}: settlement of {euro(int(call.payload['amount_cents']))} recorded "
                f"and repaid on {answer['repaid_on']}")
    if "amount_cents" in call.payload:
        return (f"{name}: settlement of {euro(int(call.payload['amount_cents']))} recorded, "
                f"due {call.payload.get('due_on')}")
    return f"{name}: POST {call.path} noted"


def _hhmmss(moment: str) -> str:
    try:
        return datetime.fromisoformat(moment).astimezone().strftime("%H:%M:%S")
    except ValueError:
        return moment
