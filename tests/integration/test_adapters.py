"""The reference adapters against the real broker, the in-process hub and fake back offices on
loopback: the scenario's five time-outs, retries, refusals, dead-lettering, the municipality's
HTTP API and the loket's actions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.agencies import PROFILES, AgencyAdapter
from adapters.cases import CaseStore
from adapters.http import start_server
from adapters.loket import LoketAdapter
from adapters.municipality import MunicipalityAdapter, api
from adapters.sdk import BackOffice, HubClient
from hub.contract import names
from hub.service import HubService
from tests.conftest import ClientFactory, amqp_url
from tests.helpers import BSN, drain, timeout_request_body, wait_for
from tests.support.fake_backoffice import FakeBackOffice

pytestmark = [pytest.mark.broker, pytest.mark.timeout(60)]

TOKEN = "test-token"


@pytest.fixture
async def fakes() -> AsyncIterator[dict[str, FakeBackOffice]]:
    made = {name: await FakeBackOffice(name, token=TOKEN).start() for name in PROFILES}
    yield made
    for fake in made.values():
        await fake.stop()


async def start_agency(client: ClientFactory, name: str, fake: FakeBackOffice,
                       retries: int = 2) -> HubClient:
    agency = await client(name)
    agency.retries, agency.backoff = retries, 0.01
    AgencyAdapter(agency, BackOffice(fake.url, token=TOKEN, timeout=2.0), PROFILES[name])
    await agency.consume()
    return agency


async def start_municipality(client: ClientFactory, tmp_path: Path,
                             participant: str = "gm0193") -> MunicipalityAdapter:
    gm = await client(participant)
    adapter = MunicipalityAdapter(gm, CaseStore(tmp_path / f"{participant}-cases"))
    await gm.consume()
    return adapter


def received(adapter: MunicipalityAdapter | LoketAdapter, case_id: str,
             type_name: str) -> list[dict[str, Any]]:
    return [e["message"] for e in adapter.store.case(case_id)
            if e["direction"] == "received" and e["message"]["type"] == type_name]


async def test_five_agencies_answer_the_municipality(
    hub: HubService, client: ClientFactory, fakes: dict[str, FakeBackOffice], tmp_path: Path
) -> None:
    fakes["uwv"].mode = "partial"
    fakes["duo"].mode, fakes["duo"].code = "decline", "draagkrachtmeting"
    for name, fake in fakes.items():
        await start_agency(client, name, fake)
    gm = await start_municipality(client, tmp_path)
    case = "ZW-2026-0042"
    sent = {name: await gm.request_timeout(name, case, timeout_request_body(name))
            for name in PROFILES}
    await wait_for(lambda: len(received(gm, case, "timeout.response")) == 5, timeout=20)

    outcomes = {m["sender"]: m["body"] for m in received(gm, case, "timeout.response")}
    assert {m["in_reply_to"] for m in received(gm, case, "timeout.response")} == {
        str(i) for i in sent.values()}
    for name in ("cjib", "belastingdienst", "svb"):
        assert outcomes[name]["outcome"] == "accepted", name
        assert outcomes[name]["effective_from"] == "2026-12-01"
    assert outcomes["cjib"]["paused_scope"] == ["collection", "surcharges"]
    assert outcomes["uwv"]["outcome"] == "partially_accepted"
    assert outcomes["uwv"]["not_paused_scope"] == ["running_deduction"]
    assert outcomes["uwv"]["reason_code"] == "no_legal_room"
    assert outcomes["duo"] == {
        "outcome": "declined", "reason_code": "other_route_applies",
        "explanation": "duo: a different route applies",
        "contact": {"name": "Maatwerkfunctionaris DUO", "email": "maatwerk@duo.example",
                    "phone": "+31 50 000 0003"}}
    for name, fake in fakes.items():  # one call per message, the agency's own contract
        assert fake.calls == {str(sent[name]): 1}, name
        (call,) = fake.log
        assert call.path == PROFILES[name].pause_path
        assert call.payload["bsn"] == BSN and call.payload["months"] == 4
        assert call.headers["idempotency-key"] == str(sent[name])
    assert fakes["cjib"].log[0].payload["payment_references"] == ["1234567890123456"]
    assert fakes["cjib"].log[0].payload["stop_surcharges"] is True
    assert fakes["belastingdienst"].log[0].payload["allowance_years"] == [2024]


async def test_back_office_500_is_retried_then_declined_or_dead_lettered(
    hub: HubService, client: ClientFactory, fakes: dict[str, FakeBackOffice], tmp_path: Path,
    vhost: str
) -> None:
    fakes["svb"].fail_first = 2  # two 500s, then an answer: retries absorb it
    fakes["cjib"].mode = "error500"  # never answers: declined after 1 + 2 attempts
    svb = await start_agency(client, "svb", fakes["svb"])
    cjib = await start_agency(client, "cjib", fakes["cjib"])
    gm = await start_municipality(client, tmp_path)
    svb_id = await gm.request_timeout("svb", "ZW-1", timeout_request_body("svb"))
    cjib_id = await gm.request_timeout("cjib", "ZW-2", timeout_request_body("cjib"))
    await wait_for(lambda: bool(received(gm, "ZW-1", "timeout.response")
                                and received(gm, "ZW-2", "timeout.response")), timeout=20)
    assert received(gm, "ZW-1", "timeout.response")[0]["body"]["outcome"] == "accepted"
    assert fakes["svb"].calls[str(svb_id)] == 3 and svb.retried == 2
    declined = received(gm, "ZW-2", "timeout.response")[0]["body"]
    assert declined["outcome"] == "declined"
    assert declined["reason_code"] == "back_office_unavailable"
    assert fakes["cjib"].calls[str(cjib_id)] == 3 and cjib.gave_up == 1

    # a type without a response (timeout.lift) is dead-lettered once the retries are exhausted
    fakes["svb"].mode = "error500"
    lift_id = await gm.lift("ZW-1", svb_id, {"lift_on": (date.today() + timedelta(days=30))
                                             .isoformat(), "reason_code": "household_stable"})
    await wait_for(lambda: svb.dead_lettered == 1, timeout=15)
    assert fakes["svb"].calls[str(lift_id)] == 3
    dead = await drain(amqp_url("guest", "guest", vhost), names.DEAD_LETTER_QUEUE, 1)
    assert [json.loads(m.body)["id"] for m in dead] == [str(lift_id)]


async def test_back_office_400_is_declined_with_the_reason(
    hub: HubService, client: ClientFactory, fakes: dict[str, FakeBackOffice], tmp_path: Path
) -> None:
    fakes["cjib"].mode, fakes["cjib"].code = "error400", "kenmerk_onbekend"
    fakes["uwv"].mode, fakes["uwv"].code = "error400", "something_new"
    await start_agency(client, "cjib", fakes["cjib"])
    await start_agency(client, "uwv", fakes["uwv"])
    gm = await start_municipality(client, tmp_path)
    await gm.request_timeout("cjib", "ZW-3", timeout_request_body("cjib"))
    await gm.request_timeout("uwv", "ZW-3", timeout_request_body("uwv"))
    await wait_for(lambda: len(received(gm, "ZW-3", "timeout.response")) == 2)
    bodies = {m["sender"]: m["body"] for m in received(gm, "ZW-3", "timeout.response")}
    assert bodies["cjib"]["outcome"] == "declined"
    assert bodies["cjib"]["reason_code"] == "reference_unknown"  # the agency's code, mapped
    assert bodies["uwv"]["reason_code"] == "insufficient_information"  # by HTTP status
    assert bodies["uwv"]["explanation"] == "request not understood"
    assert sum(fakes["cjib"].calls.values()) == 1  # a 4xx is an answer: not retried


async def test_municipality_http_api(
    hub: HubService, client: ClientFactory, fakes: dict[str, FakeBackOffice], tmp_path: Path
) -> None:
    await start_agency(client, "cjib", fakes["cjib"])
    gm = await start_municipality(client, tmp_path)
    server = await start_server(api(gm))
    base = f"http://127.0.0.1:{server.port}"
    try:
        async with httpx.AsyncClient(base_url=base) as http:
            message = {"type": "timeout.request", "recipient": "cjib", "case_id": "ZW-9",
                       "body": timeout_request_body("cjib")}
            accepted = await http.post("/messages", json=message)
            assert accepted.status_code == 202, accepted.text
            message_id = accepted.json()["id"]

            bad = [
                ({**message, "body": timeout_request_body("cjib", bsn="123456789")}, "body.bsn"),
                ({k: v for k, v in message.items() if k != "recipient"}, "recipient"),
                ({**message, "type": "let.referral"}, "type"),
                ({**message, "recipient": "gm0363"}, "recipient"),
                ({**message, "case_id": "../etc"}, "case_id"),
                ({**message, "colour": "red"}, "colour"),
            ]
            for document, field in bad:
                answer = await http.post("/messages", json=document)
                assert answer.status_code == 422, (field, answer.text)
                assert answer.json()["field"] == field, answer.json()
            assert (await http.post("/messages", content=b"{nope")).status_code == 400

            async def outcome() -> list[str]:
                case = (await http.get("/cases/ZW-9")).json()["messages"]
                return [e["message"]["type"] for e in case if e["direction"] == "received"]

            for _ in range(200):
                if "timeout.response" in await outcome():
                    break
                await asyncio.sleep(0.05)
            case = (await http.get("/cases/ZW-9")).json()["messages"]
            assert case[0] == {"direction": "sent", "message": case[0]["message"]}
            assert case[0]["message"]["id"] == message_id
            response = [e["message"] for e in case if e["message"]["type"] == "timeout.response"]
            assert response and response[0]["body"]["outcome"] == "accepted"
            assert (await http.get("/cases/%2E%2E")).status_code in (400, 404)
    finally:
        await server.stop()
    assert fakes["cjib"].calls == {message_id: 1}


async def test_loket_escalation_let_referral_and_bridging(
    hub: HubService, client: ClientFactory, fakes: dict[str, FakeBackOffice], tmp_path: Path
) -> None:
    uwv = await start_agency(client, "uwv", fakes["uwv"])
    gm = await start_municipality(client, tmp_path)
    loket_client = await client("loket")
    loket = LoketAdapter(loket_client, CaseStore(tmp_path / "loket-cases"))
    await loket_client.consume()
    let = await client("let")
    referrals: list[str] = []

    @let.on("let.referral")
    async def take(delivery: Any) -> Any:
        referrals.append(delivery.envelope.body.question)
        return delivery.reply("let.decision", {
            "loket_reference": "ML-2026-17", "decision": "responsible_party_named",
            "responsible_party": "uwv"})

    await let.consume()
    case = "ZW-2026-0042"
    escalation = await gm.escalate(case, {
        "bsn": BSN, "municipality": "GM0193", "problem_areas": ["housing", "benefits"],
        "agencies_involved": ["uwv", "cjib"], "urgency": "urgent",
        "situation_summary": "Rent arrears; eviction is being prepared.",
        "contact": {"name": "M. de Vries", "email": "mdv@zwolle.example",
                    "phone": "+31 38 000 0000"}})
    await wait_for(lambda: bool(received(loket, case, "escalation.request")))
    await loket.answer_escalation(case, escalation, outcome="accepted",
                                  loket_reference="ML-2026-17", next_step="bridging")
    # each step after the previous one was delivered: the hub ties them together in that order
    await wait_for(lambda: bool(received(gm, case, "escalation.response")), timeout=15)
    await loket.decide_bridging(case, "gm0193", loket_reference="ML-2026-17",
                                decision="prefinance", amount_cents=245000,
                                creditor_kind="housing_corporation", referred_to_let=True)
    await loket.refer_to_let(case, loket_reference="ML-2026-17",
                             agencies_involved=["uwv"], problem_areas=["benefits", "housing"],
                             question="Who carries the rent arrears the UWV recovery caused?",
                             bridging_amount_cents=245000)
    await wait_for(lambda: bool(received(loket, case, "let.decision")), timeout=15)
    await loket.settle(case, "uwv", loket_reference="ML-2026-17", amount_cents=245000,
                       due_on=date(2027, 3, 1))
    await wait_for(lambda: bool(received(gm, case, "escalation.response")
                                and received(gm, case, "bridging.decision")
                                and referrals and fakes["uwv"].log), timeout=15)
    assert received(gm, case, "escalation.response")[0]["in_reply_to"] == str(escalation)
    assert received(gm, case, "bridging.decision")[0]["body"]["amount_cents"] == 245000
    (settlement,) = fakes["uwv"].log
    assert settlement.path == "/settlements"
    assert settlement.payload["loket_reference"] == "ML-2026-17"
    await wait_for(lambda: uwv.handled_count >= 1)
