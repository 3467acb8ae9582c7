"""Ed25519 over JCS (hub.contract.signing): round trip, every field covered, kid derivation."""

from __future__ import annotations

import base64
import copy
import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.contract.canonical import canonicalize
from hub.contract.errors import ReasonCode, Refusal
from hub.contract.messages import new_document, validate_document
from hub.contract.signing import (
    b64url,
    b64url_decode,
    kid_for,
    public_key_raw,
    sign_document,
    signing_input,
    verify_document,
)

Path = tuple[str | int, ...]


def _key(n: int) -> Ed25519PrivateKey:
    seed = hashlib.sha256(f"test-signing {n}".encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def _timeout_request() -> dict[str, Any]:
    return new_document(
        type="timeout.request", sender="gm0193", recipient="cjib", case_id="ZW-2026-0042",
        created_at=datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
        body={
            "bsn": "123456782",
            "references": {"cjib_payment_references": ["1234567890123456", "6543210987654321"]},
            "requested_from": "2026-12-01",
            "requested_months": 4,
            "reason_code": "livelihood_threatened",
            "scope": ["collection", "surcharges"],
            "debt_assistance_started": False,
        },
    )


def _leaves(value: Any, path: Path = ()) -> list[Path]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))]
    return [path]


def _changed(value: Any) -> Any:
    """A different value of the same JSON type (strings keep their length)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    assert isinstance(value, str) and value
    return ("B" if value[0] == "A" else "A") + value[1:]


def _set(document: dict[str, Any], path: Path, value: Any) -> None:
    target: Any = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


def _get(document: dict[str, Any], path: Path) -> Any:
    target: Any = document
    for step in path:
        target = target[step]
    return target


def test_round_trip() -> None:
    key = _key(1)
    signed = sign_document(_timeout_request(), key)
    verify_document(signed, public_key_raw(key.public_key()))
    assert signed["signature"]["alg"] == "Ed25519"
    assert signed["signature"]["kid"] == kid_for(public_key_raw(key.public_key()))
    assert len(signed["signature"]["value"]) == 86
    validate_document(signed)


def test_signing_does_not_change_the_input() -> None:
    document = _timeout_request()
    before = copy.deepcopy(document)
    sign_document(document, _key(1))
    assert document == before


def test_signing_input_is_jcs_without_the_value() -> None:
    signed = sign_document(_timeout_request(), _key(1))
    unsigned = copy.deepcopy(signed)
    del unsigned["signature"]["value"]
    assert signing_input(signed) == canonicalize(unsigned)
    assert b'"kid"' in signing_input(signed) and b'"value"' not in signing_input(signed)


def test_signatures_are_deterministic() -> None:
    document = _timeout_request()
    assert sign_document(document, _key(1)) == sign_document(document, _key(1))


_SIGNED = sign_document(_timeout_request(), _key(1))
_LEAVES = _leaves(_SIGNED)


def test_leaves_include_the_signature_fields() -> None:
    assert {("signature", "alg"), ("signature", "kid"), ("signature", "value")} <= set(_LEAVES)
    assert ("body", "references", "cjib_payment_references", 1) in _LEAVES


@pytest.mark.parametrize("path", _LEAVES, ids=lambda p: ".".join(map(str, p)))
def test_changing_any_field_breaks_the_signature(path: Path) -> None:
    document = copy.deepcopy(_SIGNED)
    _set(document, path, _changed(_get(document, path)))
    with pytest.raises(Refusal) as caught:
        verify_document(document, public_key_raw(_key(1).public_key()))
    assert caught.value.reason is ReasonCode.BAD_SIGNATURE


@pytest.mark.parametrize("path", [p for p in _LEAVES if p[0] != "signature"],
                         ids=lambda p: ".".join(map(str, p)))
def test_removing_any_field_breaks_the_signature(path: Path) -> None:
    document = copy.deepcopy(_SIGNED)
    container = _get(document, path[:-1])
    del container[path[-1]]
    with pytest.raises(Refusal):
        verify_document(document, public_key_raw(_key(1).public_key()))


def test_adding_a_field_breaks_the_signature() -> None:
    document = copy.deepcopy(_SIGNED)
    document["body"]["situation_summary"] = "extra"
    with pytest.raises(Refusal, match="does not verify"):
        verify_document(document, public_key_raw(_key(1).public_key()))


def test_another_key_does_not_verify() -> None:
    with pytest.raises(Refusal) as caught:
        verify_document(_SIGNED, public_key_raw(_key(2).public_key()))
    assert caught.value.reason is ReasonCode.BAD_SIGNATURE


def test_missing_signature() -> None:
    document = copy.deepcopy(_SIGNED)
    del document["signature"]["value"]
    with pytest.raises(Refusal) as caught:
        verify_document(document, public_key_raw(_key(1).public_key()))
    assert caught.value.reason is ReasonCode.MISSING_SIGNATURE
    del document["signature"]
    with pytest.raises(Refusal) as caught:
        signing_input(document)
    assert caught.value.reason is ReasonCode.MISSING_SIGNATURE


def test_kid_is_base64url_of_the_first_16_bytes_of_sha256() -> None:
    raw = public_key_raw(_key(1).public_key())
    expected = base64.urlsafe_b64encode(hashlib.sha256(raw).digest()[:16]).decode().rstrip("=")
    assert kid_for(raw) == expected
    assert len(expected) == 22 and "=" not in expected
    assert kid_for(public_key_raw(_key(2).public_key())) != expected


def test_b64url_round_trip_and_refusals() -> None:
    for data in (b"", b"\x00", b"\xff\xfe", bytes(range(64))):
        encoded = b64url(data)
        assert "=" not in encoded and "+" not in encoded and "/" not in encoded
        assert b64url_decode(encoded) == data
    for bad in ("ab+c", "ab/c", "abc=", "\u00e9"):
        with pytest.raises(ValueError):
            b64url_decode(bad)
