"""The cast of the demo: the stage with the people on it (the loket's and UWV's staff, the LET)
and what every act uses (the maatwerkfunctionaris's case system posting a message, waiting for
an event). The acts (:mod:`demo.opening`, :mod:`demo.ladder`, :mod:`demo.play`) take a
:class:`Cast`."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx

from adapters.agencies import PROFILES, AgencyAdapter
from adapters.cases import CaseStore
from adapters.loket import LoketAdapter
from adapters.sdk.backoffice import BackOffice
from adapters.sdk.delivery import Delivery, Reply
from demo import case
from demo.options import DemoError, DemoOptions
from demo.stage import Stage
from demo.story import Story, euro
from hub.config import Settings

__all__ = ["Cast"]


class Cast(Stage):
    def __init__(self, options: DemoOptions, settings: Settings, story: Story) -> None:
        super().__init__(options, settings, story)
        self.case_id = options.case_id or f"ZW-{date.today().year}-{secrets.token_hex(3).upper()}"
        self._desk: LoketAdapter | None = None
        self._uwv_desk: AgencyAdapter | None = None
        self.requests: dict[str, str] = {}  # agency -> id of its timeout.request
        self.svb_sent = 0.0  # when SVB's request went out (its deadlines count from there)
        self.thread: dict[str, Any] = {}  # the escalation's conversation, for the loket's steps

    @property
    def desk(self) -> LoketAdapter:
        """The loket's staff: the loket adapter's Python API."""
        assert self._desk is not None, "start_processes() first"
        return self._desk

    @property
    def uwv_desk(self) -> AgencyAdapter:
        """UWV's staff: the agency adapter's Python API (publishing only; UWV's adapter process
        consumes its inbox)."""
        assert self._uwv_desk is not None, "start_processes() first"
        return self._uwv_desk

    async def start_processes(self) -> None:
        await super().start_processes()
        # The people: the loket's and UWV's staff publish through their adapters' Python API,
        # the LET answers referrals through an SDK client of its own.
        loket_client = self._client("loket", "desk-loket")
        await loket_client.connect()
        self._desk = LoketAdapter(loket_client, CaseStore(self.state / "desk-loket" / "cases"))
        assert self.offices is not None
        uwv = self._client(case.RESPONSIBLE, "desk-uwv")
        await uwv.connect()
        self.backoffices.append(BackOffice(self.offices.backoffice_url(case.RESPONSIBLE),
                                           token=self.offices.token))
        self._uwv_desk = AgencyAdapter(uwv, self.backoffices[-1], PROFILES[case.RESPONSIBLE])
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
        """The maatwerkfunctionaris's case system posts to the municipality adapter's API
        (``extra``: envelope fields; ``case_id`` for a message outside the case)."""
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
