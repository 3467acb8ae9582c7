"""The escalation ladder and the overbrugging as tracked cases, through the real broker with the
reference adapters (loket, municipality, agency on a fake back office) and the LET on the SDK.

Deadlines are seconds: the loket lets its first step pass (reminded once, overdue once to the LET
and the municipality, never again), then takes the case through every state; the overbrugging is
refused without its escalation and before the LET named the responsible party, then prefinanced,
asked back with a due date that passes (reminded, overdue), and repaid."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.agencies import PROFILES, AgencyAdapter
from adapters.cases import CaseStore
from adapters.loket import LoketAdapter
from adapters.sdk import BackOffice, Delivery, HubClient
from hub.config import Settings
from hub.contract.agreements import (
    Agreements,
    BridgingTerms,
    DeadlineTable,
    Duration,
    EscalationDeadlines,
    load_agreements,
)
from hub.contract.registry import Registry
from hub.ops.status import render
from hub.service import HubService
from hub.state import bridging
from tests.conftest import ClientFactory, FakeClock
from tests.helpers import BSN, case_of, wait_for
from tests.integration.test_adapters import received, start_municipality
from tests.support.fake_backoffice import FakeBackOffice

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]

TOKEN = "test-token"
REF = "ML-2026-17"
LATE, LONG = Duration(seconds=1.5), Duration(seconds=120)


def agreements(loket_decision: Duration = LONG) -> Agreements:
    base = load_agreements()
    return base.model_copy(update={
        "deadlines": DeadlineTable(receipt=LONG, response=LONG),
        "escalation": EscalationDeadlines(loket_decision=loket_decision, loket_progress=LONG,
                                          let_decision=LONG, loket_closing=LONG),
        "bridging": BridgingTerms(overdue_after=LATE)})


@pytest.fixture
async def start_hub(hub_settings: Settings, registry: Registry, clock: FakeClock,
                    state_url: str) -> AsyncIterator[Any]:
    """A hub on each state backend (SQLite and PostgreSQL): the ladder and the ledger are SQL."""
    started: list[HubService] = []

    async def start(terms: Agreements) -> HubService:
        service = HubService(hub_settings.replace(state_url=state_url), registry=registry,
                             clock=clock, agreements=terms)
        await service.start()
        started.append(service)
        return service

    yield start
    for service in started:
        await service.stop()


ESCALATION = {
    "bsn": BSN, "municipality": "GM0193", "problem_areas": ["housing", "benefits"],
    "agencies_involved": ["uwv"], "urgency": "urgent",
    "situation_summary": "Rent arrears; eviction is being prepared.",
    "contact": {"name": "Maatwerkfunctionaris", "email": "maatwerk@zwolle.example",
                "phone": "+31 38 000 0007"}}


def of(got: list[Delivery], type_name: str) -> list[Delivery]:
    return [d for d in got if d.envelope.type == type_name]


async def recording(client: HubClient, got: list[Delivery]) -> None:
    """Keep what the SDK client receives (instead of a reference adapter's store)."""
    for type_name in ("notice.reminder", "notice.overdue", "notice.refused", "let.referral"):
        client.on(type_name)(lambda d, _t=type_name: _keep(got, d))


async def _keep(got: list[Delivery], delivery: Delivery) -> None:
    got.append(delivery)


async def test_escalation_through_every_state_missed_loket_deadline_escalated_once(
    start_hub: Any, client: ClientFactory, tmp_path: Path
) -> None:
    hub = await start_hub(agreements(loket_decision=LATE))
    gm = await start_municipality(client, tmp_path)
    loket_client = await client("loket")
    loket = LoketAdapter(loket_client, CaseStore(tmp_path / "loket-cases"))
    loket_seen: list[Delivery] = []
    await recording(loket_client, loket_seen)
    await loket_client.consume()
    let = await client("let")
    let_seen: list[Delivery] = []
    await recording(let, let_seen)
    await let.consume()
    case = "ZW-2026-0100"

    escalation = await gm.escalate(case, ESCALATION)
    await wait_for(lambda: bool(of(let_seen, "notice.overdue")), timeout=30)
    await asyncio.sleep(2.5)  # several more ticks and periods: nothing is sent twice
    reminders = of(loket_seen, "notice.reminder")
    assert len(reminders) == 1 and reminders[0].envelope.body.late_participant == "loket"  # type: ignore[attr-defined]
    assert len(received(gm, case, "notice.reminder")) == 1
    assert len(of(let_seen, "notice.overdue")) == 1
    assert len(received(gm, case, "notice.overdue")) == 1
    assert of(let_seen, "notice.overdue")[0].envelope.body.message_id == escalation  # type: ignore[attr-defined]
    assert BSN not in of(let_seen, "notice.overdue")[0].raw.decode()
    status = await case_of(hub, case)
    (item,) = status.escalations
    assert item.state == "submitted" and item.overdue_at is not None

    await loket.answer_escalation(case, escalation, outcome="accepted", loket_reference=REF,
                                  next_step="let_referral")
    await wait_for(lambda: bool(received(gm, case, "escalation.response")))
    await escalation_state(hub, case, "accepted")
    await loket.report_progress(case, escalation, loket_reference=REF, step="mediation")
    await wait_for(lambda: bool(received(gm, case, "escalation.progress")))
    await escalation_state(hub, case, "in_progress")
    await loket.refer_to_let(case, loket_reference=REF, agencies_involved=["uwv"],
                             problem_areas=["benefits", "housing"],
                             question="Who carries the arrears the recovery caused?")
    await wait_for(lambda: bool(of(let_seen, "let.referral")))
    referral = of(let_seen, "let.referral")[0]
    await let.send(referral.reply("let.decision", {
        "loket_reference": REF, "decision": "responsible_party_named",
        "responsible_party": "uwv", "explanation": "The UWV recovery caused the arrears."}))
    await wait_for(lambda: bool(received(gm, case, "let.decision")), timeout=15)
    copy = received(gm, case, "let.decision")[0]
    assert copy["sender"] == "hub" and copy["in_reply_to"] == str(escalation)
    assert copy["body"]["responsible_party"] == "uwv"
    assert not received(gm, case, "notice.refused")  # no receipt goes back to the hub
    await wait_for(lambda: bool(received(loket, case, "let.decision")))
    await escalation_state(hub, case, "decided")
    await loket.close_escalation(case, escalation, loket_reference=REF, outcome="let_decided")
    await wait_for(lambda: bool(received(gm, case, "escalation.closed")))
    await escalation_state(hub, case, "closed")  # the hub records after delivery

    status = await case_of(hub, case)
    (item,) = status.escalations
    assert item.state == "closed" and item.responsible_party == "uwv"
    states = [s.state for s in item.steps]
    assert states == ["submitted", "reminder:submitted", "overdue:submitted", "accepted",
                      "in_progress", "referred_to_let", "decided", "closed"]
    text = render(status)
    assert "closed" in text and "responsible: uwv" in text and BSN not in text

    # closed: no more progress from the loket (refused with the rule's reason)
    await loket.report_progress(case, escalation, loket_reference=REF, step="other")
    await wait_for(lambda: bool(of(loket_seen, "notice.refused")))
    refused = of(loket_seen, "notice.refused")[0].envelope.body
    assert refused.reason_code.value == "escalation_rule"  # type: ignore[attr-defined]
    assert "closed" in refused.detail  # type: ignore[attr-defined]


async def test_an_agency_escalates_and_receives_the_answer(
    start_hub: Any, client: ClientFactory, tmp_path: Path
) -> None:
    await start_hub(agreements())
    fake = await FakeBackOffice("cjib", token=TOKEN).start()
    try:
        cjib = await client("cjib")
        adapter = AgencyAdapter(cjib, BackOffice(fake.url, token=TOKEN, timeout=2.0),
                                PROFILES["cjib"])
        answers: list[Delivery] = []
        cjib.on("escalation.response")(lambda d: _keep(answers, d))
        await cjib.consume()
        loket_client = await client("loket")
        loket = LoketAdapter(loket_client, CaseStore(tmp_path / "loket-cases"))
        await loket_client.consume()
        case = "CJIB-2026-7"
        request = await adapter.escalate(case, {**ESCALATION, "agencies_involved": ["cjib"]})
        await wait_for(lambda: bool(received(loket, case, "escalation.request")))
        assert received(loket, case, "escalation.request")[0]["sender"] == "cjib"
        await loket.answer_escalation(case, request, outcome="accepted", loket_reference=REF,
                                      next_step="mediation")
        await wait_for(lambda: bool(answers))
        assert answers[0].envelope.in_reply_to == request
    finally:
        await fake.stop()


async def test_bridging_tied_to_its_escalation_through_repayment_missed_date_overdue(
    start_hub: Any, client: ClientFactory, clock: FakeClock, tmp_path: Path
) -> None:
    hub = await start_hub(agreements())
    gm = await start_municipality(client, tmp_path)
    loket_client = await client("loket")
    loket = LoketAdapter(loket_client, CaseStore(tmp_path / "loket-cases"))
    loket_seen: list[Delivery] = []
    await recording(loket_client, loket_seen)
    await loket_client.consume()
    let = await client("let")
    let_seen: list[Delivery] = []
    await recording(let, let_seen)
    await let.consume()
    fake = await FakeBackOffice("uwv", token=TOKEN).start()
    uwv = await client("uwv")
    uwv_adapter = AgencyAdapter(uwv, BackOffice(fake.url, token=TOKEN, timeout=2.0),
                                PROFILES["uwv"])
    uwv_seen: list[Delivery] = []
    await recording(uwv, uwv_seen)
    settlements: list[Delivery] = []
    original = uwv_adapter.on_settlement

    async def keep_settlement(delivery: Delivery) -> Any:
        settlements.append(delivery)
        return await original(delivery)

    uwv.on("bridging.settlement")(keep_settlement)
    await uwv.consume()
    case = "ZW-2026-0200"

    def refusals() -> list[Any]:
        return [d.envelope.body for d in of(loket_seen, "notice.refused")]

    try:
        # no escalation yet: refused, with the reason
        await loket.decide_bridging(case, "gm0193", loket_reference=REF, decision="prefinance",
                                    amount_cents=245000, creditor_kind="housing_corporation",
                                    referred_to_let=True)
        await wait_for(lambda: len(refusals()) == 1)
        assert refusals()[0].reason_code.value == "bridging_rule"
        assert "needs its escalation" in refusals()[0].detail

        escalation = await gm.escalate(case, ESCALATION)
        await wait_for(lambda: bool(received(loket, case, "escalation.request")))
        await loket.answer_escalation(case, escalation, outcome="accepted",
                                      loket_reference=REF, next_step="bridging")
        # the next step after the hub recorded the previous one (it routes concurrently, and
        # records a message after the recipient has it)
        await escalation_state(hub, case, "accepted")
        await loket.decide_bridging(case, "gm0193", loket_reference=REF, decision="prefinance",
                                    amount_cents=245000, creditor_kind="housing_corporation",
                                    referred_to_let=True)
        await wait_for(lambda: bool(received(gm, case, "bridging.decision")))
        await bridging_state(hub, case, "decided")
        # the LET has not named anyone yet: a settlement is refused
        due = clock().date()
        await loket.settle(case, "uwv", loket_reference=REF, amount_cents=245000, due_on=due)
        await wait_for(lambda: len(refusals()) == 2)
        assert "has not named the responsible party" in refusals()[1].detail

        await loket.refer_to_let(case, loket_reference=REF, agencies_involved=["uwv"],
                                 problem_areas=["benefits"], question="Who repays the rent?",
                                 bridging_amount_cents=245000)
        await wait_for(lambda: bool(of(let_seen, "let.referral")))
        await let.send(of(let_seen, "let.referral")[0].reply("let.decision", {
            "loket_reference": REF, "decision": "responsible_party_named",
            "responsible_party": "uwv"}))
        await wait_for(lambda: bool(received(loket, case, "let.decision")))
        await escalation_state(hub, case, "decided")
        # to another party than the LET named: refused
        await loket.settle(case, "svb", loket_reference=REF, amount_cents=245000, due_on=due)
        await wait_for(lambda: len(refusals()) == 3)
        assert "named uwv responsible" in refusals()[2].detail

        settlement = await loket.settle(case, "uwv", loket_reference=REF, amount_cents=245000,
                                        due_on=due)
        await wait_for(lambda: bool(of(loket_seen, "notice.overdue")), timeout=30)
        await asyncio.sleep(1.5)  # more ticks: each notice once
        assert len(of(uwv_seen, "notice.reminder")) == 1
        assert len(of(loket_seen, "notice.reminder")) == 1  # the loket's copy
        (overdue,) = of(loket_seen, "notice.overdue")
        assert overdue.envelope.body.message_id == settlement  # type: ignore[attr-defined]
        assert overdue.envelope.body.late_participant == "uwv"  # type: ignore[attr-defined]
        (line,) = (await case_of(hub, case)).bridging
        assert (line.state, line.open_cents, line.overdue_at is not None) == (
            "repayment_requested", 245000, True)

        await wait_for(lambda: bool(settlements))
        await uwv_adapter.confirm_repayment(settlements[0].document, amount_cents=245000,
                                            repaid_on=due)
        await wait_for(lambda: bool(received(loket, case, "bridging.repaid")))
        await bridging_state(hub, case, "repaid")
        (line,) = (await case_of(hub, case)).bridging
        assert (line.repaid_cents, line.open_cents, line.responsible_party) == (245000, 0, "uwv")
        totals = bridging.totals(await bridging.all_records(hub.ledger.db))
        assert [(t.party, t.prefinanced_cents, t.repaid_cents, t.open_cents)
                for t in totals] == [("uwv", 245000, 245000, 0)]
    finally:
        await fake.stop()


async def bridging_state(hub: HubService, case: str, state: str, timeout: float = 15) -> None:
    for _ in range(int(timeout / 0.1)):
        lines = (await case_of(hub, case)).bridging
        if lines and lines[0].state == state:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"bridging of {case} never became {state}")


async def escalation_state(hub: HubService, case: str, state: str, timeout: float = 15) -> None:
    for _ in range(int(timeout / 0.1)):
        if any(e.state == state for e in (await case_of(hub, case)).escalations):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the escalation of {case} never became {state}")
