"""The messages of the valid test vectors: one (at least) of every message type, the hub's notices
and answers included, in the order a hub routes them (answers after what they answer).

Ids follow the documented derivation: a participant's first message has a fixed id, its answers
and receipts are UUID v5 of the answered id (name: the answer's type, or ``receipt``), the hub's
messages use :func:`hub.contract.notary.notice_id`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from hub.contract.messages import Purpose, new_document, utc_iso
from hub.contract.notary import notice_id
from hub.contract.schemas.trust_vectors import trust_document
from hub.contract.schemas.vector_keys import CREATED, SIGNING_KEYS, TestKey

CASE = "ZW-2026-0042"
CJIB_CONTACT = {"name": "Maatwerkfunctionaris CJIB", "email": "maatwerk@cjib.example",
                "phone": "+31 58 000 0006"}
ZWOLLE_CONTACT = {"name": "Maatwerkfunctionaris Zwolle", "email": "maatwerk@zwolle.example",
                  "phone": "+31 38 000 0007"}


def fixed_id(n: int) -> UUID:
    return UUID(f"00000000-0000-4000-8000-{n:012d}")


def answer_id(original: UUID, type_name: str) -> UUID:
    """The id of an answer (or receipt, ``type_name`` = "receipt") to ``original``."""
    return uuid5(original, type_name)


def document(
    type_name: str, *, id: UUID, sender: str, recipient: str, body: dict[str, Any],
    conversation: int, created: datetime = CREATED, in_reply_to: UUID | None = None,
    purpose: Purpose | None = None, case_id: str = CASE,
) -> dict[str, Any]:
    result = new_document(
        type=type_name, sender=sender, recipient=recipient, case_id=case_id, body=body,
        purpose=purpose, conversation_id=fixed_id(conversation), in_reply_to=in_reply_to,
        created_at=created,
    )
    result["id"] = str(id)
    return result


def timeout_request(n: int = 1, created: datetime = CREATED, bsn: str = "123456782",
                    recipient: str = "cjib", case_id: str = CASE, **body: Any) -> dict[str, Any]:
    return document(
        "timeout.request", id=fixed_id(n), sender="gm0193", recipient=recipient,
        conversation=101 if n == 1 else 100 + n, created=created, case_id=case_id,
        body={
            "bsn": bsn,
            "references": {"cjib_payment_references": ["1234567890123456"]},
            "requested_from": "2026-12-01",
            "requested_months": 4,
            "reason_code": "debt_assistance_started",
            "scope": ["collection", "surcharges"],
            "debt_assistance_started": True,
            **body,
        },
    )


def timeout_response_body(**body: Any) -> dict[str, Any]:
    return {"outcome": "accepted", "effective_from": "2026-12-01",
            "effective_until": "2027-03-31", "paused_scope": ["collection", "surcharges"],
            "contact": CJIB_CONTACT, **body}


def _at(minutes: float) -> datetime:
    return CREATED + timedelta(minutes=minutes)


Valid = tuple[str, str, TestKey, dict[str, Any]]


def valid_documents() -> list[Valid]:
    """(file stem, description, signing key, unsigned document) of every valid vector."""
    request, escalation, referral = fixed_id(1), fixed_id(3), fixed_id(6)
    response = answer_id(request, "timeout.response")
    query = fixed_id(12)
    items: list[tuple[str, str, dict[str, Any]]] = [
        ("01-timeout.request", "Municipality gm0193 asks CJIB for a time-out (key1).",
         timeout_request()),
        ("02-timeout.response",
         "CJIB accepts the time-out (key4); in_reply_to names 01; its id is UUIDv5(01's id, "
         "'timeout.response').",
         document("timeout.response", id=response, sender="cjib", recipient="gm0193",
                  conversation=101, in_reply_to=request, created=_at(30),
                  body=timeout_response_body())),
        ("03-escalation.request",
         "gm0193 escalates to the Maatwerkloket (key1); free text with non-ASCII characters, a "
         "quote and a newline exercises JCS string escaping.",
         document("escalation.request", id=escalation, sender="gm0193", recipient="loket",
                  conversation=103, case_id="ZW-2026-0043", body={
                      "bsn": "111222333", "municipality": "GM0193",
                      "problem_areas": ["debts", "allowances", "housing"],
                      "agencies_involved": ["belastingdienst", "cjib"], "urgency": "urgent",
                      "situation_summary": (
                          "Huurachterstand van €1.250; \"noodstop\" bij CJIB loopt.\n"
                          "Overleg met café-eigenaar — werkgever — gepland."),
                      "contact": ZWOLLE_CONTACT})),
        ("04-receipt",
         "gm0193 confirms it durably took CJIB's response 02 (key1); its id is UUIDv5(02's id, "
         "'receipt').",
         document("receipt", id=answer_id(response, "receipt"), sender="gm0193",
                  recipient="cjib", conversation=101, in_reply_to=response,
                  purpose=Purpose.TIMEOUT, created=_at(30) + timedelta(seconds=2),
                  body={"received_at": "2026-11-23T10:30:01.250Z"})),
        ("05-escalation.response", "The Maatwerkloket takes the case of 03 (key5).",
         document("escalation.response", id=answer_id(escalation, "escalation.response"),
                  sender="loket", recipient="gm0193", conversation=103,
                  case_id="ZW-2026-0043", in_reply_to=escalation, created=_at(40),
                  body={"outcome": "accepted", "loket_reference": "MWL-2026-0107",
                        "next_step": "let_referral"})),
        ("06-let.referral", "The Maatwerkloket refers the case to the LET (key5).",
         document("let.referral", id=referral, sender="loket", recipient="let",
                  conversation=106, case_id="ZW-2026-0043", created=_at(50),
                  body={"loket_reference": "MWL-2026-0107",
                        "agencies_involved": ["belastingdienst", "cjib"],
                        "problem_areas": ["debts", "fines"],
                        "question": "Wie betaalt de huurachterstand voor?",
                        "bridging_amount_cents": 125000})),
        ("07-let.decision", "The LET names the responsible party (key6); answers 06.",
         document("let.decision", id=answer_id(referral, "let.decision"), sender="let",
                  recipient="loket", conversation=106, case_id="ZW-2026-0043",
                  in_reply_to=referral, created=_at(60), purpose=Purpose.ESCALATION,
                  body={"loket_reference": "MWL-2026-0107",
                        "decision": "responsible_party_named", "responsible_party": "cjib"})),
        ("08-timeout.extend", "gm0193 asks CJIB to extend the time-out of 01 (key1).",
         document("timeout.extend", id=fixed_id(8), sender="gm0193", recipient="cjib",
                  conversation=101, in_reply_to=request, created=_at(70),
                  body={"extend_months": 8, "reason_code": "debt_assistance_started",
                        "debt_assistance_started": True})),
        ("09-timeout.lift", "gm0193 ends the time-out of 01 early (key1).",
         document("timeout.lift", id=fixed_id(9), sender="gm0193", recipient="cjib",
                  conversation=101, in_reply_to=request, created=_at(80),
                  body={"lift_on": "2027-02-01", "reason_code": "solution_found"})),
        ("10-bridging.decision", "The Maatwerkloket prefinances the rent arrears (key5).",
         document("bridging.decision", id=fixed_id(10), sender="loket", recipient="gm0193",
                  conversation=110, case_id="ZW-2026-0043", created=_at(90),
                  body={"loket_reference": "MWL-2026-0107", "decision": "prefinance",
                        "amount_cents": 125000, "creditor_kind": "housing_corporation",
                        "referred_to_let": True})),
        ("11-bridging.settlement", "The Maatwerkloket asks CJIB to repay (key5).",
         document("bridging.settlement", id=fixed_id(11), sender="loket", recipient="cjib",
                  conversation=110, case_id="ZW-2026-0043", created=_at(100),
                  body={"loket_reference": "MWL-2026-0107", "responsible_party": "cjib",
                        "amount_cents": 125000, "due_on": "2027-06-30"})),
        ("12-register.query", "gm0193 looks up the agencies' contact points (key1).",
         document("register.query", id=query, sender="gm0193", recipient="hub",
                  conversation=112, created=_at(110), body={"kinds": ["loket"]})),
        ("13-timeout.request-zero-fraction",
         "requested_months written 4.0: an integer (JSON Schema) whose canonical form is 4.",
         timeout_request(n=13, created=_at(120), requested_months=4.0,
                         case_id="ZW-2026-0044")),
        ("13b-timeout.response",
         "CJIB accepts the time-out of 13 (key4): the pause that 17 and 18 suspend and end (the "
         "pause of 01 was lifted by 09).",
         document("timeout.response", id=answer_id(fixed_id(13), "timeout.response"),
                  sender="cjib", recipient="gm0193", conversation=113, case_id="ZW-2026-0044",
                  in_reply_to=fixed_id(13), created=_at(125), body=timeout_response_body())),
        *_instrument_documents(fixed_id(13)),
        ("26-escalation.progress", "The Maatwerkloket tells gm0193 it works on 03 (key5).",
         document("escalation.progress", id=fixed_id(26), sender="loket", recipient="gm0193",
                  conversation=103, case_id="ZW-2026-0043", in_reply_to=escalation,
                  created=_at(45), body={"loket_reference": "MWL-2026-0107",
                                         "step": "let_referral"})),
        ("27-escalation.closed", "The Maatwerkloket closes 03 after the LET decided (key5).",
         document("escalation.closed", id=answer_id(escalation, "escalation.closed"),
                  sender="loket", recipient="gm0193", conversation=103,
                  case_id="ZW-2026-0043", in_reply_to=escalation, created=_at(130),
                  body={"loket_reference": "MWL-2026-0107", "outcome": "let_decided"})),
        ("28-bridging.repaid", "CJIB confirms it repaid what 11 asked (key4).",
         document("bridging.repaid", id=answer_id(fixed_id(11), "bridging.repaid"),
                  sender="cjib", recipient="loket", conversation=110, case_id="ZW-2026-0043",
                  in_reply_to=fixed_id(11), created=_at(140),
                  body={"loket_reference": "MWL-2026-0107", "amount_cents": 125000,
                        "repaid_on": "2027-06-28"})),
    ]
    return [(stem, text, SIGNING_KEYS[doc["sender"]], doc) for stem, text, doc in items]


def _instrument_documents(request: UUID) -> list[tuple[str, str, dict[str, Any]]]:
    """The instruments of issue 13 (docs/instruments.md)."""
    asked = fixed_id(15)
    return [
        ("14-deviation.record", "gm0193 records a deviation with the loket's register (key1).",
         document("deviation.record", id=fixed_id(14), sender="gm0193", recipient="loket",
                  conversation=114, created=_at(130), body={
                      "rule": {"law": "participatiewet", "article": "art. 58 lid 2"},
                      "decision_code": "recovery_deferred",
                      "decision_text": "Terugvordering uitgesteld tot de schuldhulp loopt.",
                      "period_from": "2026-12-01", "period_until": "2027-03-31",
                      "decided_by_role": "teamleider",
                      "legal_ground": {"law": "awb", "article": "4:84"},
                      "approval": {"reference": "BA-ZWOLLE-2026-01",
                                   "approved_on": "2026-01-15"}})),
        ("15-info.request", "gm0193 asks CJIB for information before a time-out (key1).",
         document("info.request", id=asked, sender="gm0193", recipient="cjib",
                  conversation=115, created=_at(140), body={
                      "bsn": "123456782", "purpose_code": "timeout_preparation",
                      "legal_ground": "pmm-afstemming",
                      "fields": ["debt_total_cents", "monthly_income_cents"]})),
        ("16-info.response",
         "CJIB answers 15 with what rule info-timeout-preparation-cjib allows (key4).",
         document("info.response", id=answer_id(asked, "info.response"), sender="cjib",
                  recipient="gm0193", conversation=115, in_reply_to=asked, created=_at(150),
                  body={"outcome": "partially_answered", "rule": "info-timeout-preparation-cjib",
                        "items": {"debt_total_cents": 48200},
                        "refused_fields": ["monthly_income_cents"],
                        "refusal_reason": "not_allowed_for_purpose"})),
        ("17-timeout.suspend", "CJIB suspends the time-out of 13 (key4).",
         document("timeout.suspend", id=fixed_id(17), sender="cjib", recipient="gm0193",
                  conversation=113, case_id="ZW-2026-0044", in_reply_to=request,
                  created=_at(160),
                  body={"suspended_from": "2027-01-10", "reason_code": "new_debts"})),
        ("18-timeout.end_by_agency",
         "CJIB ends the time-out of 13 because the agreements were broken (key4).",
         document("timeout.end_by_agency", id=fixed_id(18), sender="cjib", recipient="gm0193",
                  conversation=113, case_id="ZW-2026-0044", in_reply_to=request,
                  created=_at(170),
                  body={"ended_on": "2027-01-15", "reason_code": "agreements_broken"})),
        ("19-register.update", "gm0193 publishes a new central phone number (key1).",
         document("register.update", id=fixed_id(19), sender="gm0193", recipient="hub",
                  conversation=119, created=_at(180), body={"phone": "+31 38 498 9111"})),
        ("29-trust.query", "gm0193 asks the hub for the current trust document (key1).",
         document("trust.query", id=fixed_id(29), sender="gm0193", recipient="hub",
                  conversation=129, created=_at(190), body={"known_serial": 1})),
    ]


def hub_documents() -> list[Valid]:
    """The hub's own messages (key7): notices and answers every adapter must verify."""
    request, query = fixed_id(1), fixed_id(12)
    refused = fixed_id(46)

    def hub(type_name: str, id: UUID, recipient: str, minutes: float, body: dict[str, Any],
            conversation: int = 101, in_reply_to: UUID | None = None,
            purpose: Purpose = Purpose.TIMEOUT) -> dict[str, Any]:
        return document(type_name, id=id, sender="hub", recipient=recipient, body=body,
                        conversation=conversation, in_reply_to=in_reply_to, purpose=purpose,
                        created=_at(minutes))

    late = {"message_id": str(request), "message_type": "timeout.request", "awaited": "response",
            "late_participant": "cjib", "deadline": utc_iso(_at(60 * 24 * 2))}
    items = [
        ("20-register.answer",
         "The hub answers 12; id = notice_id('register.answer', 12's id).",
         hub("register.answer", notice_id("register.answer", query), "gm0193", 110.01, {
             "entries": [{"id": "loket", "name": "Landelijk Maatwerkloket Multiproblematiek",
                          "kind": "loket", "contact_point": "Landelijk Maatwerkloket",
                          "email": "loket@maatwerkloket.example", "phone": "+31 70 000 0001"}]},
             conversation=112, in_reply_to=query, purpose=Purpose.COORDINATION)),
        ("21-notice.refused",
         "The hub refuses invalid/46 (schema_violation); id = notice_id('refused', its id).",
         hub("notice.refused", notice_id("refused", refused), "gm0193", 130, {
             "refused_message_id": str(refused), "reason_code": "schema_violation",
             "detail": "/body/bsn: 000000000 is not a BSN", "field_paths": ["/body/bsn"]},
             conversation=146, in_reply_to=refused)),
        ("22-notice.duplicate",
         "01 arrived again, byte for byte: the original outcome, routed; id = "
         "notice_id('duplicate', 01's id).",
         hub("notice.duplicate", notice_id("duplicate", request), "gm0193", 140, {
             "original_message_id": str(request), "original_outcome": "routed",
             "decided_at": "2026-11-23T10:05:00.000Z"}, in_reply_to=request)),
        ("23-notice.reminder",
         "CJIB's response to 01 is late; id = UUIDv5(notice_id('notice.reminder', 01's id), "
         "'response:cjib').",
         hub("notice.reminder", uuid5(notice_id("notice.reminder", request), "response:cjib"),
             "cjib", 60 * 24 * 2 + 1, late)),
        ("24-notice.overdue",
         "Still late after the reminder: the Maatwerkloket is told; id = "
         "UUIDv5(notice_id('notice.overdue', 01's id), 'response:loket').",
         hub("notice.overdue", uuid5(notice_id("notice.overdue", request), "response:loket"),
             "loket", 60 * 24 * 4 + 1, late)),
        ("25-timeout.ended",
         "The time-out of 01 ended (lifted); id = UUIDv5(notice_id('timeout.ended', 01's id), "
         "'gm0193').",
         hub("timeout.ended", uuid5(notice_id("timeout.ended", request), "gm0193"), "gm0193",
             150, {"agency": "cjib", "ended_on": "2027-02-01", "ended_by": "lifted"},
             in_reply_to=request)),
        ("30-trust.update",
         "The hub answers 29 with the trust document (test-vectors/trust/serial-2.json); id = "
         "notice_id('trust.update', 29's id). A broadcast of a new serial has no in_reply_to "
         "and id = UUIDv5(NOTICE_NAMESPACE, 'trust.update:<serial>:<sha256>:<recipient>').",
         hub("trust.update", notice_id("trust.update", fixed_id(29)), "gm0193", 190.01,
             {"serial": 2, "document": trust_document(2)}, conversation=129,
             in_reply_to=fixed_id(29), purpose=Purpose.COORDINATION)),
    ]
    return [(stem, text, SIGNING_KEYS["hub"], doc) for stem, text, doc in items]
