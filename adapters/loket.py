"""The Landelijk Maatwerkloket adapter: escalations in, LET referrals and overbrugging out.

Received messages (escalation.request, let.decision, notice.overdue, receipts, notices) are kept
in the case store and POSTed to ``MAATWERK_WEBHOOK_URL`` when set. With ``BACKOFFICE_URL`` set,
an escalation is also POSTed to the loket's case system, whose answer becomes the
``escalation.response`` (contract in docs/adapters/loket.md); without it a person answers with
:meth:`LoketAdapter.answer_escalation`. The other actions are a small Python API (and
``maatwerk-adapter send`` for any of them):

- :meth:`report_progress`: ``escalation.progress`` to the party that escalated;
- :meth:`close_escalation`: ``escalation.closed`` to the party that escalated;
- :meth:`refer_to_let`: ``let.referral`` to the Landelijk Escalatie Team;
- :meth:`decide_bridging`: ``bridging.decision`` (prefinance or guarantee) to the municipality;
- :meth:`settle`: ``bridging.settlement`` to the party the LET named responsible (the hub
  refuses it before the LET named that party); ``bridging.repaid`` comes back when it paid;
- :meth:`deviation_register`: the register of deviations (``deviation.record``) received, per
  case, kept in the case store (the hub keeps the same register without the free text, for the
  knelpunten report).

The hub keeps each escalation's state and step deadlines (docs/escalation.md): a loket that lets
a step pass is reminded once, and the LET and the party that escalated are told once.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from adapters.cases import CaseAdapter, CaseStore
from adapters.sdk.backoffice import BackOffice, BackOfficeAnswer
from adapters.sdk.client import HubClient
from adapters.sdk.delivery import Delivery, Reply
from adapters.sdk.errors import PermanentError
from hub.contract.bodies import EscalationRequest


class LoketAdapter(CaseAdapter):
    """The Maatwerkloket's connection to the hub."""

    def __init__(self, client: HubClient, store: CaseStore, *,
                 backoffice: BackOffice | None = None, webhook_url: str | None = None) -> None:
        self.backoffice = backoffice
        super().__init__(client, store, webhook_url=webhook_url)
        if backoffice is not None:
            client.on("escalation.request")(self.on_escalation)

    async def on_escalation(self, delivery: Delivery) -> Reply:
        """Keep the escalation, hand it to the case system, answer with its decision."""
        await self.receive(delivery)
        assert self.backoffice is not None
        body = delivery.envelope.body
        assert isinstance(body, EscalationRequest)
        backoffice, message_id = self.backoffice, str(delivery.envelope.id)
        payload = {"request_id": message_id, "case_id": delivery.envelope.case_id,
                   "municipality_participant": delivery.envelope.sender,
                   **body.model_dump(mode="json", exclude_none=True)}
        answer = await delivery.once(
            "backoffice",
            lambda: backoffice.post("/escalations", payload, idempotency_key=message_id),
            lambda a: a.to_json(), BackOfficeAnswer.from_json)
        if not answer.ok:
            raise PermanentError(f"the loket's case system refused the escalation: "
                                 f"{answer.status}")
        fields = ("outcome", "loket_reference", "next_step", "explanation")
        return delivery.reply("escalation.response",
                              {k: answer.body[k] for k in fields if answer.body.get(k)})

    async def answer_escalation(self, case_id: str, request_id: str | UUID, *, outcome: str,
                                loket_reference: str, next_step: str,
                                explanation: str | None = None) -> UUID:
        body: dict[str, Any] = {"outcome": outcome, "loket_reference": loket_reference,
                                "next_step": next_step}
        if explanation:
            body["explanation"] = explanation
        return await self.publish(type="escalation.response", body=body,
                                  **self.answer_to(case_id, request_id, "escalation.response"))

    async def report_progress(self, case_id: str, request_id: str | UUID, *,
                              loket_reference: str, step: str,
                              explanation: str | None = None) -> UUID:
        """``escalation.progress``: the loket works on the case (mediation, bridging, ...)."""
        body: dict[str, Any] = {"loket_reference": loket_reference, "step": step}
        if explanation:
            body["explanation"] = explanation
        envelope = self.answer_to(case_id, request_id, "escalation.progress")
        del envelope["message_id"]  # progress may be reported more than once
        return await self.publish(type="escalation.progress", body=body, **envelope)

    async def close_escalation(self, case_id: str, request_id: str | UUID, *,
                               loket_reference: str, outcome: str,
                               explanation: str | None = None) -> UUID:
        """``escalation.closed``: resolved, the LET decided, no solution, or withdrawn."""
        body: dict[str, Any] = {"loket_reference": loket_reference, "outcome": outcome}
        if explanation:
            body["explanation"] = explanation
        return await self.publish(type="escalation.closed", body=body,
                                  **self.answer_to(case_id, request_id, "escalation.closed"))

    async def refer_to_let(self, case_id: str, *, loket_reference: str,
                           agencies_involved: list[str], problem_areas: list[str], question: str,
                           bridging_amount_cents: int | None = None) -> UUID:
        body: dict[str, Any] = {"loket_reference": loket_reference,
                                "agencies_involved": agencies_involved,
                                "problem_areas": problem_areas, "question": question}
        if bridging_amount_cents is not None:
            body["bridging_amount_cents"] = bridging_amount_cents
        return await self.publish(type="let.referral", recipient="let", case_id=case_id,
                                  body=body)

    async def decide_bridging(self, case_id: str, municipality: str, *, loket_reference: str,
                              decision: str, amount_cents: int, creditor_kind: str,
                              referred_to_let: bool) -> UUID:
        return await self.publish(type="bridging.decision", recipient=municipality,
                                  case_id=case_id, body={
                                      "loket_reference": loket_reference, "decision": decision,
                                      "amount_cents": amount_cents,
                                      "creditor_kind": creditor_kind,
                                      "referred_to_let": referred_to_let})

    async def settle(self, case_id: str, responsible_party: str, *, loket_reference: str,
                     amount_cents: int, due_on: date) -> UUID:
        return await self.publish(type="bridging.settlement", recipient=responsible_party,
                                  case_id=case_id, body={
                                      "loket_reference": loket_reference,
                                      "responsible_party": responsible_party,
                                      "amount_cents": amount_cents,
                                      "due_on": due_on.isoformat()})

    def deviation_register(self) -> list[dict[str, Any]]:
        """Every deviation recorded with the loket, oldest first: case, organisation, and the
        record as sent (rule, decision, period, role, legal ground, approval)."""
        out = []
        for folder in sorted(p for p in self.store.folder.iterdir() if p.is_dir()):
            for entry in self.store.case(folder.name):
                message = entry["message"]
                if entry["direction"] == "received" and message["type"] == "deviation.record":
                    out.append({"case_id": message["case_id"], "organisation": message["sender"],
                                "recorded_at": message["created_at"], **message["body"]})
        return sorted(out, key=lambda d: str(d["recorded_at"]))
