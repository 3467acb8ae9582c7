"""What every agency adapter shares: hub messages in, back-office REST calls out, answers back.

An agency is described by an :class:`AgencyProfile` (its pause instrument, REST path, how its own
references are named, how its refusal codes map to :class:`hub.contract.bodies.DeclineReason`); the
:class:`AgencyAdapter` does the rest. The REST contract, the same shape for every agency:

==================== ========================================= ===============================
hub message          back-office call                          answer becomes
==================== ========================================= ===============================
timeout.request      POST {pause_path}                         timeout.response
timeout.extend       POST {pause_path}/{pause_id}/extensions   timeout.response
timeout.lift         POST {pause_path}/{pause_id}/lift         (nothing; 2xx expected)
timeout.ended        POST {pause_path}/{pause_id}/end          (nothing; 2xx expected)
bridging.settlement  POST {settlement_path}                    bridging.repaid when the answer
                                                               says ``repaid_on`` (else later,
                                                               :meth:`confirm_repayment`)
info.request         POST /information                         info.response (policy-cut)
==================== ========================================= ===============================

An agency may escalate a case to the Maatwerkloket itself (:meth:`AgencyAdapter.escalate`, the
loket is open to national agencies too); the loket's answers and the hub's copy of the LET's
decision come back as received messages. An agency ends or suspends a pause itself through
``adapter.instruments`` (:mod:`adapters.agencies.instruments`).

``pause_id`` is the id of the hub's ``timeout.request`` message (``request_id`` of the first
call). A pause answer (2xx) is ``{"decision": "granted" | "partially_granted" | "refused",
"from": "YYYY-MM-DD", "until": "YYYY-MM-DD", "paused": [scope...], "not_paused": [scope...],
"code": str, "explanation": str}``, every field but ``decision`` optional. A 4xx answer
``{"code": str, "detail": str}`` is the back office's refusal and becomes a declined response
(404: ``reference_unknown``, 409: ``already_paused``, 400/422: ``insufficient_information``,
unless ``code`` maps to a reason). Failures without an answer are retried; after the retries a
pause request is declined with ``back_office_unavailable`` and the other types are dead-lettered.
"""

from __future__ import annotations

import calendar
import json
import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from adapters.agencies.instruments import AgencyInstruments
from adapters.sdk.backoffice import BackOffice, BackOfficeAnswer
from adapters.sdk.client import HubClient
from adapters.sdk.delivery import Delivery, Reply
from adapters.sdk.errors import PermanentError, TransientError
from hub.contract.bodies import (
    BridgingSettlement,
    DeclineReason,
    TimeoutEnded,
    TimeoutExtend,
    TimeoutLift,
    TimeoutOutcome,
    TimeoutRequest,
    TimeoutResponse,
)
from hub.contract.policy import Policy, load_policy

log = logging.getLogger("maatwerk.adapter")

OUTCOMES = {
    "granted": TimeoutOutcome.ACCEPTED,
    "partially_granted": TimeoutOutcome.PARTIALLY_ACCEPTED,
    "refused": TimeoutOutcome.DECLINED,
}
STATUS_REASONS = {
    404: DeclineReason.REFERENCE_UNKNOWN,
    409: DeclineReason.ALREADY_PAUSED,
    400: DeclineReason.INSUFFICIENT_INFORMATION,
    422: DeclineReason.INSUFFICIENT_INFORMATION,
}
UNAVAILABLE = ("The back office could not be reached; the agency's maatwerkfunctionaris "
               "follows up. The request may be sent again.")


@dataclass(frozen=True, kw_only=True)
class AgencyProfile:
    """One agency's instrument and REST API."""

    participant: str
    instrument: str
    pause_path: str
    references: dict[str, str]
    """AgencyReferences attribute -> key in the pause request JSON."""
    refusals: dict[str, DeclineReason] = field(default_factory=dict)
    """The back office's own refusal codes -> the hub's decline reasons."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Fixed fields of every pause request (CJIB: ``stop_surcharges``)."""
    scope: tuple[str, ...] = ("collection",)
    """What the instrument pauses when the back office does not list it (extensions)."""
    settlement_path: str = "/settlements"


def add_months(start: date, months: int) -> date:
    month = start.month - 1 + months
    year, month = start.year + month // 12, month % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


