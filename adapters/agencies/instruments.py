"""The agency side of the instruments of issue 13: information requests and ending a pause.

==================== ========================================= ===============================
hub message          back-office call                          answer becomes
==================== ========================================= ===============================
info.request         POST {info_path} (the fields the policy   info.response (only what the
                     allows: ``{request_id, case_id, bsn,      information rule allows; the
                     purpose, fields}``; answer ``{field:      rest refused, the rule named)
                     value}``)
==================== ========================================= ===============================

An agency ends or suspends a pause itself (a CJIB noodstop ends when agreements are broken) with
:meth:`AgencyInstruments.end_pause` / :meth:`AgencyInstruments.suspend_pause`, or from the command
line: ``maatwerk-adapter end-pause PAUSE_ID --reason agreements_broken [--suspend]``. ``PAUSE_ID``
is the back office's ``request_id`` of the pause; the adapter remembered, when the request came
in, which municipality, case and conversation it belongs to (in its durable journal), so the
``timeout.end_by_agency`` or ``timeout.suspend`` reaches the municipality that asked.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from uuid import UUID, uuid5

from adapters.information import allowed_fields, answer_body
from adapters.sdk.backoffice import BackOffice, BackOfficeAnswer
from adapters.sdk.client import HubClient
from adapters.sdk.delivery import Delivery, Reply
from adapters.sdk.errors import AdapterError, PermanentError
from hub.contract.instruments import InfoField, InfoRequest
from hub.contract.messages import Purpose
from hub.contract.policy import Policy

PAUSE_STEP = "pause"
INFO_PATH = "/information"


class AgencyInstruments:
    """Handlers and actions of one agency adapter for the instruments beyond the time-out."""

    def __init__(self, client: HubClient, backoffice: BackOffice | None, policy: Policy,
                 contact: dict[str, str], info_path: str = INFO_PATH) -> None:
        self.client = client
        self.backoffice = backoffice
        self.policy = policy
        self.contact = contact
        self.info_path = info_path
        client.on("info.request")(self.on_info_request)

    async def remember_pause(self, delivery: Delivery) -> None:
        """Note where a pause request came from, so the agency can end it later."""
        envelope = delivery.envelope
        where = {"case_id": envelope.case_id, "conversation_id": str(envelope.conversation_id),
                 "municipality": envelope.sender}

        async def note() -> dict[str, str]:
            return where

        await delivery.once(PAUSE_STEP, note)

    async def on_info_request(self, delivery: Delivery) -> Reply:
        body = delivery.envelope.body
        assert isinstance(body, InfoRequest)
        asker = self.client.registry.get(delivery.envelope.sender)
        if asker is None:
            raise PermanentError(f"{delivery.envelope.sender} is not in the registry")
        _, allowed, _ = allowed_fields(self.policy, body, asker, self.client.participant)
        values: dict[str, Any] = {}
        asked = [f.value for f in allowed if f is not InfoField.CONTACT]
        if asked and self.backoffice is not None:
            message_id = str(delivery.envelope.id)
            payload = {"request_id": message_id, "case_id": delivery.envelope.case_id,
                       "bsn": body.bsn, "purpose": body.purpose_code.value, "fields": asked}
            backoffice = self.backoffice
            answer = await delivery.once(
                "backoffice",
                lambda: backoffice.post(self.info_path, payload, idempotency_key=message_id),
                lambda a: a.to_json(), BackOfficeAnswer.from_json)
            if answer.ok:
                values = {k: answer.body.get(k) for k in asked}
        if InfoField.CONTACT in allowed:
            values["contact"] = self.contact
        return delivery.reply("info.response", answer_body(
            self.policy, body, asker, self.client.participant, values))

    # -- the agency ends or suspends a pause ------------------------------------------------------

    async def end_pause(self, pause_id: str | UUID, *, reason_code: str,
                        ended_on: date | None = None) -> UUID:
        """``timeout.end_by_agency`` to the municipality that asked for the pause."""
        return await self._send(pause_id, "timeout.end_by_agency", {
            "ended_on": (ended_on or self.client.clock().date()).isoformat(),
            "reason_code": reason_code})

    async def suspend_pause(self, pause_id: str | UUID, *, reason_code: str,
                            suspended_from: date | None = None,
                            resume_on: date | None = None) -> UUID:
        """``timeout.suspend`` to the municipality that asked for the pause."""
        body: dict[str, Any] = {
            "suspended_from": (suspended_from or self.client.clock().date()).isoformat(),
            "reason_code": reason_code}
        if resume_on is not None:
            body["resume_on"] = resume_on.isoformat()
        return await self._send(pause_id, "timeout.suspend", body)

    async def _send(self, pause_id: str | UUID, type_name: str, body: dict[str, Any]) -> UUID:
        try:
            request_id = UUID(str(pause_id))
        except ValueError as exc:
            raise AdapterError(f"not a pause id (a request_id): {pause_id!r}") from exc
        recorded = await self.client.journal.recall(request_id, PAUSE_STEP)
        if recorded is None:
            raise AdapterError(f"no pause request {request_id} is known to this adapter")
        where = json.loads(recorded)
        document = self.client.message(
            type=type_name, recipient=where["municipality"], case_id=where["case_id"], body=body,
            purpose=Purpose.TIMEOUT, conversation_id=UUID(where["conversation_id"]),
            in_reply_to=request_id)
        document["id"] = str(uuid5(request_id, type_name))
        return await self.client.send(document)

