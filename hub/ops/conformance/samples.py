"""Sample bodies: one schema-valid body per message type, as a real sender would write it.

Minimal on purpose (the required fields and what the receiving adapter needs to act), so that
the hub's data-sharing policy lets each one reach its recipient. A ``timeout.request`` carries
the references the policy lets this recipient receive (its own), one sample value each.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from hub.contract.messages import Purpose, utc_iso
from hub.contract.policy import Policy
from hub.contract.registry import Participant, Registry

BSN = "123456782"  # passes the elfproef; fictional
LOKET_REFERENCE = "LK-KIT-0001"
CONTACT = {"name": "Maatwerkfunctionaris (conformance kit)", "email": "kit@maatwerkhub.example",
           "phone": "+31 70 000 0099"}
REFERENCE_SAMPLES: dict[str, list[Any]] = {
    "cjib_payment_references": ["1234567890123456"],
    "uwv_recovery_decisions": ["UWV-TV-2026-0042"],
    "duo_debt_numbers": ["DUO-77341"],
    "toeslagen_years": [2024],
    "belastingdienst_assessments": ["H-2024-5521"],
    "svb_benefit_references": ["SVB-KB-5521"],
}


class Context:
    """What a sample may depend on: who sends it, who gets it, when."""

    def __init__(self, *, sender: Participant, recipient: Participant, registry: Registry,
                 policy: Policy, now: datetime, purpose: Purpose) -> None:
        self.sender = sender
        self.recipient = recipient
        self.registry = registry
        self.policy = policy
        self.now = now
        self.purpose = purpose

    @property
    def today(self) -> date:
        return self.now.date()

    def agency(self) -> str:
        """The recipient when it is an agency, else the first agency of the registry."""
        if self.recipient.kind == "agency":
            return self.recipient.id
        agencies = self.registry.of_kind("agency")
        return agencies[0].id if agencies else self.recipient.id


def _references(ctx: Context) -> dict[str, Any]:
    rule = ctx.policy.rule_for("timeout.request", ctx.purpose, ctx.recipient, ctx.now)
    if rule is None:
        return {}
    out = {}
    for path in rule.allow:
        head, _, name = path.lstrip("/").replace("/", ".").partition(".")
        if head == "references" and name in REFERENCE_SAMPLES:
            out[name] = REFERENCE_SAMPLES[name]
    return out


def _notice_about(ctx: Context) -> dict[str, Any]:
    return {"message_id": str(uuid4()), "message_type": "timeout.request", "awaited": "response",
            "late_participant": ctx.recipient.id,
            "deadline": utc_iso(ctx.now - timedelta(hours=1))}


SAMPLES: dict[str, Callable[[Context], dict[str, Any]]] = {
    "escalation.request": lambda ctx: {
        "bsn": BSN, "municipality": ctx.sender.cbs_code or "GM0193",
        "problem_areas": ["debts", "housing"], "agencies_involved": [ctx.agency()],
        "urgency": "urgent",
        "situation_summary": "Rent arrears; several agencies collect at once (kit sample).",
        "contact": CONTACT},
    "escalation.response": lambda ctx: {
        "outcome": "accepted", "loket_reference": LOKET_REFERENCE, "next_step": "bridging"},
    "escalation.progress": lambda ctx: {
        "loket_reference": LOKET_REFERENCE, "step": "mediation"},
    "escalation.closed": lambda ctx: {
        "loket_reference": LOKET_REFERENCE, "outcome": "let_decided"},
    "bridging.repaid": lambda ctx: {
        "loket_reference": LOKET_REFERENCE, "amount_cents": 125000,
        "repaid_on": ctx.today.isoformat()},
    "let.referral": lambda ctx: {
        "loket_reference": LOKET_REFERENCE, "agencies_involved": [ctx.agency()],
        "problem_areas": ["debts"], "question": "Who repays the prefinanced rent? (kit sample)"},
    "let.decision": lambda ctx: {
        "loket_reference": LOKET_REFERENCE, "decision": "responsible_party_named",
        "responsible_party": ctx.agency()},
    "timeout.request": lambda ctx: {
        "bsn": BSN, "references": _references(ctx),
        "requested_from": ctx.today.isoformat(), "requested_months": 2,
        "reason_code": "livelihood_threatened", "scope": ["collection"]},
    "timeout.response": lambda ctx: {
        "outcome": "accepted", "effective_from": ctx.today.isoformat(),
        "effective_until": (ctx.today + timedelta(days=60)).isoformat(),
        "paused_scope": ["collection"]},
    "timeout.extend": lambda ctx: {
        "extend_months": 2, "reason_code": "debt_assistance_started",
        "debt_assistance_started": True},
    "timeout.lift": lambda ctx: {
        "lift_on": (ctx.today + timedelta(days=7)).isoformat(), "reason_code": "household_stable"},
    "timeout.ended": lambda ctx: {
        "agency": ctx.agency(), "ended_on": ctx.today.isoformat(), "ended_by": "end_date"},
    "receipt": lambda ctx: {"received_at": utc_iso(ctx.now)},
    "notice.refused": lambda ctx: {
        "refused_message_id": str(uuid4()), "reason_code": "bad_signature",
        "detail": "the signature does not verify (kit sample)", "field_paths": []},
    "notice.duplicate": lambda ctx: {
        "original_message_id": str(uuid4()), "original_outcome": "routed",
        "decided_at": utc_iso(ctx.now - timedelta(minutes=5))},
    "notice.reminder": _notice_about,
    "notice.overdue": _notice_about,
    "bridging.decision": lambda ctx: {
        "loket_reference": LOKET_REFERENCE, "decision": "prefinance", "amount_cents": 125000,
        "creditor_kind": "housing_corporation", "referred_to_let": True},
    "bridging.settlement": lambda ctx: {
        "loket_reference": LOKET_REFERENCE, "responsible_party": ctx.recipient.id,
        "amount_cents": 125000, "due_on": (ctx.today + timedelta(days=30)).isoformat()},
    "register.query": lambda ctx: {"kinds": ["agency"]},
    "register.answer": lambda ctx: {"entries": [
        {"id": p.id, "name": p.name, "kind": p.kind, "contact_point": p.contact.contact_point,
         "email": p.contact.email, "phone": p.contact.phone}
        for p in ctx.registry.document.participants if p.kind == "agency"]},
    # the instruments of issue 13 (docs/instruments.md)
    "deviation.record": lambda ctx: {
        "rule": {"law": "participatiewet", "article": "art. 58 lid 2"},
        "decision_code": "recovery_deferred", "decision_text": "Recovery deferred (kit sample).",
        "period_from": ctx.today.isoformat(),
        "period_until": (ctx.today + timedelta(days=90)).isoformat(),
        "decided_by_role": "board", "legal_ground": {"law": "awb", "article": "4:84"}},
    "info.request": lambda ctx: {
        "bsn": BSN, "purpose_code": ("timeout_preparation" if ctx.recipient.kind == "agency"
                                     else "payment_arrangement"),
        "legal_ground": "pmm-afstemming", "fields": ["arrangement_status"]},
    "info.response": lambda ctx: {
        "outcome": "refused", "refused_fields": ["arrangement_status"],
        "refusal_reason": "not_held"},
    "timeout.end_by_agency": lambda ctx: {
        "ended_on": ctx.today.isoformat(), "reason_code": "agreements_broken"},
    "timeout.suspend": lambda ctx: {
        "suspended_from": ctx.today.isoformat(), "reason_code": "new_debts"},
    "register.update": lambda ctx: {"email": "kit@maatwerkhub.example"},
    # the trust document (issue 12): the kit's document is not signed by any authority, so an
    # adapter that verifies it refuses it (and must still take the message off its inbox)
    "trust.query": lambda ctx: {},
    "trust.update": lambda ctx: {"serial": 1, "document": {"format": "maatwerk-trust/1",
                                                           "serial": 1}},
}


def sample_body(type_name: str, ctx: Context) -> dict[str, Any]:
    return SAMPLES[type_name](ctx)


def fabricated_id() -> UUID:
    """An id for a message the adapter is said to have sent (the hub checked that it did)."""
    return uuid4()
