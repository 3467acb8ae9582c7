"""The test vectors: signed valid messages, refusals with their expected reason, JCS examples."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from hub.contract.canonical import canonicalize
from hub.contract.errors import ReasonCode
from hub.contract.messages import Purpose, new_document, utc_iso
from hub.contract.schemas.common import GENERATED, SIGNATURE_RULE, Files, json_bytes, yaml_bytes
from hub.contract.schemas.vector_keys import (
    CREATED,
    KEY1,
    KEY2,
    KEY2_REVOKED_AT,
    KEY3,
    KEY4,
    KEY_NOT_BEFORE,
    SKEW_SECONDS,
    VERIFY_DELAY,
    TestKey,
    keys_file,
    vector_registry,
)
from hub.contract.signing import b64url, sign_document, signing_input


def _fixed_id(n: int) -> UUID:
    return UUID(f"00000000-0000-4000-8000-{n:012d}")


def _document(
    type_name: str, *, n: int, sender: str, recipient: str, body: dict[str, Any],
    conversation: int, created: datetime = CREATED, in_reply_to: int | None = None,
    purpose: Purpose | None = None, case_id: str = "ZW-2026-0042",
) -> dict[str, Any]:
    document = new_document(
        type=type_name, sender=sender, recipient=recipient, case_id=case_id, body=body,
        purpose=purpose, conversation_id=_fixed_id(conversation),
        in_reply_to=None if in_reply_to is None else _fixed_id(in_reply_to), created_at=created,
    )
    document["id"] = str(_fixed_id(n))
    return document


def _timeout_request(n: int = 1, created: datetime = CREATED, bsn: str = "123456782") -> Any:
    return _document(
        "timeout.request", n=n, sender="gm0193", recipient="cjib", conversation=101,
        created=created,
        body={
            "bsn": bsn,
            "references": {"cjib_payment_references": ["1234567890123456"]},
            "requested_from": "2026-12-01",
            "requested_months": 4,
            "reason_code": "debt_assistance_started",
            "scope": ["collection", "surcharges"],
            "debt_assistance_started": True,
        },
    )


def _valid_documents() -> list[tuple[str, str, TestKey, dict[str, Any]]]:
    """(file stem, description, signing key, unsigned document) of every valid vector."""
    response_created = CREATED + timedelta(minutes=30)
    return [
        ("01-timeout.request", "Municipality gm0193 asks CJIB for a time-out (key1).", KEY1,
         _timeout_request()),
        ("02-timeout.response", "CJIB accepts the time-out (key4); in_reply_to names 01.", KEY4,
         _document(
             "timeout.response", n=2, sender="cjib", recipient="gm0193", conversation=101,
             in_reply_to=1, created=response_created,
             body={
                 "outcome": "accepted",
                 "effective_from": "2026-12-01",
                 "effective_until": "2027-03-31",
                 "paused_scope": ["collection", "surcharges"],
                 "contact": {
                     "name": "Maatwerkfunctionaris CJIB",
                     "email": "maatwerk@cjib.example",
                     "phone": "+31 58 000 0006",
                 },
             },
         )),
        ("03-escalation.request",
         "gm0193 escalates to the Maatwerkloket (key1); free text with non-ASCII characters, a "
         "quote and a newline exercises JCS string escaping.", KEY1,
         _document(
             "escalation.request", n=3, sender="gm0193", recipient="loket", conversation=103,
             case_id="ZW-2026-0043",
             body={
                 "bsn": "111222333",
                 "municipality": "GM0193",
                 "problem_areas": ["debts", "allowances", "housing"],
                 "agencies_involved": ["belastingdienst", "cjib"],
                 "urgency": "urgent",
                 "situation_summary": (
                     "Huurachterstand van €1.250; \"noodstop\" bij CJIB loopt.\n"
                     "Overleg met café-eigenaar — werkgever — gepland."
                 ),
                 "contact": {
                     "name": "Maatwerkfunctionaris Zwolle",
                     "email": "maatwerk@zwolle.example",
                     "phone": "+31 38 000 0007",
                 },
             },
         )),
        ("04-receipt", "gm0193 confirms it durably took CJIB's response 02 (key1).", KEY1,
         _document(
             "receipt", n=4, sender="gm0193", recipient="cjib", conversation=101, in_reply_to=2,
             purpose=Purpose.TIMEOUT, created=response_created + timedelta(seconds=2),
             body={"received_at": "2026-11-23T10:30:01.250Z"},
         )),
    ]


def _verify_at(document: dict[str, Any]) -> str:
    created = datetime.fromisoformat(document["created_at"])
    return utc_iso(created + VERIFY_DELAY)


def _valid_vector(description: str, key: TestKey, document: dict[str, Any]) -> dict[str, Any]:
    signed = sign_document(document, key.private)
    signed_bytes = signing_input(signed)
    return {
        "description": description,
        "message": signed,
        "signing_input": signed_bytes.decode("utf-8"),
        "signing_input_sha256": hashlib.sha256(signed_bytes).hexdigest(),
        "signature": signed["signature"]["value"],
        "public_key": b64url(key.public_raw),
        "kid": key.kid,
        "key": key.name,
        "verify_at": _verify_at(signed),
    }


def _sign_claiming(document: dict[str, Any], key: TestKey, claimed_kid: str) -> dict[str, Any]:
    """Sign with ``key`` while ``signature.kid`` names another key (the kid is signed too)."""
    signed = copy.deepcopy(document)
    signed["signature"] = {"alg": "Ed25519", "kid": claimed_kid}
    signed["signature"]["value"] = b64url(key.private.sign(signing_input(signed)))
    return signed


def _invalid_vectors() -> list[tuple[str, dict[str, Any]]]:
    """(file stem, vector) of every invalid vector."""
    verify_at = utc_iso(CREATED + VERIFY_DELAY)
    tampered = sign_document(_timeout_request(n=11), KEY1.private)
    tampered["body"]["requested_months"] = 12
    expired_created = datetime(2026, 10, 1, 10, 0, tzinfo=UTC)
    early_created = datetime(2025, 12, 15, 10, 0, tzinfo=UTC)
    unknown_type = _timeout_request(n=19)
    unknown_type["type"] = "timeout.pause"
    cases: list[tuple[str, str, dict[str, Any], str, ReasonCode]] = [
        ("01-tampered-field",
         "Signed with key1, then body.requested_months changed from 4 to 12.",
         tampered, verify_at, ReasonCode.BAD_SIGNATURE),
        ("02-wrong-key",
         "signature.kid names key1 of gm0193, but the value was made with key3.",
         _sign_claiming(_timeout_request(n=12), KEY3, KEY1.kid), verify_at,
         ReasonCode.BAD_SIGNATURE),
        ("03-unknown-key",
         "Correctly signed with key3, which is not registered for gm0193.",
         sign_document(_timeout_request(n=13), KEY3.private), verify_at,
         ReasonCode.UNKNOWN_KEY),
        ("04-revoked-key",
         f"Correctly signed with key2 of gm0193, revoked at {KEY2_REVOKED_AT}.",
         sign_document(_timeout_request(n=14), KEY2.private), verify_at,
         ReasonCode.KEY_REVOKED),
        ("05-expired",
         "Correctly signed with key1, but verify_at is after expires_at.",
         sign_document(_timeout_request(n=15, created=expired_created), KEY1.private),
         verify_at, ReasonCode.EXPIRED),
        ("06-bad-bsn",
         "BSN 123456789 fails the elfproef; signed after the change, so only the schema fails.",
         sign_document(_timeout_request(n=16, bsn="123456789"), KEY1.private), verify_at,
         ReasonCode.SCHEMA_VIOLATION),
        ("07-key-not-valid",
         f"Signed with key1, but created_at lies before the key's not_before {KEY_NOT_BEFORE}.",
         sign_document(_timeout_request(n=17, created=early_created), KEY1.private),
         utc_iso(early_created + VERIFY_DELAY), ReasonCode.KEY_NOT_VALID),
        ("08-clock-skew",
         f"created_at lies 10 minutes after verify_at; more than the {SKEW_SECONDS} s allowed.",
         sign_document(_timeout_request(n=18), KEY1.private),
         utc_iso(CREATED - timedelta(minutes=10)), ReasonCode.CLOCK_SKEW),
        ("09-unknown-type",
         "type 'timeout.pause' is not a message type (signed after the change).",
         sign_document(unknown_type, KEY1.private), verify_at, ReasonCode.UNKNOWN_TYPE),
    ]
    return [
        (stem, {"description": description, "message": message, "verify_at": at,
                "expected_reason": reason.value})
        for stem, description, message, at, reason in cases
    ]


CANONICALIZATION_CASES: tuple[tuple[str, str], ...] = (
    ("RFC 8785 section 3.2.2: numbers, escapes and literals",
     '{\n  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],\n'
     '  "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",\n'
     '  "literals": [null, true, false]\n}'),
    ("RFC 8785 section 3.2.3: property sorting by UTF-16 code units",
     '{\n  "\\u20ac": "Euro Sign",\n  "\\r": "Carriage Return",\n'
     '  "\\ufb33": "Hebrew Letter Dalet With Dagesh",\n  "1": "One",\n'
     '  "\\ud83d\\ude00": "Emoji: Grinning Face",\n  "\\u0080": "Control",\n'
     '  "\\u00f6": "Latin Small Letter O With Diaeresis"\n}'),
    ("Numbers in ECMAScript form (RFC 8785 section 3.2.2.3 and appendix B)",
     "[0, -0, 0.0, -0.0, 1, -1, 1.0, 1.5, 4.35, 0.1, 1e21, 1e20, 1E-7, 0.000001, 5e-324, "
     "1.7976931348623157e308, 9007199254740991, -9007199254740991, 333333333.3333332, 1e23]"),
    ("Control characters are escaped; U+007F, U+2028 and non-ASCII stay literal",
     '"\\u00e9\\u2028\\t\\b\\f\\u001f\\u007f\\n\\r"'),
    ("Nesting, empty containers, whitespace removed, keys sorted at every level",
     '{ "b" : [ ] , "a" : { } , "c" : [ { "z" : 1 , "y" : null } , "x" ] , "A" : true }'),
)


def _canonicalization() -> dict[str, Any]:
    cases = []
    for name, text in CANONICALIZATION_CASES:
        canonical = canonicalize(json.loads(text))
        cases.append({
            "name": name,
            "input_json_text": text,
            "canonical": canonical.decode("utf-8"),
            "canonical_utf8_hex": canonical.hex(),
        })
    return {
        "description": (
            "Parse input_json_text with your JSON parser, canonicalise it with your RFC 8785 "
            "implementation and compare the UTF-8 bytes with canonical_utf8_hex."
        ),
        "cases": cases,
    }


_VECTORS_README = """\
# Test vectors for the Maatwerk Hub message contract

