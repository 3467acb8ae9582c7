"""Issue 11 over the real broker: what is on the wire is what the AsyncAPI document says (point 6),
a reused id with other content is refused and dead-lettered (3), the AMQP message_id must be the
envelope id (5), a zero-fraction integer routes (4), notices carry the correlation that could be
read (9), a message beyond its agreed lifetime is refused (10)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import aio_pika
import pytest

from hub.config import Settings
from hub.contract import names
from hub.contract.messages import utc_iso
from hub.contract.registry import Registry
from hub.contract.schemas import asyncapi_document
from hub.service import HubService
from tests.conftest import ClientFactory
from tests.helpers import collect, drain, timeout_request_body, wait_for

pytestmark = [pytest.mark.broker]



def _wire(channel: str) -> dict[str, Any]:
    return dict(asyncapi_document()["channels"][channel]["x-maatwerk-amqp"])


def _properties(message: aio_pika.abc.AbstractIncomingMessage) -> dict[str, Any]:
    fields = {"message_id": message.message_id, "type": message.type,
              "content_type": message.content_type, "user_id": message.user_id,
              "delivery_mode": int(message.delivery_mode) if message.delivery_mode else None,
              "correlation_id": message.correlation_id, "reply_to": message.reply_to,
              "expiration": message.expiration, "priority": message.priority or None,
              "app_id": message.app_id, "content_encoding": message.content_encoding,
              "timestamp": message.timestamp}
    return {k: v for k, v in fields.items() if v is not None}


def assert_as_documented(channel: str, message: aio_pika.abc.AbstractIncomingMessage) -> None:
    wire = _wire(channel)
    props = _properties(message)
    assert set(props) <= set(wire["properties"]), f"undocumented properties on {channel}: " \
        f"{set(props) - set(wire['properties'])}"
    for name, spec in wire["properties"].items():
        if spec["required"]:
            assert name in props, f"{channel}: property {name} missing"
        if "const" in spec and name in props:
            assert props[name] == spec["const"], f"{channel}: {name} = {props[name]}"
    headers = dict(message.headers or {})
    extra = set(headers) - set(wire["headers"])
    assert not extra, f"undocumented headers on {channel}: {extra}"
    for name, spec in wire["headers"].items():
        if spec["required"]:
            assert name in headers, f"{channel}: header {name} missing"
        if "const" in spec and name in headers:
            assert headers[name] == spec["const"]


async def test_deliveries_carry_exactly_the_documented_properties_and_headers(
    hub: HubService, hub_settings: Settings, client: ClientFactory, registry: Registry
) -> None:
    gm = await client("gm0193")
    document = gm.message(type="timeout.request", recipient="cjib", case_id="ZW-2026-0042",
                          body=timeout_request_body("cjib"))
    await gm.send(document)
    bad = gm.message(type="timeout.request", recipient="cjib", case_id="ZW-2026-0042",
                     body=timeout_request_body("cjib", bsn="123456789"))
    await gm.send(bad)
    routed = await drain(hub_settings.amqp_url, names.inbox("cjib"), expect=1, timeout=30)
    assert len(routed) == 1
    assert_as_documented("inbox", routed[0])
    headers = routed[0].headers or {}
    assert headers[names.HEADER_SENDER] == "gm0193"
    assert headers[names.HEADER_RULE] == "timeout-request-cjib"
    assert headers[names.HEADER_POLICY_VERSION] == hub.policy.version
    assert routed[0].message_id == document["id"] and routed[0].type == "timeout.request"

    notices = await drain(hub_settings.amqp_url, names.inbox("gm0193"), expect=1, timeout=30)
    assert len(notices) == 1
    assert_as_documented("inbox", notices[0])
    assert (notices[0].headers or {})[names.HEADER_SENDER] == "hub"

    dead = await drain(hub_settings.amqp_url, names.DEAD_LETTER_QUEUE, expect=1, timeout=30)
    assert len(dead) == 1
    assert_as_documented("deadLetter", dead[0])
    sender = registry.get("gm0193")
    assert sender is not None
    assert (dead[0].headers or {})[names.HEADER_USER_ID] == sender.broker_user
    assert dead[0].message_id == bad["id"]


async def test_same_id_other_content_is_refused_and_dead_lettered_never_routed(
    hub: HubService, hub_settings: Settings, client: ClientFactory
) -> None:
    gm, cjib = await client("gm0193"), await client("cjib")
    notices = await collect(gm, "notice.refused", "notice.duplicate")
    inbox = await collect(cjib, "timeout.request")
    first = gm.message(type="timeout.request", recipient="cjib", case_id="ZW-2026-0042",
                       body=timeout_request_body("cjib"))
    await gm.send(first)
    await wait_for(lambda: len(inbox) == 1, timeout=30)
    await gm.send(first)  # byte for byte the same: a duplicate
    other = {**first, "body": timeout_request_body("cjib", requested_months=3)}
    await gm.send(other)  # same id, other content
    await wait_for(lambda: len(notices) == 2, timeout=30)
    by_type = {n.envelope.type: n.envelope.body for n in notices}
    duplicate, refused = by_type["notice.duplicate"], by_type["notice.refused"]
    assert duplicate.original_outcome == "routed"
    assert refused.reason_code.value == "id_conflict"
    assert refused.field_paths == ["/id"]
    dead = await drain(hub_settings.amqp_url, names.DEAD_LETTER_QUEUE, expect=1, timeout=30)
    assert [(d.headers or {}).get(names.HEADER_REASON) for d in dead] == ["id_conflict"]
    assert json.loads(dead[0].body)["body"]["requested_months"] == 3
    assert len(inbox) == 1 and inbox[0].envelope.body.requested_months == 4  # type: ignore


async def test_message_id_other_than_the_envelope_id_is_refused(
    hub: HubService, client: ClientFactory
) -> None:
    gm, cjib = await client("gm0193"), await client("cjib")
    notices = await collect(gm, "notice.refused")
    inbox = await collect(cjib, "timeout.request")
    document = gm.message(type="timeout.request", recipient="cjib", case_id="ZW-2026-0042",
                          body=timeout_request_body("cjib"))
    await gm.publish_raw(gm.sign(document), message_id="not-the-envelope-id")
    await wait_for(lambda: len(notices) == 1, timeout=30)
    body = notices[0].envelope.body
    assert body.reason_code.value == "message_id_mismatch"
    assert str(body.refused_message_id) == document["id"]
    assert notices[0].envelope.case_id == "ZW-2026-0042"
    assert not inbox


async def test_zero_fraction_integer_routes_and_notices_carry_correlation(
    hub: HubService, client: ClientFactory
) -> None:
    gm, cjib = await client("gm0193"), await client("cjib")
    notices = await collect(gm, "notice.refused")
    inbox = await collect(cjib, "timeout.request")
    document = gm.message(type="timeout.request", recipient="cjib", case_id="ZW-2026-0042",
                          body={**timeout_request_body("cjib"), "requested_months": 4.0})
    await gm.send(document)
    await wait_for(lambda: len(inbox) == 1, timeout=30)
    assert inbox[0].envelope.body.requested_months == 4  # type: ignore[attr-defined]

    # A schema violation: case_id and conversation_id are read from the message anyway, and
    # field_paths point at the field (JSON Pointer).
    bad = gm.message(type="timeout.request", recipient="cjib", case_id="ZW-2026-0077",
                     body=timeout_request_body("cjib", bsn="123456789"))
    await gm.send(bad)
    # Not JSON: refused_message_id is the AMQP message_id.
    await gm.publish_raw(b"{not json", message_id="6b1c6c70-0d5c-4a0e-9d39-6f7d2a1c0b11")
    # Beyond the agreed lifetime (30 days).
    long = gm.message(type="timeout.request", recipient="cjib", case_id="ZW-2026-0078",
                      body=timeout_request_body("cjib"))
    created = hub.clock()
    long["expires_at"] = utc_iso(created + timedelta(days=40))
    await gm.publish_raw(gm.sign(long), message_id=long["id"])
    await wait_for(lambda: len(notices) == 3, timeout=30)
    by_reason = {n.envelope.body.reason_code.value: n for n in notices}
    schema = by_reason["schema_violation"]
    assert schema.envelope.case_id == "ZW-2026-0077"
    assert schema.envelope.conversation_id == bad["conversation_id"] or str(
        schema.envelope.conversation_id) == bad["conversation_id"]
    assert schema.envelope.body.field_paths == ["/body/bsn"]
    malformed = by_reason["malformed_json"]
    assert str(malformed.envelope.body.refused_message_id) == \
        "6b1c6c70-0d5c-4a0e-9d39-6f7d2a1c0b11"
    lifetime = by_reason["lifetime_exceeded"]
    assert lifetime.envelope.body.field_paths == ["/expires_at"]
    assert lifetime.envelope.case_id == "ZW-2026-0078"
    assert len(inbox) == 1
