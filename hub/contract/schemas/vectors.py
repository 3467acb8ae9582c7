"""The test vectors: signed valid messages, refusals with their expected reason, JCS examples."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import yaml

from hub.contract.canonical import canonicalize
from hub.contract.errors import ReasonCode
from hub.contract.messages import Purpose, utc_iso
from hub.contract.registry import strip_extensions
from hub.contract.schemas.common import GENERATED, Files, json_bytes, yaml_bytes
from hub.contract.schemas.readmes import vectors_readme
from hub.contract.schemas.vector_keys import (
    CREATED,
    KEY1,
    KEY2,
    KEY2_REVOKED_AT,
    KEY3,
    KEY4,
    KEY7,
    KEY_NOT_BEFORE,
    SKEW_SECONDS,
    VERIFY_DELAY,
    TestKey,
    keys_file,
    vector_registry,
)
from hub.contract.schemas.vector_messages import (
    document,
    fixed_id,
    hub_documents,
    timeout_request,
    timeout_response_body,
    valid_documents,
)
from hub.contract.schemas.vector_rules import rule_invalid_documents, rule_valid_documents
from hub.contract.signing import b64url, sign_document, signing_input


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


def _invalid_cases() -> list[tuple[str, str, dict[str, Any] | str, str, ReasonCode]]:
    verify_at = utc_iso(CREATED + VERIFY_DELAY)
    tampered = sign_document(timeout_request(n=11), KEY1.private)
    tampered["body"]["requested_months"] = 12
    expired_created = datetime(2026, 10, 1, 10, 0, tzinfo=UTC)
    early_created = datetime(2025, 12, 15, 10, 0, tzinfo=UTC)
    unknown_type = timeout_request(n=19)
    unknown_type["type"] = "timeout.pause"

    def signed(doc: dict[str, Any], key: TestKey = KEY1) -> dict[str, Any]:
        return sign_document(doc, key.private)

    def request(n: int, **body: Any) -> dict[str, Any]:
        return signed(timeout_request(n=n, **body))

    def changed(doc: dict[str, Any], **envelope: Any) -> dict[str, Any]:
        return {**doc, **envelope}

    answer = fixed_id(1)
    response = document("timeout.response", id=fixed_id(42), sender="cjib", recipient="gm0193",
                        conversation=101, in_reply_to=answer, created=CREATED,
                        body={"outcome": "accepted"})
    until_before = document(
        "timeout.response", id=fixed_id(43), sender="cjib", recipient="gm0193",
        conversation=101, in_reply_to=answer, created=CREATED,
        body=timeout_response_body(effective_until="2026-11-30"))
    declined = document("timeout.response", id=fixed_id(44), sender="cjib", recipient="gm0193",
                        conversation=101, in_reply_to=answer, created=CREATED,
                        body={"outcome": "declined"})
    backwards = timeout_request(n=45)
    backwards["expires_at"] = utc_iso(CREATED - timedelta(minutes=1))
    too_long = timeout_request(n=50)
    too_long["expires_at"] = utc_iso(CREATED + timedelta(days=31))
    to_self = timeout_request(n=48)
    to_self["recipient"] = "gm0193"
    unknown_sender = timeout_request(n=52)
    unknown_sender["sender"] = "gm9999"
    bridging = document("bridging.decision", id=fixed_id(53), sender="gm0193",
                        recipient="loket", conversation=153, body={
                            "loket_reference": "MWL-1", "decision": "prefinance",
                            "amount_cents": 100, "creditor_kind": "other",
                            "referred_to_let": False})
    answer_to_loket = document(
        "register.answer", id=fixed_id(55), sender="hub", recipient="loket", conversation=155,
        in_reply_to=fixed_id(54), purpose=Purpose.COORDINATION, body={"entries": []})
    other_ground = document("info.request", id=fixed_id(60), sender="gm0193", recipient="cjib",
                            conversation=160, body={
                                "bsn": "123456782", "purpose_code": "timeout_preparation",
                                "legal_ground": "wgs-schuldhulp",
                                "fields": ["debt_total_cents"]})
    duplicate_key = json.dumps(signed(timeout_request(n=51)), ensure_ascii=False)
    duplicate_key = duplicate_key.replace('"type": ', '"type": "timeout.request", "type": ', 1)
    r = ReasonCode
    return [
        ("01-tampered-field",
         "Signed with key1, then body.requested_months changed from 4 to 12.",
         tampered, verify_at, r.BAD_SIGNATURE),
        ("02-wrong-key",
         "signature.kid names key1 of gm0193, but the value was made with key3.",
         _sign_claiming(timeout_request(n=12), KEY3, KEY1.kid), verify_at, r.BAD_SIGNATURE),
        ("03-unknown-key", "Correctly signed with key3, which is not registered for gm0193.",
         signed(timeout_request(n=13), KEY3), verify_at, r.UNKNOWN_KEY),
        ("04-revoked-key", f"Correctly signed with key2 of gm0193, revoked at {KEY2_REVOKED_AT}.",
         signed(timeout_request(n=14), KEY2), verify_at, r.KEY_REVOKED),
        ("05-expired", "Correctly signed with key1, but verify_at is after expires_at.",
         signed(timeout_request(n=15, created=expired_created)), verify_at, r.EXPIRED),
        ("06-bad-bsn",
         "BSN 123456789 fails the elfproef (listed rule bsn-elfproef); signed after the change.",
         request(16, bsn="123456789"), verify_at, r.SCHEMA_VIOLATION),
        ("07-key-not-valid",
         f"Signed with key1, but created_at lies before the key's not_before {KEY_NOT_BEFORE}.",
         signed(timeout_request(n=17, created=early_created)),
         utc_iso(early_created + VERIFY_DELAY), r.KEY_NOT_VALID),
        ("08-clock-skew",
         f"created_at lies 10 minutes after verify_at; more than the {SKEW_SECONDS} s allowed.",
         signed(timeout_request(n=18)), utc_iso(CREATED - timedelta(minutes=10)), r.CLOCK_SKEW),
        ("09-unknown-type", "type 'timeout.pause' is not a message type (signed after the change).",
         signed(unknown_type), verify_at, r.UNKNOWN_TYPE),
        ("42-timeout.response-accepted-without-dates",
         "An accepted time-out without effective_from, effective_until, paused_scope (if/then).",
         signed(response, KEY4), verify_at, r.SCHEMA_VIOLATION),
        ("43-timeout.response-until-before-from",
         "effective_until lies before effective_from (listed rule "
         "effective-until-not-before-from).", signed(until_before, KEY4), verify_at,
         r.SCHEMA_VIOLATION),
        ("44-timeout.response-declined-without-reason",
         "A declined time-out without reason_code (if/then).", signed(declined, KEY4), verify_at,
         r.SCHEMA_VIOLATION),
        ("45-expires-before-created",
         "expires_at lies before created_at (listed rule expires-after-created).",
         signed(backwards), verify_at, r.SCHEMA_VIOLATION),
        ("46-bsn-zeros", "BSN 000000000 passes the elfproef arithmetic but is no BSN (not const).",
         request(46, bsn="000000000"), verify_at, r.SCHEMA_VIOLATION),
        ("47-case-id-digits", "case_id holds a run of 8 digits (not pattern).",
         signed(changed(timeout_request(n=47), case_id="ZW-12345678")), verify_at,
         r.SCHEMA_VIOLATION),
        ("48-sender-is-recipient",
         "gm0193 sends to itself (listed rule sender-not-recipient).", signed(to_self),
         verify_at, r.SCHEMA_VIOLATION),
        ("49-integer-with-fraction", "requested_months 4.5 is not an integer.",
         request(49, requested_months=4.5), verify_at, r.SCHEMA_VIOLATION),
        ("50-lifetime-exceeded",
         "expires_at 31 days after created_at; the agreed maximum is 30 days (listed rule "
         "max-lifetime).", signed(too_long), verify_at, r.LIFETIME_EXCEEDED),
        ("51-duplicate-key",
         "message_text repeats the key 'type': not a JSON text the hub accepts.",
         duplicate_key, verify_at, r.MALFORMED_JSON),
        ("52-unknown-sender", "sender gm9999 is not in the registry (signed with key1).",
         signed(unknown_sender), verify_at, r.UNKNOWN_SENDER),
        ("53-unauthorised-type", "gm0193 may not send bridging.decision (registry: sends).",
         signed(bridging), verify_at, r.UNAUTHORISED_TYPE),
        ("54-unauthorised-recipient", "loket does not receive timeout.request (registry).",
         request(54, recipient="loket"), verify_at, r.UNAUTHORISED_RECIPIENT),
        ("55-policy-no-rule",
         "No policy rule lets register.answer reach the loket (deny by default).",
         signed(answer_to_loket, KEY7), verify_at, r.POLICY_NO_RULE),
        ("56-policy-field-not-allowed",
         "A time-out request to DUO with CJIB's payment references: rule timeout-request-duo "
         "does not allow /body/references/cjib_payment_references.",
         request(56, recipient="duo"), verify_at, r.POLICY_FIELD_NOT_ALLOWED),
        ("57-policy-special-category",
         "A time-out request to CJIB with health_context: refused, never stripped.",
         request(57, health_context="In behandeling bij de GGZ."), verify_at,
         r.POLICY_SPECIAL_CATEGORY),
        ("58-timeout-rule", "12 months asked of CJIB, whose noodstop lasts at most 4 (+8).",
         request(58, requested_months=12, debt_assistance_started=False), verify_at,
         r.TIMEOUT_RULE),
        ("59-oversize",
         f"A valid message of more than max_message_bytes ({OVERSIZE_LIMIT}) bytes as "
         "message_text.", json.dumps(request(59, situation_summary="x" * OVERSIZE_LIMIT)),
         verify_at, r.OVERSIZE),
        ("60-policy-legal-ground",
         "An info.request to CJIB naming legal ground wgs-schuldhulp; information rule "
         "info-timeout-preparation-cjib rests on pmm-afstemming.", signed(other_ground),
         verify_at, r.POLICY_LEGAL_GROUND),
        *[(stem, text, signed(doc, key), verify_at, r.SCHEMA_VIOLATION)
          for stem, text, key, doc in rule_invalid_documents()],
    ]


OVERSIZE_LIMIT = 2048  # the oversize vector's own limit; the hub's default is 256 KiB
# Reasons a check needs the registry's sends/receives, the policy or the agreements for: they
# come from the pipeline (steps 7 and 8), after steps 1-6.
PIPELINE_REASONS = frozenset({
    ReasonCode.UNAUTHORISED_TYPE, ReasonCode.UNAUTHORISED_RECIPIENT, ReasonCode.POLICY_NO_RULE,
    ReasonCode.POLICY_FIELD_NOT_ALLOWED, ReasonCode.POLICY_SPECIAL_CATEGORY,
    ReasonCode.TIMEOUT_RULE, ReasonCode.LIFETIME_EXCEEDED, ReasonCode.POLICY_LEGAL_GROUND,
})


def _invalid_vectors() -> list[tuple[str, dict[str, Any]]]:
    """(file stem, vector) of every invalid vector."""
    result = []
    for stem, description, message, at, reason in _invalid_cases():
        vector: dict[str, Any] = {"description": description}
        vector["message" if isinstance(message, dict) else "message_text"] = message
        vector["verify_at"] = at
        vector["expected_reason"] = reason.value
        vector["step"] = "pipeline" if reason in PIPELINE_REASONS else "verify"
        if reason is ReasonCode.OVERSIZE:
            vector["max_message_bytes"] = OVERSIZE_LIMIT
        result.append((stem, vector))
    return result


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


WITHOUT_RULE = "register-answer-loket"


def vector_policy() -> dict[str, Any]:
    """The default policy less one rule, so that policy_no_rule has a vector (with the default
    policy every pair the registry allows has a rule)."""
    text = resources.files("hub.contract.defaults").joinpath("policy.yaml").read_text("utf-8")
    policy = strip_extensions(yaml.safe_load(text))
    policy["version"] = f"{policy['version']}-vectors"
    policy["rules"] = [r for r in policy["rules"] if r["id"] != WITHOUT_RULE]
    return dict(policy)


def vector_files() -> Files:
    prefix = "test-vectors/"
    defaults = resources.files("hub.contract.defaults")
    files: Files = {
        f"{prefix}README.md": vectors_readme().encode("utf-8"),
        f"{prefix}keys.json": json_bytes(keys_file()),
        f"{prefix}registry.yaml": yaml_bytes(vector_registry(), GENERATED),
        f"{prefix}policy.yaml": yaml_bytes(vector_policy(), GENERATED),
        f"{prefix}agreements.yaml": defaults.joinpath("agreements.yaml").read_bytes(),
        f"{prefix}canonicalization.json": json_bytes(_canonicalization(), ascii_only=True),
    }
    for stem, description, key, doc in (valid_documents() + rule_valid_documents()
                                        + hub_documents()):
        files[f"{prefix}valid/{stem}.json"] = json_bytes(_valid_vector(description, key, doc))
    for stem, vector in _invalid_vectors():
        files[f"{prefix}invalid/{stem}.json"] = json_bytes(vector)
    return files
