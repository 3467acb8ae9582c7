"""Hostile input against the pipeline's steps directly (no broker), on hypothesis data: every
message is either valid or refused with a named reason code; nothing else escapes (no crash, no
RecursionError, no UnicodeError)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.contract.agreements import load_agreements
from hub.contract.authenticate import Limits, authenticate
from hub.contract.errors import ReasonCode, Refusal
from hub.contract.messages import MESSAGE_TYPES, parse_document
from hub.contract.policy import load_policy
from hub.contract.registry import Registry
from hub.core.pipeline import (
    Inbound,
    Pipeline,
    PipelineSettings,
    Refuse,
    Route,
)
from hub.state.database import open_database
from hub.state.migrations import migrate
from hub.state.seen import MessageStore
from tests.helpers import amqp_id
from tests.hostile.specimens import (
    CATEGORIES,
    KINDS,
    LIMIT,
    Forge,
    Specimen,
    draw,
    encode,
    fixed,
    json_values,
    set_path,
)

FUZZ = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def user(registry: Registry, participant: str = "gm0193") -> str:
    found = registry.get(participant)
    assert found is not None
    return found.broker_user


def steps(raw: bytes, registry: Registry) -> ReasonCode | None:
    """Steps 1-5 as the pipeline runs them (the one :func:`authenticate`); the reason of the
    refusal, or None when it passes.
    Any other exception escapes and fails the test."""
    now = datetime.now(UTC)
    try:
        authenticate(raw, user(registry), registry, now, message_id=amqp_id(raw),
                     limits=Limits(max_message_bytes=LIMIT, clock_skew_seconds=300))
    except Refusal as refusal:
        assert isinstance(refusal.reason, ReasonCode)
        assert refusal.detail
        return refusal.reason
    return None


def judge(specimen: Specimen, registry: Registry) -> None:
    reason = steps(specimen.raw, registry)
    if specimen.routed:
        assert reason is None, f"{specimen}: refused with {reason}"
    else:
        assert reason in specimen.expect, f"{specimen}: got {reason}"


@pytest.mark.parametrize("category", sorted(CATEGORIES))
def test_hostile_messages_are_refused_with_their_reason(
    category: str, forge: Forge, registry: Registry
) -> None:
    @FUZZ
    @given(CATEGORIES[category])
    def check(recipe: Any) -> None:
        judge(recipe(forge), registry)

    check()


def test_fixed_hostile_cases(forge: Forge, registry: Registry) -> None:
    for specimen in fixed(forge):
        judge(specimen, registry)


@settings(FUZZ, max_examples=300)
@given(st.binary(max_size=4096))
def test_random_bytes_are_refused(registry: Registry, raw: bytes) -> None:
    assert steps(raw, registry) is not None


ENVELOPE_KEYS = sorted({path.split(".")[0] for path in KINDS} | {"id", "in_reply_to"})


@settings(FUZZ, max_examples=200)
@given(st.dictionaries(st.sampled_from(ENVELOPE_KEYS) | st.text(max_size=6), json_values,
                       max_size=14),
       st.sampled_from(MESSAGE_TYPES) | st.text(max_size=8))
def test_random_documents_are_refused(registry: Registry, document: dict[str, Any],
                                      type_name: str) -> None:
    document["type"] = type_name
    assert steps(encode(document), registry) is not None


PATHS = sorted(KINDS)


@settings(FUZZ, max_examples=200)
@given(st.sampled_from(PATHS), json_values, st.booleans())
def test_any_change_after_signing_is_refused(forge: Forge, registry: Registry, path: str,
                                             value: Any, sign_after: bool) -> None:
    """Put any value anywhere. Signed afterwards it may be valid; changed after signing it is
    refused unless the canonical form (RFC 8785, computed here with the library directly) is
    the same."""
    signed = forge.sign(forge.document())
    before = rfc8785.dumps({**signed, "signature": {"alg": "Ed25519",
                                                    "kid": signed["signature"]["kid"]}})
    changed = json.loads(json.dumps(signed))
    set_path(changed, path, value)
    if sign_after and not path.startswith("signature"):
        changed = forge.sign(changed)
    reason = steps(encode(changed), registry)
    if sign_after or path.startswith("signature"):
        return  # valid or refused: either way it did not crash
    after_signature = changed["signature"]
    unchanged = isinstance(after_signature, dict) and rfc8785.dumps(
        {**changed, "signature": {k: v for k, v in after_signature.items() if k != "value"}}
    ) == before
    assert unchanged or reason is not None, f"{path} = {value!r} was accepted"


async def test_the_whole_pipeline_refuses_hostile_messages_with_their_reason(
    forge: Forge, registry: Registry, tmp_path: Path
) -> None:
    """Pipeline.process end to end (steps 1-8, with a real state store) on every category."""
    db = await open_database(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    await migrate(db)
    pipeline = Pipeline(
        registry=registry, policy=load_policy(), agreements=load_agreements(),
        store=MessageStore(db), clock=lambda: datetime.now(UTC),
        settings=PipelineSettings(max_message_bytes=LIMIT, clock_skew_seconds=300))
    specimens = fixed(forge) + [recipe(forge) for strategy in CATEGORIES.values()
                                for recipe in draw(strategy, 25)]
    problems = []
    try:
        for specimen in specimens:
            outcome = await pipeline.process(Inbound(body=specimen.raw,
                                                     user_id=user(registry),
                                                     message_id=amqp_id(specimen.raw)))
            if specimen.routed:
                if not isinstance(outcome, Route) or outcome.recipient.id != "cjib":
                    problems.append(f"{specimen}: {outcome}")
                continue
            if not isinstance(outcome, Refuse) or outcome.reason not in specimen.expect:
                problems.append(f"{specimen}: {outcome}")
                continue
            assert outcome.notify is not None and outcome.notify.id == "gm0193"
            named = str(outcome.message_id) if outcome.message_id else None
            allowed = {specimen.message_id} if specimen.id_certain else {specimen.message_id,
                                                                          None}
            allowed.add(amqp_id(specimen.raw))  # unreadable bodies: named by the AMQP message_id
            if named not in allowed:
                problems.append(f"{specimen}: names {named}, not {specimen.message_id}")
    finally:
        await db.close()
    assert not problems, "\n".join(problems)
    print(f"\n{len(specimens)} hostile messages through Pipeline.process: each refused with "
          f"its reason ({sum(s.routed for s in specimens)} form-only variants routed)")


def test_an_integer_beyond_pythons_digit_limit_is_refused_as_malformed(forge: Forge) -> None:
    raw = encode(forge.sign(forge.document())).replace(
        b'"requested_months":4', b'"requested_months":' + b"4" * 5000)
    assert len(raw) < LIMIT
    with pytest.raises(Refusal) as refused:
        parse_document(raw)
    assert refused.value.reason is ReasonCode.MALFORMED_JSON
