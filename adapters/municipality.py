"""The municipality adapter: publish escalation and time-out requests, keep responses and notices.

Three ways in, for case systems of every kind:

- Python: :class:`MunicipalityAdapter` (``request_timeout``, ``extend``, ``lift``, ``escalate``,
  ``confirm_repayment``, or ``publish`` for any type the registry lets the municipality send);
- command line: ``maatwerk-adapter send --type ... --recipient ... --case-id ... --body FILE``;
- HTTP on 127.0.0.1 (:func:`api`): ``POST /messages`` with ``{type, recipient, case_id, body,
  in_reply_to?, conversation_id?}`` answers 202 ``{"id": ...}`` once the broker confirmed the
  signed message, or 4xx ``{"error": ..., "field": ...}`` naming the field; ``GET
  /cases/{case_id}`` returns what was sent and received for the case.

Received messages (responses, receipts, notices, time-out endings) land in the case store
(``<state>/cases/<case_id>/``) and, when ``MAATWERK_WEBHOOK_URL`` is set, are POSTed there.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from adapters.cases import CaseAdapter, PublishError
from adapters.sdk.client import BROKER_ERRORS
from adapters.sdk.errors import AdapterError

MESSAGE_KEYS = {"type", "recipient", "case_id", "body", "in_reply_to", "conversation_id",
                "purpose"}
REQUIRED_KEYS = ("type", "recipient", "case_id", "body")


class MunicipalityAdapter(CaseAdapter):
    """A municipality's connection: the maatwerkfunctionaris's requests out, answers in."""

    async def request_timeout(self, agency: str, case_id: str, body: dict[str, Any]) -> UUID:
        return await self.publish(type="timeout.request", recipient=agency, case_id=case_id,
                                  body=body)

    async def escalate(self, case_id: str, body: dict[str, Any]) -> UUID:
        return await self.publish(type="escalation.request", recipient="loket", case_id=case_id,
                                  body=body)

    async def confirm_repayment(self, case_id: str, settlement_id: str | UUID, *,
                                amount_cents: int, repaid_on: str) -> UUID:
        """``bridging.repaid`` to the loket, when the LET named this municipality responsible."""
        settlement = self.store.find(case_id, settlement_id)
        if settlement is None:
            raise PublishError("in_reply_to", f"no settlement {settlement_id} in {case_id}")
        return await self.publish(
            type="bridging.repaid", body={
                "loket_reference": settlement["body"]["loket_reference"],
                "amount_cents": amount_cents, "repaid_on": repaid_on},
            **self.answer_to(case_id, settlement_id, "bridging.repaid"))

    async def extend(self, case_id: str, request_id: str | UUID, body: dict[str, Any]) -> UUID:
        return await self._follow_up("timeout.extend", case_id, request_id, body)

    async def lift(self, case_id: str, request_id: str | UUID, body: dict[str, Any]) -> UUID:
        return await self._follow_up("timeout.lift", case_id, request_id, body)

    async def _follow_up(self, type: str, case_id: str, request_id: str | UUID,
                         body: dict[str, Any]) -> UUID:
        request = self.store.find(case_id, request_id)
        if request is None:
            raise PublishError("in_reply_to", f"no time-out request {request_id} in {case_id}")
        return await self.publish(type=type, recipient=request["recipient"], case_id=case_id,
                                  body=body, in_reply_to=request["id"],
                                  conversation_id=request["conversation_id"])


def _problem(status: int, error: str, field: str | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "field": field}, status_code=status)


def api(adapter: CaseAdapter) -> Starlette:
    """The local HTTP API (bind it to 127.0.0.1, or put it behind the security server)."""

    async def post_message(request: Request) -> JSONResponse:
        try:
            data = json.loads(await request.body())
        except ValueError:
            return _problem(400, "the request body is not JSON")
        if not isinstance(data, dict):
            return _problem(400, "the request body must be a JSON object")
        for key in REQUIRED_KEYS:
            if key not in data:
                return _problem(422, f"{key} is required", key)
        for key in data:
            if key not in MESSAGE_KEYS:
                return _problem(422, f"unknown field {key}", key)
        for key in MESSAGE_KEYS - {"body"}:
            if key in data and not isinstance(data[key], str):
                return _problem(422, f"{key} must be a string", key)
        try:
            message_id = await adapter.publish(**data)
        except PublishError as exc:
            return _problem(422, exc.detail, exc.field)
        except (AdapterError, *BROKER_ERRORS) as exc:
            return _problem(503, f"could not publish: {exc}")
        return JSONResponse({"id": str(message_id), "status": "published"}, status_code=202)

    async def get_case(request: Request) -> JSONResponse:
        case_id = request.path_params["case_id"]
        try:
            messages = adapter.store.case(case_id)
        except PublishError as exc:
            return _problem(400, exc.detail, "case_id")
        return JSONResponse({"case_id": case_id, "messages": messages})

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"participant": adapter.client.id, "status": "ok"})

    return Starlette(routes=[
        Route("/messages", post_message, methods=["POST"]),
        Route("/cases/{case_id}", get_case, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ])
