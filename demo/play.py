"""The people and the worked case: the maatwerkfunctionaris (through the municipality adapter's
HTTP API, as a case system would), the loket's staff (the loket adapter's Python API) and the
Landelijk Escalatie Team (an SDK client; there is no LET reference adapter), playing the case on
the :class:`~demo.stage.Stage` step by step."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from adapters.cases import CaseStore
from adapters.loket import LoketAdapter
from adapters.sdk.delivery import Delivery, Reply
from demo import case
from demo.options import DemoError, DemoOptions
from demo.stage import Stage
from demo.story import Story, euro
from hub.config import Settings
from hub.ops.status import CaseStatus, render

__all__ = ["Demo"]


class Demo(Stage):
    def __init__(self, options: DemoOptions, settings: Settings, story: Story) -> None:
        super().__init__(options, settings, story)
        self.case_id = options.case_id or f"ZW-{date.today().year}-{secrets.token_hex(3).upper()}"
        self.loket: LoketAdapter | None = None

    async def start_processes(self) -> None:
        await super().start_processes()
        # The people: the loket's staff publish through the loket adapter's Python API, the LET
        # answers referrals through an SDK client of its own.
        loket_client = self._client("loket", "desk-loket")
        await loket_client.connect()
        self.loket = LoketAdapter(loket_client, CaseStore(self.state / "desk-loket" / "cases"))
        let = self._client("let", "let")
        let.on("let.referral")(self._let_decides)
        await let.connect()
        await let.consume()

    async def _let_decides(self, delivery: Delivery) -> Reply:
        body = delivery.envelope.body
        self.story.line(delivery.envelope.sender, "let", "let.referral",
                        f"{getattr(body, 'question', '')} (bridging "
                        f"{euro(getattr(body, 'bridging_amount_cents', 0) or 0)})")
        await asyncio.sleep(1.0)  # the LET meets
        return delivery.reply("let.decision", {
            "loket_reference": getattr(body, "loket_reference", self.loket_reference),
            "decision": "responsible_party_named", "responsible_party": case.RESPONSIBLE,
            "explanation": case.LET_EXPLANATION})

    async def municipality_sends(self, http: httpx.AsyncClient, type_name: str, recipient: str,
                                 body: dict[str, Any], summary: str,
                                 **extra: str) -> str:
        """The maatwerkfunctionaris's case system posts to the municipality adapter's API."""
        self.check_children()
        answer = await http.post("/messages", json={
            "type": type_name, "recipient": recipient, "case_id": self.case_id, "body": body,
            **extra})
        if answer.status_code != 202:
            raise DemoError(f"the municipality adapter did not take the {type_name}: "
                            f"{answer.status_code} {answer.text}")
        message_id = str(answer.json()["id"])
        self.story.sent(message_id, type_name, case.MUNICIPALITY, recipient, summary)
        return message_id

    async def until(self, what: str, predicate: Callable[[], bool], within: float) -> None:
        deadline = time.monotonic() + within
        while not predicate():
            self.check_children()
            if time.monotonic() > deadline:
                raise DemoError(f"waited {within:.0f} s for {what}; logs in "
                                f"{self.state / 'logs'}")
            await asyncio.sleep(0.1)

    # -- the case ------------------------------------------------------------------------------

    async def play(self) -> None:
        story, gm, cid = self.story, case.MUNICIPALITY, self.case_id
        assert self.loket is not None
        loket = self.loket
        story.say()
        story.say(case.HOUSEHOLD)
        story.say()
        story.say(f"Case id: {cid} (opaque: no BSN in it). Deadlines in this demo: receipt "
                  f"{self.options.receipt_seconds:g} s, answer {self.options.response_seconds:g} s "
                  "(normally 15 minutes and 2 working days).")
        today = date.today()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.gm_port}",
                                     timeout=10.0) as http:
            story.step(1, "The maatwerkfunctionaris looks up the agencies' contact points in "
                          "the Maatwerkregister (maatwerk-hub register list)")
            assert self.registry is not None
            for p in self.registry.of_kind("agency"):
                story.note(f"{p.id:<16} {p.contact.contact_point} <{p.contact.email}> "
                           f"{p.contact.phone}")

            story.step(2, "A first time-out request to DUO also carries the situation summary: "
                          "the hub refuses it, DUO never sees it")
            await self.municipality_sends(http, "timeout.request", "duo",
                                          case.oversharing_request(today),
                                          "with the situation summary (too much for DUO)")
            await self.until("the refusal", lambda: bool(story.got(gm, "notice.refused")), 20)

            story.step(3, "Time-out requests to the five agencies, each with only what that "
                          "agency needs (BSN, its own references, period, reason)")
            requests: dict[str, str] = {}
            for agency in case.AGENCIES:
                requests[agency] = await self.municipality_sends(
                    http, "timeout.request", agency, case.timeout_request(agency, today),
                    f"{case.REQUESTED_MONTHS} months from {today}, "
                    f"{', '.join(case.SCOPES[agency])}; reason {case.REASONS[agency]}")
            svb_sent = time.monotonic()
            await self.until("the agencies' answers", lambda: len(story.got(
                gm, "timeout.response")) >= 4 and len(story.got(gm, "receipt")) >= 5, 40)

            story.step(4, "The rent arrears cannot wait: escalation to the Landelijk "
                          "Maatwerkloket")
            escalation = case.escalation()
            await self.municipality_sends(
                http, "escalation.request", "loket", escalation,
                story.summary({"type": "escalation.request", "body": escalation}))
            await self.until("the loket's answer", lambda: bool(
                story.got(gm, "escalation.response")), 30)
            answer = story.got(gm, "escalation.response")[0]
            # the municipality's receipt passes the hub only once the answer is recorded
            await self.until("the municipality's receipt of the answer", lambda: any(
                d.get("in_reply_to") == answer["id"] for d in story.got("loket", "receipt")), 30)
            thread = {"recipient": gm, "case_id": cid, "in_reply_to": answer["in_reply_to"],
                      "conversation_id": answer["conversation_id"]}
            await loket.publish(type="escalation.progress", **thread, body={
                "loket_reference": self.loket_reference, "step": "bridging"})
            await self.until("the loket's progress", lambda: bool(
                story.got(gm, "escalation.progress")), 30)

            story.step(5, "Overbruggingsprocedure: the loket prefinances the rent arrears now")
            decision_id = await loket.decide_bridging(
                cid, gm, loket_reference=self.loket_reference, decision="prefinance",
                amount_cents=case.RENT_ARREARS_CENTS, creditor_kind="housing_corporation",
                referred_to_let=True)
            story.sent(str(decision_id), "bridging.decision", "loket", gm,
                       f"prefinance {euro(case.RENT_ARREARS_CENTS)} of rent arrears to the "
                       "housing corporation; referred to the LET")
            await self.until("the bridging decision", lambda: bool(
                story.got(gm, "bridging.decision")), 30)

            story.step(6, "The loket refers the case to the Landelijk Escalatie Team (LET): "
                          "who carries the cost?")
            referral_id = await loket.refer_to_let(
                cid, loket_reference=self.loket_reference,
                agencies_involved=[case.RESPONSIBLE, "belastingdienst"],
                problem_areas=["housing", "benefits"], question=case.LET_QUESTION,
                bridging_amount_cents=case.RENT_ARREARS_CENTS)
            story.types[str(referral_id)] = "let.referral"
            await self.until("the LET's decision, at the loket and (the hub's copy) at the "
                             "municipality", lambda: bool(story.got("loket", "let.decision")
                                                          and story.got(gm, "let.decision")), 30)

            story.step(7, "Settlement: the party the LET named repays the prefinanced amount; "
                          "the loket closes the escalation")
            due = today + timedelta(days=60)
            settlement_id = await loket.settle(
                cid, case.RESPONSIBLE, loket_reference=self.loket_reference,
                amount_cents=case.RENT_ARREARS_CENTS, due_on=due)
            story.sent(str(settlement_id), "bridging.settlement", "loket", case.RESPONSIBLE,
                       f"repay {euro(case.RENT_ARREARS_CENTS)} by {due}")
            await self.until("the settlement at UWV", lambda: any(
                c.participant == case.RESPONSIBLE and "amount_cents" in c.payload
                for c in story.calls), 30)
            await self.until("UWV's repayment", lambda: bool(
                story.got("loket", "bridging.repaid")), 30)
            await loket.publish(type="escalation.closed", **thread, body={
                "loket_reference": self.loket_reference, "outcome": "let_decided"})
            await self.until("the escalation closed", lambda: bool(
                story.got(gm, "escalation.closed")), 30)

            story.step(8, "SVB sent a receipt but no answer: the hub reminds SVB, then tells "
                          "the loket it is overdue")
            waited = time.monotonic() - svb_sent
            left = max(0.0, 2 * self.options.response_seconds - waited)
            story.note(f"SVB's answer was due {self.options.response_seconds:g} s after the "
                       f"request; overdue about {left:.0f} s from now")
            grace = 2 * self.options.response_seconds + 10 * self.options.watch_seconds + 30
            await self.until("the reminder to SVB", lambda: bool(
                story.got(gm, "notice.reminder")), grace)
            await self.until("the overdue notice to the loket", lambda: bool(
                story.got("loket", "notice.overdue")), grace)

            story.step(9, "Later, the household is stable: the municipality lifts the "
                          "Toeslagen time-out; the hub ends it and tells both sides")
            sent = json.loads((await http.get(f"/cases/{cid}")).text)["messages"]
            request = next(e["message"] for e in sent
                           if e["message"]["id"] == requests["belastingdienst"])
            await self.municipality_sends(
                http, "timeout.lift", "belastingdienst",
                {"lift_on": today.isoformat(), "reason_code": "household_stable"},
                f"lift on {today}: household stable", in_reply_to=request["id"],
                conversation_id=request["conversation_id"])
            await self.until("the end of the Toeslagen time-out", lambda: bool(
                story.got(gm, "timeout.ended")), 30 + 10 * self.options.watch_seconds)

    async def final_status(self) -> CaseStatus:
        async with httpx.AsyncClient(timeout=10.0) as http:
            answer = await http.get(f"{self.hub_base}/cases/{quote(self.case_id, safe='')}")
        answer.raise_for_status()
        return CaseStatus.model_validate_json(answer.text)

    def print_end(self, status: CaseStatus) -> None:
        story = self.story
        story.say()
        story.say("=" * 100)
        story.say("The case as the hub recorded it (maatwerk-hub status "
                  f"{self.case_id}; no personal data is stored):")
        story.say()
        story.say(render(status))
        story.say()
        story.say("=" * 100)
        quoted = quote(self.case_id, safe="")
        story.say(f"Console:           {self.hub_base}/console")
        story.say(f"This case:         {self.hub_base}/console/cases/{quoted}  "
                  f"(JSON: {self.hub_base}/cases/{quoted})")
        story.say(f"Metrics:           {self.hub_base}/metrics")
        story.say(f"Municipality API:  http://127.0.0.1:{self.gm_port}/cases/{quoted}")
        story.say(f"RabbitMQ:          {urlsplit(self.options.management_url).hostname}:"
                  f"{urlsplit(self.options.management_url).port or 15672} (management UI)")
        story.say(f"Logs:              {self.state / 'logs'}/")