{generated}

These files let a team in any language check its JSON canonicalisation (RFC 8785, JCS), its
Ed25519 signing and its refusal reasons against the hub, using nothing but these files.

## Files

- `keys.json`: fixed Ed25519 test keys. `seed_hex` is the 32-byte private seed
  (SHA-256 of `seed_text`), `private_key_pkcs8_pem` the same key as PKCS#8 PEM, `public_key`
  the raw 32-byte public key in base64url without padding, `kid` its key id. Test keys only.
- `registry.yaml`: the participant registry the vectors are checked against (schema:
  `../json/registry.schema.json`). gm0193 has key1 (valid) and key2 (revoked
  {revoked_at}); cjib has key4; key3 is registered for nobody.
- `canonicalization.json`: JCS examples (including the published RFC 8785 examples).
- `valid/NN-<type>.json`: signed messages that must verify.
- `invalid/NN-<case>.json`: messages that must be refused with `expected_reason`.

## The signature rule

{signature_rule}

## How to check your implementation

1. **Canonicalisation.** For each case in `canonicalization.json`, parse `input_json_text`,
   canonicalise it and compare your UTF-8 bytes with `canonical_utf8_hex` (`canonical` is the
   same text, for reading).
2. **Signing input.** For each file in `valid/`: take `message`, remove `signature.value` (keep
   `signature.alg` and `signature.kid`), canonicalise the whole object and compare the bytes with
   `signing_input` (UTF-8) and their SHA-256 with `signing_input_sha256`.
