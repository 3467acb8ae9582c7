"""The routing core against the real broker: one happy path, every refusal, duplicates."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from adapters.sdk import HubClient
from hub.contract import names
from hub.contract.keys import public_entry
from hub.contract.notary import encode
from hub.contract.registry import Registry, RegistryDocument
from hub.contract.signing import sign_document
from hub.service import HubService
from tests.conftest import ClientFactory, amqp_url
from tests.helpers import BSN, collect, drain, timeout_request_body, wait_for

pytestmark = [pytest.mark.broker]


NOTICES = ("notice.refused", "notice.duplicate")


async def test_timeout_request_reaches_cjib_unchanged_and_verifiable(
    hub: HubService, client: ClientFactory
) -> None:
    gm, cjib = await client("gm0193"), await client("cjib")
    inbox = await collect(cjib)
    document = gm.message(type="timeout.request", recipient="cjib", case_id="ZW-2026-0042",
                          body=timeout_request_body("cjib"))
    signed = gm.sign(document)
    await gm.publish_raw(signed, message_id=document["id"])
    await wait_for(lambda: len(inbox) == 1)
    delivery = inbox[0]
    assert delivery.raw == signed  # byte for byte what the municipality signed
    assert delivery.envelope.sender == "gm0193"
    assert str(delivery.envelope.id) == document["id"]
    assert delivery.envelope.body.references.cjib_payment_references == ["1234567890123456"]
    record = await hub.router.store.get(delivery.envelope.id)
    assert record is not None and record.status in ("routed", "delivered")
    assert record.policy_version == hub.policy.version
    for _ in range(100):  # CJIB's SDK sends a signed receipt by itself: routed -> delivered
        record = await hub.router.store.get(delivery.envelope.id)
        if record is not None and record.status == "delivered":
            break
        await asyncio.sleep(0.05)
    assert record is not None and record.status == "delivered"


def _tamper(raw: bytes) -> bytes:
    doc = json.loads(raw)
    doc["body"]["requested_months"] = 3
    return json.dumps(doc).encode()


def _resign(doc: dict[str, Any], key: Ed25519PrivateKey) -> bytes:
    return encode(sign_document(doc, key))


STRANGER = Ed25519PrivateKey.generate()

# Each case: (name, build(gm client) -> (bytes, publish user_id or "" for own), expected reason).
CASES: list[tuple[str, str]] = [
    ("malformed", "malformed_json"),
    ("unknown_type", "unknown_type"),
    ("schema", "schema_violation"),
    ("oversize", "oversize"),
    ("mismatched_user", "user_id_mismatch"),
    ("bad_signature", "bad_signature"),
    ("unknown_key", "unknown_key"),
    ("expired", "expired"),
    ("unauthorised_type", "unauthorised_type"),
    ("unauthorised_recipient", "unauthorised_recipient"),
    ("disallowed_field", "policy_field_not_allowed"),
    ("special_category", "policy_special_category"),
]


async def build_case(name: str, gm: HubClient) -> bytes:
    def msg(**kw: Any) -> dict[str, Any]:
        base: dict[str, Any] = {"type": "timeout.request", "recipient": "cjib",
                                "case_id": "ZW-2026-0042", "body": timeout_request_body("cjib")}
        base.update(kw)
        return gm.message(**base)

    if name == "malformed":
        return b'{"id": "not json'
    if name == "unknown_type":
        doc = msg()
        doc["type"] = "timeout.pause"
        return gm.sign(doc)
    if name == "schema":
        return gm.sign(msg(body=timeout_request_body("cjib", bsn="123456789")))
    if name == "oversize":
        return gm.sign(msg(body=timeout_request_body("cjib"))) + b" " * (300 * 1024)
    if name == "mismatched_user":
        doc = msg()
        doc["sender"] = "gm0363"
        return gm.sign(doc)
    if name == "bad_signature":
        return _tamper(gm.sign(msg()))
    if name == "unknown_key":
        return _resign(msg(), STRANGER)
    if name == "expired":
        doc = msg(ttl=timedelta(milliseconds=300))
        await asyncio.sleep(0.5)
        return gm.sign(doc)
    if name == "unauthorised_type":
        return gm.sign(gm.message(type="timeout.response", recipient="cjib", case_id="ZW-1",
                                  in_reply_to=uuid.uuid4(),
                                  body={"outcome": "declined", "reason_code": "other"}))
    if name == "unauthorised_recipient":
        return gm.sign(msg(recipient="let"))
    if name == "disallowed_field":
        body = timeout_request_body("cjib")
        body["references"]["duo_debt_numbers"] = ["DUO-77341"]
        return gm.sign(msg(body=body))
    if name == "special_category":
        return gm.sign(msg(body=timeout_request_body("cjib", health_context="burn-out, GGZ")))
    raise AssertionError(name)


@pytest.mark.parametrize(("case", "reason"), CASES, ids=[c for c, _ in CASES])
async def test_refusal_notifies_sender_and_dead_letters(
    case: str, reason: str, hub: HubService, client: ClientFactory, vhost: str
) -> None:
    gm, cjib = await client("gm0193"), await client("cjib")
    notices, cjib_inbox = await collect(gm, *NOTICES), await collect(cjib)
    raw = await build_case(case, gm)
    await gm.publish_raw(raw)
    await wait_for(lambda: len(notices) == 1)
    notice = notices[0].envelope
    assert notice.type == "notice.refused" and notice.sender == "hub"
    assert notice.body.reason_code.value == reason
    assert BSN not in notices[0].raw.decode()  # the notice never repeats personal data
    dead = await drain(amqp_url("guest", "guest", vhost), names.DEAD_LETTER_QUEUE, 1)
    assert len(dead) == 1 and dead[0].body == raw
    assert dead[0].headers[names.HEADER_REASON] == reason
    assert cjib_inbox == []
    if reason.startswith("policy_"):
        assert notice.body.rule and notice.body.field_paths
        assert notice.body.policy_version == hub.policy.version
    assert hub.metrics.refused.labels(reason)._value.get() == 1


async def test_missing_user_id_is_only_dead_lettered(
    hub: HubService, client: ClientFactory, vhost: str
) -> None:
    gm = await client("gm0193")
    notices = await collect(gm, *NOTICES)
    doc = gm.message(type="timeout.request", recipient="cjib", case_id="ZW-1",
                     body=timeout_request_body("cjib"))
    await gm.publish_raw(gm.sign(doc), user_id=None)
    dead = await drain(amqp_url("guest", "guest", vhost), names.DEAD_LETTER_QUEUE, 1)
    assert dead[0].headers[names.HEADER_REASON] == "missing_user_id"
    await asyncio.sleep(0.3)
    assert notices == []  # nobody to tell: a claimed sender is never notified


async def test_revoked_key_is_refused(
    hub_settings: Any, registry: Registry, client: ClientFactory
) -> None:
    revoked = Ed25519PrivateKey.generate()
    now = datetime.now(UTC)
    entry = public_entry(revoked, not_before=now - timedelta(days=1)).model_copy(
        update={"revoked_at": now - timedelta(minutes=1)})
    participants = [
        p.model_copy(update={"keys": [*p.keys, entry]}) if p.id == "gm0193" else p
        for p in registry.document.participants
    ]
    with_revoked = Registry(RegistryDocument(version="t", participants=participants))
    service = HubService(hub_settings, registry=with_revoked)
    await service.start()
    try:
        gm = await client("gm0193")
        notices = await collect(gm, *NOTICES)
        doc = gm.message(type="timeout.request", recipient="cjib", case_id="ZW-1",
                         body=timeout_request_body("cjib"))
        await gm.publish_raw(_resign(doc, revoked))
        await wait_for(lambda: len(notices) == 1)
        assert notices[0].envelope.body.reason_code.value == "key_revoked"
    finally:
        await service.stop()


@pytest.fixture
async def hub_on_backend(
    hub_settings: Any, registry: Registry, state_url: str
) -> AsyncIterator[HubService]:
    """The hub on SQLite and on PostgreSQL state (the test runs once on each)."""
    service = HubService(hub_settings.replace(state_url=state_url), registry=registry)
    await service.start()
    yield service
    await service.stop()


async def test_duplicate_is_routed_once_and_answered_with_original_outcome(
    hub_on_backend: HubService, client: ClientFactory
) -> None:
    hub = hub_on_backend
    gm, cjib = await client("gm0193"), await client("cjib")
    notices, inbox = await collect(gm, *NOTICES), await collect(cjib)
    doc = gm.message(type="timeout.request", recipient="cjib", case_id="ZW-1",
                     body=timeout_request_body("cjib"))
    raw = gm.sign(doc)
    await gm.publish_raw(raw)
    await wait_for(lambda: len(inbox) == 1)
    await gm.publish_raw(raw)
    await wait_for(lambda: len(notices) == 1)
    await hub.stop()  # the record of seen ids is durable: a restarted hub still knows it
    await hub.start()
    await gm.publish_raw(raw)
    # The restarted hub answers again, with the same (derived) notice id: the SDK drops the copy.
    await wait_for(lambda: hub.metrics.duplicates._value.get() == 2)
    await wait_for(lambda: gm.dropped_redeliveries >= 1)
    answer = notices[0].envelope
    assert answer.type == "notice.duplicate"
    assert str(answer.body.original_message_id) == doc["id"]
    assert answer.body.original_outcome == "routed"
    await asyncio.sleep(0.3)
    assert len(inbox) == 1
    assert hub.metrics.duplicates._value.get() == 2


async def test_register_query_is_answered_by_the_hub(
    hub: HubService, client: ClientFactory
) -> None:
    gm = await client("gm0193")
    inbox = await collect(gm)
    await gm.send(gm.message(type="register.query", recipient="hub", case_id="ZW-1",
                             body={"kinds": ["agency"]}))
    await wait_for(lambda: len(inbox) == 1)
    answer = inbox[0].envelope
    assert answer.type == "register.answer"
    ids = sorted(e.id for e in answer.body.entries)
    assert ids == ["belastingdienst", "cjib", "duo", "svb", "uwv"]