class AgencyAdapter:
    """Connects one agency's back office to its hub inbox."""

    def __init__(self, client: HubClient, backoffice: BackOffice, profile: AgencyProfile,
                 policy: Policy | None = None) -> None:
        if client.id != profile.participant:
            raise ValueError(f"client is {client.id}, profile is {profile.participant}")
        self.client = client
        self.backoffice = backoffice
        self.profile = profile
        contact = client.participant.contact
        self.contact = {"name": contact.contact_point, "email": contact.email,
                        "phone": contact.phone}
        client.on("timeout.request")(self.on_request)
        client.on("timeout.extend")(self.on_extend)
        client.on("timeout.lift")(self.on_lift)
        client.on("timeout.ended")(self.on_ended)
        client.on("bridging.settlement")(self.on_settlement)
        client.on_exhausted("timeout.request", "timeout.extend")(self.unavailable)
        self.instruments = AgencyInstruments(client, backoffice, policy or load_policy(),
                                             self.contact)
        """info.request, and ending or suspending a pause (:mod:`adapters.agencies.instruments`)."""

    async def call(self, delivery: Delivery, path: str,
                   payload: dict[str, Any]) -> BackOfficeAnswer:
        """POST to the back office once per message id (recorded durably, see Delivery.once)."""
        message_id = str(delivery.envelope.id)

        async def post() -> BackOfficeAnswer:
            return await self.backoffice.post(path, {"request_id": message_id, **payload},
                                              idempotency_key=message_id)

        return await delivery.once("backoffice", post, BackOfficeAnswer.to_json,
                                   BackOfficeAnswer.from_json)

    # -- handlers -------------------------------------------------------------------------------

    async def on_request(self, delivery: Delivery) -> Reply:
        body = delivery.envelope.body
        assert isinstance(body, TimeoutRequest)
        payload: dict[str, Any] = {
            "case_id": delivery.envelope.case_id,
            "bsn": body.bsn,
            **{key: getattr(body.references, attr) or []
               for attr, key in self.profile.references.items()},
            "start": body.requested_from.isoformat(),
            "months": body.requested_months,
            "reason": body.reason_code.value,
            "scope": [s.value for s in body.scope],
            "debt_assistance_started": body.debt_assistance_started,
            **self.profile.extra,
        }
        answer = await self.call(delivery, self.profile.pause_path, payload)
        await self.instruments.remember_pause(delivery)
        return delivery.reply("timeout.response", self.response_body(
            answer, body.requested_from, body.requested_months, [s.value for s in body.scope]))

    async def on_extend(self, delivery: Delivery) -> Reply:
        body = delivery.envelope.body
        assert isinstance(body, TimeoutExtend)
        payload = {"months": body.extend_months, "reason": body.reason_code.value,
                   "debt_assistance_started": body.debt_assistance_started}
        answer = await self.call(delivery, self._pause(delivery, "extensions"), payload)
        return delivery.reply("timeout.response", self.response_body(
            answer, delivery.created_at.date(), body.extend_months, list(self.profile.scope)))

    async def on_lift(self, delivery: Delivery) -> Reply:
        body = delivery.envelope.body
        assert isinstance(body, TimeoutLift)
        await self.notify(delivery, self._pause(delivery, "lift"),
                          {"lift_on": body.lift_on.isoformat(), "reason": body.reason_code})
        return None

    async def on_ended(self, delivery: Delivery) -> Reply:
        body = delivery.envelope.body
        assert isinstance(body, TimeoutEnded)
        await self.notify(delivery, self._pause(delivery, "end"),
                          {"ended_on": body.ended_on.isoformat(), "ended_by": body.ended_by})
        return None

    async def on_settlement(self, delivery: Delivery) -> Reply:
        body = delivery.envelope.body
        assert isinstance(body, BridgingSettlement)
        answer = await self.call(delivery, self.profile.settlement_path, {
            "case_id": delivery.envelope.case_id, "loket_reference": body.loket_reference,
            "amount_cents": body.amount_cents, "due_on": body.due_on.isoformat()})
        if not answer.ok:
            raise PermanentError(f"back office refused POST {self.profile.settlement_path}: "
                                 f"{answer.status} {answer.body.get('code', '')}")
        repaid_on = answer.body.get("repaid_on")
        if not isinstance(repaid_on, str):
            return None  # paid later: confirm_repayment
        return delivery.reply("bridging.repaid", {
            "loket_reference": body.loket_reference, "repaid_on": repaid_on,
            "amount_cents": int(answer.body.get("amount_cents", body.amount_cents))})

    async def confirm_repayment(self, settlement: dict[str, Any], *, amount_cents: int,
                                repaid_on: date) -> UUID:
        """``bridging.repaid`` to the loket for a received ``bridging.settlement`` document."""
        document = self.client.message(
            type="bridging.repaid", recipient=settlement["sender"],
            case_id=settlement["case_id"], in_reply_to=UUID(settlement["id"]),
            conversation_id=UUID(settlement["conversation_id"]), body={
                "loket_reference": settlement["body"]["loket_reference"],
                "amount_cents": amount_cents, "repaid_on": repaid_on.isoformat()})
        return await self.client.send(document)

    async def escalate(self, case_id: str, body: dict[str, Any]) -> UUID:
        """``escalation.request`` from this agency to the Maatwerkloket."""
        return await self.client.send(self.client.message(
            type="escalation.request", recipient="loket", case_id=case_id, body=body))

    async def unavailable(self, delivery: Delivery, error: TransientError) -> Reply:
        """Retries exhausted on a pause request or extension: decline, so nothing waits."""
        return delivery.reply("timeout.response", {
            "outcome": "declined", "reason_code": DeclineReason.BACK_OFFICE_UNAVAILABLE.value,
            "explanation": UNAVAILABLE, "contact": self.contact})

    # -- mapping --------------------------------------------------------------------------------

    def _pause(self, delivery: Delivery, action: str) -> str:
        pause_id = delivery.envelope.in_reply_to or delivery.envelope.id
        return f"{self.profile.pause_path}/{pause_id}/{action}"

    async def notify(self, delivery: Delivery, path: str, payload: dict[str, Any]) -> None:
        """A call without a business response: a refusal (4xx) dead-letters the message."""
        answer = await self.call(delivery, path, payload)
        if not answer.ok:
            raise PermanentError(f"back office refused POST {path}: {answer.status} "
                                 f"{answer.body.get('code', '')}")

    def decline_reason(self, answer: BackOfficeAnswer) -> DeclineReason:
        code = str(answer.body.get("code", ""))
        if code in self.profile.refusals:
            return self.profile.refusals[code]
        if code in DeclineReason.__members__.values():
            return DeclineReason(code)
        return STATUS_REASONS.get(answer.status, DeclineReason.OTHER)

    def response_body(self, answer: BackOfficeAnswer, start: date, months: int,
                      scope: list[str]) -> dict[str, Any]:
        """The timeout.response body for a back office's answer, checked against the contract
        (an answer that does not fit is declined as unclear rather than refused by the hub)."""
        body = self._response_body(answer, start, months, scope)
        try:
            TimeoutResponse.model_validate_json(json.dumps(body))
        except ValidationError:
            log.error("%s back office answer does not fit timeout.response: %s",
                      self.profile.participant, sorted(answer.body))
            body = {"outcome": "declined", "reason_code": DeclineReason.OTHER.value,
                    "explanation": "The back office's answer was unclear.", "contact": self.contact}
        return body

    def _response_body(self, answer: BackOfficeAnswer, start: date, months: int,
                       scope: list[str]) -> dict[str, Any]:
        data = answer.body
        text = data.get("explanation") or data.get("detail")
        explanation = str(text)[:4000] if text else None
        outcome = OUTCOMES.get(str(data.get("decision"))) if answer.ok else TimeoutOutcome.DECLINED
        if outcome is None:
            log.error("%s back office answered without a known decision: %r",
                      self.profile.participant, data.get("decision"))
            outcome, explanation = TimeoutOutcome.DECLINED, "The back office's answer was unclear."
        body: dict[str, Any] = {"outcome": outcome.value}
        if outcome is not TimeoutOutcome.ACCEPTED:
            body["reason_code"] = self.decline_reason(answer).value
            body["contact"] = self.contact
        if explanation:
            body["explanation"] = explanation
        if outcome is TimeoutOutcome.DECLINED:
            return body
        until = add_months(start, months) - timedelta(days=1)
        body.update({
            "effective_from": str(data.get("from") or start.isoformat()),
            "effective_until": str(data.get("until") or until.isoformat()),
            "paused_scope": list(data.get("paused") or scope),
            "not_paused_scope": list(data.get("not_paused") or []),
        })
        return body
