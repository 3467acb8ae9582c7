"""Every message the hub sends on its own passes the default data-sharing policy."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.contract.messages import Purpose
from hub.contract.notary import Notary, Thread
from hub.contract.policy import load_policy
from hub.contract.registry import load_registry

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
THREAD = Thread(case_id="ZW-2026-0042", conversation_id=uuid.uuid4(), purpose=Purpose.TIMEOUT,
                in_reply_to=uuid.uuid4())
REMINDER = {"message_id": str(uuid.uuid4()), "message_type": "timeout.request",
            "awaited": "response", "late_participant": "svb", "deadline": "2026-11-25T10:00:00Z"}
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("notice.refused", "gm0193", {"refused_message_id": str(uuid.uuid4()),
                                  "reason_code": "policy_special_category", "detail": "x",
                                  "rule": "timeout-request-cjib",
                                  "field_paths": ["health_context"], "policy_version": "1"}),
    ("notice.refused", "cjib", {"refused_message_id": None, "reason_code": "malformed_json",
                                "detail": "not JSON", "field_paths": []}),
    ("notice.duplicate", "gm0193", {"original_message_id": str(uuid.uuid4()),
                                    "original_outcome": "routed"}),
    ("notice.reminder", "svb", REMINDER),
    ("notice.reminder", "gm0193", REMINDER),
    ("notice.overdue", "loket", REMINDER),
    ("timeout.ended", "gm0193", {"agency": "cjib", "ended_on": "2027-03-31",
                                 "ended_by": "end_date"}),
    ("timeout.ended", "cjib", {"agency": "cjib", "ended_on": "2027-03-31", "ended_by": "lifted"}),
    ("register.answer", "gm0193", {"entries": [{"id": "cjib", "name": "CJIB", "kind": "agency",
                                                "contact_point": "x", "email": "a@b.example",
                                                "phone": "+31 58 000 0006"}]}),
    ("trust.update", "gm0193", {"serial": 3, "document": {"serial": 3}}),
    ("trust.update", "cjib", {"serial": 3, "document": {"serial": 3}}),
    ("trust.update", "loket", {"serial": 3, "document": {"serial": 3}}),
    ("trust.update", "let", {"serial": 3, "document": {"serial": 3}}),
]
COORDINATION = ("register.answer", "trust.update")


@pytest.mark.parametrize(("type_name", "recipient", "body"), CASES,
                         ids=[f"{t}->{r}" for t, r, _ in CASES])
def test_hub_message_passes_the_default_policy(
    type_name: str, recipient: str, body: dict[str, Any]
) -> None:
    registry, policy = load_registry(), load_policy()
    notary = Notary(registry, Ed25519PrivateKey.generate())
    thread = THREAD if type_name not in COORDINATION else Thread(
        case_id="ZW-1", conversation_id=uuid.uuid4(), purpose=Purpose.COORDINATION,
        in_reply_to=uuid.uuid4())
    envelope, _ = notary.sign(type=type_name, recipient=recipient, body=body, now=NOW,
                              thread=thread)
    participant = registry.get(recipient)
    assert participant is not None and type_name in participant.receives
    decision = policy.evaluate(envelope, envelope.model_dump(mode="json"), participant, NOW)
    assert decision.version == policy.version
