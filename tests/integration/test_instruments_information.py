"""Afstemmingsbepaling through the real broker: a municipality asks CJIB for information; CJIB's
reference adapter answers only what the information rule allows and refuses the rest naming the
rule; the hub refuses a request without a rule or with another legal ground, and an answer that
carries more than the rule allows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.agencies import PROFILES, AgencyAdapter
from adapters.cases import CaseStore
from adapters.municipality import MunicipalityAdapter
from adapters.sdk import BackOffice
from hub.ops.status import render
from hub.service import HubService
from tests.conftest import ClientFactory
from tests.helpers import BSN, case_of, collect, wait_for
from tests.support.fake_backoffice import FakeBackOffice

pytestmark = [pytest.mark.broker, pytest.mark.timeout(90)]
CASE = "ZW-2026-0042"
RULE = "info-timeout-preparation-cjib"


def ask(*fields: str, purpose: str = "timeout_preparation",
        ground: str = "pmm-afstemming") -> dict[str, Any]:
    return {"bsn": BSN, "purpose_code": purpose, "legal_ground": ground, "fields": list(fields)}


@pytest.fixture
async def cjib_office() -> AsyncIterator[FakeBackOffice]:
    fake = await FakeBackOffice("cjib").start()
    yield fake
    await fake.stop()


def answers(gm: MunicipalityAdapter, type_name: str = "info.response") -> dict[str, Any]:
    return {e["message"]["in_reply_to"]: e["message"] for e in gm.store.case(CASE)
            if e["direction"] == "received" and e["message"]["type"] == type_name}


async def test_answered_within_the_policy_and_refused_with_the_rule_named(
    hub: HubService, client: ClientFactory, cjib_office: FakeBackOffice, tmp_path: Path
) -> None:
    cjib = await client("cjib")
    AgencyAdapter(cjib, BackOffice(cjib_office.url, timeout=2.0), PROFILES["cjib"])
    await cjib.consume()
    gm = MunicipalityAdapter(await client("gm0193"), CaseStore(tmp_path / "gm"))
    await gm.client.consume()

    within = await gm.request_information("cjib", CASE, ask(
        "debt_total_cents", "debt_references", "collection_status", "contact"))
    refused = await gm.request_information("cjib", CASE, ask("monthly_income_cents"))
    partly = await gm.request_information("cjib", CASE, ask("debt_total_cents",
                                                           "monthly_income_cents"))
    await wait_for(lambda: len(answers(gm)) == 3, timeout=20)
    got = answers(gm)

    assert got[str(within)]["body"] == {
        "outcome": "answered", "rule": RULE,
        "items": {"debt_total_cents": 48_200, "debt_references": ["1234567890123456"],
                  "collection_status": "in_collection",
                  "contact": {"name": "Maatwerkfunctionaris CJIB",
                              "email": "maatwerk@cjib.example", "phone": "+31 58 000 0006"}}}
    assert got[str(refused)]["body"] == {
        "outcome": "refused", "rule": RULE, "refused_fields": ["monthly_income_cents"],
        "refusal_reason": "not_allowed_for_purpose"}
    assert got[str(partly)]["body"] == {
        "outcome": "partially_answered", "rule": RULE, "items": {"debt_total_cents": 48_200},
        "refused_fields": ["monthly_income_cents"], "refusal_reason": "not_allowed_for_purpose"}
    # the back office was asked only for what the rule allows; never for the income
    asked = [call.payload["fields"] for call in cjib_office.log]
    assert sorted(map(sorted, asked)) == [["collection_status", "debt_references",
                                           "debt_total_cents"], ["debt_total_cents"]]
    assert all(call.payload["bsn"] == BSN for call in cjib_office.log)

    status = await case_of(hub, CASE)
    assert {(i.state, tuple(i.refused_fields)) for i in status.information} == {
        ("answered", ()), ("refused", ("monthly_income_cents",)),
        ("partially_answered", ("monthly_income_cents",))}
    text = render(status)
    assert f"gm0193 -> cjib (timeout_preparation, rule {RULE}): refused" in text
    assert "48200" not in text and BSN not in text
    refusals = (await hub.knelpunten()).information_refusals
    assert refusals == [{"rule": RULE, "holder": "cjib", "purpose_code": "timeout_preparation",
                         "requests": 3, "refused": 2}]


async def test_the_hub_refuses_requests_and_answers_outside_the_rules(
    hub: HubService, client: ClientFactory
) -> None:
    gm, cjib = await client("gm0193"), await client("cjib")
    gm_inbox, cjib_inbox = await collect(gm), await collect(cjib)

    no_rule = gm.message(type="info.request", recipient="cjib", case_id=CASE,
                         body=ask("monthly_income_cents", purpose="income_check",
                                  ground="participatiewet-64"))
    wrong_ground = gm.message(type="info.request", recipient="cjib", case_id=CASE,
                              body=ask("debt_total_cents", ground="wgs-schuldhulp"))
    good = gm.message(type="info.request", recipient="cjib", case_id=CASE,
                      body=ask("debt_total_cents"))
    for document in (no_rule, wrong_ground, good):
        await gm.send(document)
    await wait_for(lambda: len([d for d in gm_inbox if d.envelope.type == "notice.refused"]) == 2
                   and any(d.envelope.type == "info.request" for d in cjib_inbox), timeout=20)
    notices = {str(d.envelope.body.refused_message_id): d.envelope.body for d in gm_inbox
               if d.envelope.type == "notice.refused"}
    assert notices[no_rule["id"]].reason_code == "policy_no_rule"
    assert "no information rule" in notices[no_rule["id"]].detail
    assert notices[wrong_ground["id"]].reason_code == "policy_legal_ground"
    assert notices[wrong_ground["id"]].rule == RULE

    # CJIB (not through its reference adapter) answers with more than the rule allows
    request = next(d for d in cjib_inbox if d.envelope.type == "info.request")
    over = request.reply("info.response", {
        "outcome": "answered", "rule": RULE,
        "items": {"debt_total_cents": 48_200, "monthly_income_cents": 131_000}})
    await cjib.send(over)
    await wait_for(lambda: any(d.envelope.type == "notice.refused" for d in cjib_inbox),
                   timeout=20)
    refusal = next(d.envelope.body for d in cjib_inbox if d.envelope.type == "notice.refused")
    assert refusal.reason_code == "policy_field_not_allowed"
    assert refusal.rule == RULE
    assert refusal.field_paths == ["items.monthly_income_cents"]
    assert "131000" not in refusal.detail
    assert not any(d.envelope.type == "info.response" for d in gm_inbox)
