"""Maatwerkregister admission and self-service through the real broker: a municipality without a
mandate is not active (its messages, and messages to it, are refused with
``participant_not_admitted``; register answers leave it out); a participant updates its own
contact details with a signed ``register.update``, audited, and register answers show them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID

import pytest

from hub.config import Settings
from hub.contract.registry import Registry, RegistryDocument
from hub.service import HubService
from tests.conftest import ClientFactory, FakeClock
from tests.helpers import BSN, collect, timeout_request_body, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.timeout(90)]


@pytest.fixture
async def hub_without_amsterdam_mandate(
    hub_settings: Settings, registry: Registry, clock: FakeClock
) -> AsyncIterator[HubService]:
    """The session registry, but gm0363 has recorded no mandate."""
    participants = [p.model_copy(update={"mandate": None}) if p.id == "gm0363" else p
                    for p in registry.document.participants]
    unadmitted = Registry(RegistryDocument(version=registry.version, participants=participants))
    assert not unadmitted.participants["gm0363"].admitted
    service = HubService(hub_settings, registry=unadmitted, clock=clock)
    await service.start()
    yield service
    await service.stop()


async def test_a_municipality_without_mandate_is_not_active(
    hub_without_amsterdam_mandate: HubService, client: ClientFactory
) -> None:
    amsterdam, zwolle, cjib = await client("gm0363"), await client("gm0193"), await client("cjib")
    a_inbox, z_inbox, c_inbox = await collect(amsterdam), await collect(zwolle), await collect(cjib)

    request = amsterdam.message(type="timeout.request", recipient="cjib", case_id="AM-1",
                                body=timeout_request_body("cjib"))
    await amsterdam.send(request)
    asking = zwolle.message(type="info.request", recipient="gm0363", case_id="ZW-1",
                            body={"bsn": BSN, "purpose_code": "payment_arrangement",
                                  "legal_ground": "pmm-afstemming",
                                  "fields": ["arrangement_status"]})
    await zwolle.send(asking)
    await zwolle.send(zwolle.message(type="register.query", recipient="hub", case_id="ZW-1",
                                     body={"kinds": ["municipality"]}))
    await wait_for(lambda: bool(a_inbox) and len(z_inbox) == 2, timeout=20)

    refused = a_inbox[0].envelope.body
    assert (a_inbox[0].envelope.type, refused.reason_code) == (
        "notice.refused", "participant_not_admitted")
    assert refused.refused_message_id == UUID(request["id"])
    assert "gm0363 is not admitted" in refused.detail and "mandate" in refused.detail
    notice = next(d.envelope.body for d in z_inbox if d.envelope.type == "notice.refused")
    assert notice.reason_code == "participant_not_admitted"
    assert "recipient gm0363" in notice.detail
    answer = next(d.envelope.body for d in z_inbox if d.envelope.type == "register.answer")
    assert [e.id for e in answer.entries] == ["gm0193"]
    assert not c_inbox  # nothing reached CJIB


async def test_a_participant_updates_its_own_contact_details(
    hub: HubService, client: ClientFactory, registry: Registry
) -> None:
    zwolle, cjib = await client("gm0193"), await client("cjib")
    z_inbox, c_inbox = await collect(zwolle), await collect(cjib)

    update = zwolle.message(type="register.update", recipient="hub", case_id="register",
                            body={"email": "maatwerkloket@zwolle.example",
                                  "phone": "+31 38 498 9111"})
    await zwolle.send(update)
    await wait_for(lambda: bool(z_inbox), timeout=20)
    (mine,) = z_inbox[0].envelope.body.entries
    assert (mine.id, mine.email, mine.phone, mine.contact_point) == (
        "gm0193", "maatwerkloket@zwolle.example", "+31 38 498 9111",
        "Maatwerkfunctionaris Zwolle")
    assert z_inbox[0].envelope.in_reply_to == UUID(update["id"])

    # a later update of one field keeps the other; everyone's answers show the override
    await zwolle.send(zwolle.message(type="register.update", recipient="hub",
                                     case_id="register",
                                     body={"contact_point": "Team Maatwerk Zwolle"}))
    await wait_for(lambda: len(z_inbox) == 2, timeout=20)
    await cjib.send(cjib.message(type="register.query", recipient="hub", case_id="ZW-1",
                                 body={"participant_ids": ["gm0193", "duo"]}))
    await wait_for(lambda: bool(c_inbox), timeout=20)
    entries = {e.id: e for e in c_inbox[0].envelope.body.entries}
    assert (entries["gm0193"].contact_point, entries["gm0193"].email,
            entries["gm0193"].phone) == ("Team Maatwerk Zwolle", "maatwerkloket@zwolle.example",
                                         "+31 38 498 9111")
    assert entries["duo"].email == "maatwerk@duo.example"  # untouched: the registry file's
    assert registry.participants["gm0193"].contact.email == "maatwerk@zwolle.example"

    # audited: both updates are in the hash-chained trail as routed by gm0193
    trail = [r for r in await hub.ledger.audit.for_case("register")
             if r.message_type == "register.update"]
    assert [(r.sender, r.decision) for r in trail] == [("gm0193", "routed")] * 2
    assert (await hub.ledger.audit.verify()).ok

    # another participant cannot update gm0193: the update is always the sender's own
    refused = cjib.message(type="register.update", recipient="hub", case_id="register",
                           body={"email": "noodstop@cjib.example"})
    await cjib.send(refused)
    await wait_for(lambda: len(c_inbox) == 2, timeout=20)
    (cjib_entry,) = c_inbox[1].envelope.body.entries
    assert cjib_entry.id == "cjib" and cjib_entry.email == "noodstop@cjib.example"