3. **Verification.** Decode `signature` (base64url, no padding, 64 bytes) and `public_key`
   (32 bytes) and verify the Ed25519 signature over the signing input. Check that `kid` equals
   base64url(SHA-256(public key)[:16]) without padding, and equals `message.signature.kid`.
4. **Signing.** Load the key named by `key` from `keys.json` (seed or PEM), sign the signing
   input yourself and compare with `signature`: Ed25519 is deterministic, so the bytes are equal.
5. **Refusals.** For each file in `invalid/`, run your full check at the moment `verify_at`
   with a clock-skew allowance of {skew} seconds, using `registry.yaml`, in this order, and
   compare the first failure with `expected_reason`:
   1. the message validates against `../json/<type>.schema.json` plus the rules in its
      description (an unknown `type` gives `unknown_type`; anything else `schema_violation`);
   2. the key `signature.kid` is registered for `sender` (`unknown_key`), not revoked at
      `verify_at` (`key_revoked`) and valid at `created_at` (`key_not_valid`);
   3. the signature verifies with that key (`bad_signature`);
   4. `verify_at` is before `expires_at` (`expired`) and `created_at` is at most {skew}
      seconds after `verify_at` (`clock_skew`).
   Every file in `valid/` passes all of these at its `verify_at`.

The hub itself runs the same checks in `hub.verify.verify_message`; its test suite
(`tests/unit/test_vectors.py`) runs every file here.
"""

def vector_files() -> Files:
    prefix = "test-vectors/"
    files: Files = {
        f"{prefix}README.md": _VECTORS_README.format(
            generated=GENERATED, revoked_at=KEY2_REVOKED_AT, signature_rule=SIGNATURE_RULE,
            skew=SKEW_SECONDS,
        ).encode("utf-8"),
        f"{prefix}keys.json": json_bytes(keys_file()),
        f"{prefix}registry.yaml": yaml_bytes(vector_registry(), GENERATED),
        f"{prefix}canonicalization.json": json_bytes(_canonicalization(), ascii_only=True),
    }
    for stem, description, key, document in _valid_documents():
        files[f"{prefix}valid/{stem}.json"] = json_bytes(_valid_vector(description, key, document))
    for stem, vector in _invalid_vectors():
        files[f"{prefix}invalid/{stem}.json"] = json_bytes(vector)
    return files

