"""The vectors of the instruments' rules across fields (issue 11: every rule in the schemas or the
vectors): one invalid vector per rule of ``deviation.record``, ``info.request``,
``info.response``, ``timeout.suspend`` and ``register.update`` (in the schema as ``allOf``, or a
listed rule), and a valid one with an amount in cents written with a zero fraction.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hub.contract.schemas.vector_keys import CREATED, SIGNING_KEYS, TestKey
from hub.contract.schemas.vector_messages import document, fixed_id

ZWOLLE_SECOND_CASE = "ZW-2026-0044"  # the case of valid/13, whose pause 17 suspends


def _deviation(**body: Any) -> dict[str, Any]:
    return {"rule": {"law": "participatiewet", "article": "art. 58 lid 2"},
            "decision_code": "recovery_deferred",
            "decision_text": "Terugvordering uitgesteld tot de schuldhulp loopt.",
            "period_from": "2026-12-01", "period_until": "2027-03-31",
            "decided_by_role": "teamleider", "legal_ground": {"law": "awb", "article": "4:84"},
            "approval": {"reference": "BA-ZWOLLE-2026-01", "approved_on": "2026-01-15"},
            **body}


def rule_valid_documents() -> list[tuple[str, str, TestKey, dict[str, Any]]]:
    """(file stem, description, key, unsigned document): valid vectors, routed after valid/14."""
    doc = document("deviation.record", id=fixed_id(70), sender="gm0193", recipient="loket",
                   conversation=170, created=CREATED + timedelta(minutes=135), body=_deviation(
                       decision_code="recovery_reduced", decided_by_role="board",
                       approval=None, amount_cents=12500.0))
    del doc["body"]["approval"]
    return [("14b-deviation.record-zero-fraction",
             "The college (board) records a deviation: no approval needed; amount_cents written "
             "12500.0, an integer (JSON Schema) whose canonical form is 12500 (key1).",
             SIGNING_KEYS["gm0193"], doc)]


def rule_invalid_documents() -> list[tuple[str, str, TestKey, dict[str, Any]]]:
    """(file stem, description, key, unsigned document): each refused with schema_violation."""
    asked, paused = fixed_id(15), fixed_id(13)

    def deviation(n: int, **body: Any) -> dict[str, Any]:
        doc = document("deviation.record", id=fixed_id(n), sender="gm0193", recipient="loket",
                       conversation=100 + n, body=_deviation(**body))
        doc["body"] = {k: v for k, v in doc["body"].items() if v is not None}
        return doc

    def info_response(n: int, **body: Any) -> dict[str, Any]:
        return document("info.response", id=fixed_id(n), sender="cjib", recipient="gm0193",
                        conversation=115, in_reply_to=asked, body=body)

    items = [
        ("61-deviation.record-until-before-from",
         "period_until lies before period_from (listed rule period-until-not-before-from).",
         deviation(61, period_until="2026-11-30")),
        ("62-deviation.record-without-approval",
         "A teamleider's deviation without the bestuurlijke approval (if/then).",
         deviation(62, approval=None)),
        ("63-info.request-field-twice", "fields asks debt_total_cents twice (uniqueItems).",
         document("info.request", id=fixed_id(63), sender="gm0193", recipient="cjib",
                  conversation=163, body={
                      "bsn": "123456782", "purpose_code": "timeout_preparation",
                      "legal_ground": "pmm-afstemming",
                      "fields": ["debt_total_cents", "collection_status", "debt_total_cents"]})),
        ("64-info.response-answered-without-items",
         "outcome answered, but every member of items is null (if/then/else).",
         info_response(64, outcome="answered", items={"debt_total_cents": None})),
        ("65-info.response-answered-with-refused-fields",
         "outcome answered, yet refused_fields is not empty (if/then/else).",
         info_response(65, outcome="answered", items={"debt_total_cents": 48200},
                       refused_fields=["monthly_income_cents"], refusal_reason="not_held")),
        ("66-info.response-refused-without-reason",
         "refused_fields without a refusal_reason (if/then).",
         info_response(66, outcome="partially_answered", items={"debt_total_cents": 48200},
                       refused_fields=["monthly_income_cents"])),
        ("67-info.response-policy-refusal-without-rule",
         "refusal_reason not_allowed_for_purpose without the rule (if/then).",
         info_response(67, outcome="partially_answered", items={"debt_total_cents": 48200},
                       refused_fields=["monthly_income_cents"],
                       refusal_reason="not_allowed_for_purpose")),
        ("68-timeout.suspend-resume-not-after",
         "resume_on is the day of suspended_from, not after it (listed rule "
         "resume-on-after-suspended-from).",
         document("timeout.suspend", id=fixed_id(68), sender="cjib", recipient="gm0193",
                  conversation=113, case_id=ZWOLLE_SECOND_CASE, in_reply_to=paused,
                  body={"suspended_from": "2027-01-10", "reason_code": "new_debts",
                        "resume_on": "2027-01-10"})),
        ("69-register.update-empty",
         "A register.update naming none of contact_point, email, phone (anyOf).",
         document("register.update", id=fixed_id(69), sender="gm0193", recipient="hub",
                  conversation=169, body={"email": None})),
    ]
    return [(stem, text, SIGNING_KEYS[doc["sender"]], doc) for stem, text, doc in items]
