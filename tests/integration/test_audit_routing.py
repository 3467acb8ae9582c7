"""The audit trail on the routing path: every decision recorded, and routing fails closed."""

from __future__ import annotations

import asyncio

import pytest

from hub.service import HubService
from hub.state.database import SqliteDatabase
from tests.conftest import ClientFactory
from tests.helpers import BSN, collect, timeout_request_body, wait_for

pytestmark = [pytest.mark.broker]


async def test_decisions_are_chained_without_personal_data(
    hub: HubService, client: ClientFactory
) -> None:
    gm, cjib = await client("gm0193"), await client("cjib")
    got = await collect(cjib)
    await gm.send(gm.message(type="timeout.request", recipient="cjib", case_id="ZW-A1",
                             body=timeout_request_body("cjib")))
    # The refused request goes to DUO: a second request to CJIB in this case could meet the
    # one-open-time-out rule (checked before the policy) if the first were recorded already.
    bad = timeout_request_body("duo", health_context="GGZ")
    await gm.send(gm.message(type="timeout.request", recipient="duo", case_id="ZW-A1", body=bad))
    await wait_for(lambda: len(got) == 1)
    assert hub.audit is not None
    for _ in range(100):  # the receipt from CJIB is recorded too
        records = await hub.audit.for_case("ZW-A1")
        if {r.event for r in records} >= {"routed", "refused", "receipt"}:
            break
        await asyncio.sleep(0.05)
    events = sorted((r.event, r.message_type) for r in records)
    assert ("routed", "timeout.request") in events and ("routed", "receipt") in events
    assert ("receipt", "receipt") in events  # the receipt fulfilled an expectation
    refused = next(r for r in records if r.event == "refused")
    assert refused.reason == "policy_special_category"
    result = await hub.audit.verify()
    assert result.ok and result.count >= 4
    for record in records:
        text = str(record.to_json())
        assert BSN not in text and "GGZ" not in text
        if record.message_type == "timeout.request":  # it carries a BSN: the keyed hash only
            assert record.attributes.get("dpl.core.data_subject_id_type") == "BSN"
            assert len(record.attributes["dpl.core.data_subject_id"]) == 32


async def test_routing_fails_closed_when_the_audit_cannot_be_written(
    hub: HubService, client: ClientFactory
) -> None:
    gm, cjib = await client("gm0193"), await client("cjib")
    got = await collect(cjib)
    db = hub.ledger.db
    assert isinstance(db, SqliteDatabase)
    await db.execute("ALTER TABLE audit_log RENAME TO audit_log_away")  # the audit store breaks
    await gm.send(gm.message(type="timeout.request", recipient="cjib", case_id="ZW-A2",
                             body=timeout_request_body("cjib")))
    await wait_for(lambda: not hub.ready, timeout=10)
    assert hub.readiness()["audit"] is False
    # The hub published to CJIB's inbox before recording (publish, confirm, record, ack), so
    # CJIB may hold the message; what matters is that it is not acknowledged nor lost.
    assert hub.metrics.retries._value.get() >= 1
    await db.execute("ALTER TABLE audit_log_away RENAME TO audit_log")  # repaired
    await wait_for(lambda: hub.ready, timeout=15)
    await wait_for(lambda: len(got) >= 1, timeout=10)
    records = await hub.audit.for_case("ZW-A2")
    routed = [r for r in records if r.event == "routed" and r.message_type == "timeout.request"]
    assert len(routed) == 1
    assert (await hub.audit.verify()).ok
