"""The message contract (hub.contract.messages, hub.contract.bodies): categories and refusal
reasons."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from hub.contract.bodies import CATEGORY_KEY, DataCategory
from hub.contract.errors import ReasonCode, Refusal
from hub.contract.messages import (
    MESSAGE_MODELS,
    MESSAGE_SPECS,
    Purpose,
    new_document,
    parse_message,
)
from hub.contract.schemas import message_schema

_SIGNATURE = {"alg": "Ed25519", "kid": "AAAAAAAAAAAAAAAAAAAAAA", "value": "A" * 86}
_CATEGORIES = {c.value for c in DataCategory}


def _message(**changes: Any) -> dict[str, Any]:
    document = new_document(
        type="timeout.request", sender="gm0193", recipient="cjib", case_id="ZW-2026-0042",
        created_at=datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
        body={
            "bsn": "123456782",
            "references": {"cjib_payment_references": ["1234567890123456"]},
            "requested_from": "2026-12-01",
            "requested_months": 4,
            "reason_code": "livelihood_threatened",
            "scope": ["collection"],
        },
    )
    document["signature"] = dict(_SIGNATURE)
    document.update(changes)
    return document


def _refusal(document: Any) -> Refusal:
    with pytest.raises(Refusal) as caught:
        parse_message(json.dumps(document).encode())
    return caught.value


@pytest.mark.parametrize("type_name", list(MESSAGE_SPECS))
def test_every_body_field_has_a_data_category(type_name: str) -> None:
    body = MESSAGE_SPECS[type_name].body
    assert body.model_fields, f"{body.__name__} has no fields"
    for name, info in body.model_fields.items():
        extra = info.json_schema_extra
        assert isinstance(extra, dict), f"{body.__name__}.{name} has no {CATEGORY_KEY}"
        assert extra.get(CATEGORY_KEY) in _CATEGORIES, f"{body.__name__}.{name}"


@pytest.mark.parametrize("type_name", list(MESSAGE_SPECS))
def test_published_schema_keeps_the_categories(type_name: str) -> None:
    schema = message_schema(type_name)
    body_def = schema["$defs"][MESSAGE_SPECS[type_name].body.__name__]
    for name, prop in body_def["properties"].items():
        assert prop.get(CATEGORY_KEY) in _CATEGORIES, f"{type_name} body.{name}"


def test_every_type_has_a_model_and_a_purpose() -> None:
    assert set(MESSAGE_MODELS) == set(MESSAGE_SPECS)
    for spec in MESSAGE_SPECS.values():
        assert spec.purposes


def test_a_valid_message_parses() -> None:
    document, envelope = parse_message(json.dumps(_message()).encode())
    assert envelope.type == "timeout.request"
    assert envelope.purpose is Purpose.TIMEOUT
    assert document["body"]["bsn"] == "123456782"


def test_unknown_type() -> None:
    refusal = _refusal(_message(type="timeout.pause"))
    assert refusal.reason is ReasonCode.UNKNOWN_TYPE
    assert _refusal(_message(type=None)).reason is ReasonCode.UNKNOWN_TYPE


def test_extra_envelope_field() -> None:
    refusal = _refusal(_message(priority="high"))
    assert refusal.reason is ReasonCode.SCHEMA_VIOLATION
    assert "priority" in refusal.detail


def test_extra_body_field() -> None:
    document = _message()
    document["body"]["diagnosis"] = "confidential"
    refusal = _refusal(document)
    assert refusal.reason is ReasonCode.SCHEMA_VIOLATION
    assert "/body/diagnosis" in refusal.detail and refusal.field_paths == ["/body/diagnosis"]


def test_reply_type_needs_in_reply_to() -> None:
    document = new_document(
        type="timeout.response", sender="cjib", recipient="gm0193", case_id="ZW-2026-0042",
        body={"outcome": "declined", "reason_code": "person_unknown"},
    )
    document["signature"] = dict(_SIGNATURE)
    refusal = _refusal(document)
    assert refusal.reason is ReasonCode.SCHEMA_VIOLATION
    assert "in_reply_to" in refusal.detail
    document["in_reply_to"] = str(uuid4())
    parse_message(json.dumps(document).encode())


def test_wrong_purpose() -> None:
    refusal = _refusal(_message(purpose=Purpose.ESCALATION.value))
    assert refusal.reason is ReasonCode.SCHEMA_VIOLATION
    assert "purpose" in refusal.detail
    assert _refusal(_message(purpose="marketing")).reason is ReasonCode.SCHEMA_VIOLATION


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"expires_at": "2026-11-23T09:00:00.000Z"}, "expires_at"),
        ({"recipient": "gm0193"}, "differ"),
        ({"case_id": "case-123456782"}, "case_id"),
        ({"created_at": "2026-11-23T10:00:00"}, "created_at"),
        ({"schema_version": "2.0"}, "schema_version"),
    ],
)
def test_envelope_rules(changes: dict[str, Any], fragment: str) -> None:
    refusal = _refusal(_message(**changes))
    assert refusal.reason is ReasonCode.SCHEMA_VIOLATION
    assert fragment in refusal.detail


def test_bad_bsn_names_the_field() -> None:
    document = _message()
    document["body"]["bsn"] = "123456789"
    refusal = _refusal(document)
    assert refusal.reason is ReasonCode.SCHEMA_VIOLATION
    assert "/body/bsn" in refusal.detail and "123456789" not in refusal.detail


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"text"', b"{", b'{"a": 1, "a": 1}', b"\xff"])
def test_not_a_json_object(raw: bytes) -> None:
    with pytest.raises(Refusal) as caught:
        parse_message(raw)
    assert caught.value.reason is ReasonCode.MALFORMED_JSON


def test_strict_types() -> None:
    document = _message()
    document["body"]["requested_months"] = "4"
    assert _refusal(document).reason is ReasonCode.SCHEMA_VIOLATION
