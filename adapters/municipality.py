"""The municipality adapter: publish escalation and time-out requests, keep responses and notices.

Three ways in, for case systems of every kind:

- Python: :class:`MunicipalityAdapter` (``request_timeout``, ``extend``, ``lift``, ``escalate``,
  ``confirm_repayment``, ``record_deviation``, ``request_information``, ``answer_information``,
  ``update_contact``, or ``publish`` for any type the registry lets the municipality send);
- command line: ``maatwerk-adapter send --type ... --recipient ... --case-id ... --body FILE``;
- HTTP (:func:`api`, FastAPI; its OpenAPI document, generated from the models in
  :mod:`adapters.municipality_api`, is served at ``/openapi.json``):

  - ``POST /precheck`` explains, before anything is sent, whether the registry lets the
    message through and what the published data-sharing policy does to each body field;
  - ``POST /messages`` answers 202 with the id and a ``status_url`` once the broker confirmed the
    signed message (the hub decides after that);
  - ``GET /messages/{id}``: what the hub decided, as learned from the notices and receipts that
    came back;
  - ``GET /cases/{case_id}``: everything sent and received for the case.

  Errors are ``{"error": ..., "field": ...}`` naming the field. Tokens and roles:
  :mod:`adapters.http`.

Received messages (responses, receipts, notices, time-out endings) land in the case store
(``<state>/cases/<case_id>/``) and, when ``MAATWERK_WEBHOOK_URL`` is set, are POSTed there.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters.cases import CaseAdapter, PublishError
from adapters.information import answer_body
from adapters.municipality_api import (
    Accepted,
    CaseMessages,
    FieldCheck,
    MessageRequest,
    MessageStatus,
    Precheck,
    Problem,
    message_status,
)
from adapters.sdk.client import BROKER_ERRORS
from adapters.sdk.errors import AdapterError
from hub.contract.errors import HubError
from hub.contract.instruments import InfoRequest
from hub.contract.messages import Purpose
from hub.contract.policy import Policy, load_policy


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

    # -- the other instruments (issue 13, docs/instruments.md) ------------------------------

    async def record_deviation(self, case_id: str, body: dict[str, Any]) -> UUID:
        """``deviation.record`` to the loket's register (afwijkingsbevoegdheid)."""
        return await self.publish(type="deviation.record", recipient="loket", case_id=case_id,
                                  body=body)

    async def request_information(self, holder: str, case_id: str,
                                  body: dict[str, Any]) -> UUID:
        """``info.request`` to another organisation (afstemmingsbepaling)."""
        return await self.publish(type="info.request", recipient=holder, case_id=case_id,
                                  body=body)

    async def answer_information(self, case_id: str, request_id: str | UUID,
                                 values: dict[str, Any], policy: Policy | None = None) -> UUID:
        """Answer a received ``info.request`` with what the information rule allows of
        ``values`` (by field name); the rest is refused with the rule named."""
        request = self.store.find(case_id, request_id)
        if request is None or request["type"] != "info.request":
            raise PublishError("in_reply_to", f"no information request {request_id} in {case_id}")
        asker = self.client.registry.get(request["sender"])
        if asker is None:
            raise PublishError("recipient", f"{request['sender']} is not in the registry")
        body = answer_body(policy or load_policy(), InfoRequest.model_validate_json(
            json.dumps(request["body"])), asker, self.client.participant, values)
        return await self.publish(type="info.response", body=body,
                                  **self.answer_to(case_id, request_id, "info.response"))

    async def update_contact(self, **contact: str) -> UUID:
        """``register.update``: publish new contact details of this municipality."""
        return await self.publish(type="register.update", recipient="hub",
                                  case_id="register", body=contact)

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


PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text} for code, text in (
        (400, "the request body is not a JSON object"),
        (401, "no valid token (when the API has a token file)"),
        (403, "the token's role does not allow this"),
        (422, "the message would be refused: `field` names the field"),
    )}


def api(adapter: CaseAdapter, policy: Policy | None = None) -> FastAPI:
    """The local HTTP API. ``policy`` is the published data-sharing policy the pre-check applies
    (default: the embedded one, as the hub's); the registry is the adapter's."""
    policy = policy or load_policy(None)
    app = FastAPI(
        title="Maatwerk Hub municipality adapter API", version="1",
        description="A case system's way to the hub: pre-check, publish, follow up. Tokens: "
        "`Authorization: Bearer TOKEN` (viewer: reads and pre-check; operator: publishing).",
        docs_url=None, redoc_url=None, responses=PROBLEMS,
    )

    def openapi() -> dict[str, Any]:
        """The generated document, with the bearer token declared (open: /healthz)."""
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            schema.setdefault("components", {})["securitySchemes"] = {
                "token": {"type": "http", "scheme": "bearer"}}
            schema["security"] = [{"token": []}]
            for operation in schema["paths"]["/healthz"].values():
                operation["security"] = []
                operation["responses"] = {k: v for k, v in operation["responses"].items()
                                          if k not in ("401", "403")}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """Every error in the one shape, also Starlette's own (404, 405, unparsable body)."""
        return JSONResponse({"error": str(exc.detail), "field": None},
                            status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        error = exc.errors()[0]
        where = [str(p) for p in error.get("loc", ()) if p != "body"]
        if error.get("type") == "json_invalid":
            return _problem(400, "the request body is not JSON")
        if not where or error.get("type") in ("model_attributes_type", "dict_type"):
            return _problem(400, "the request body must be a JSON object")
        field = where[0]
        text = "is required" if error.get("type") == "missing" else (
            "is not a known field" if error.get("type") == "extra_forbidden"
            else str(error.get("msg", "is not valid")))
        return _problem(422, f"{field} {text}" if not text.startswith(field) else text, field)

    @app.post("/messages", status_code=202, response_model=Accepted,
              responses={503: {"model": Problem, "description": "the broker is unreachable"}})
    async def post_message(message: MessageRequest) -> Any:
        """Check, sign and publish; 202 once the broker confirmed it. The hub decides after
        that: follow ``status_url``."""
        try:
            message_id = await adapter.publish(**message.model_dump(exclude_none=True))
        except PublishError as exc:
            return _problem(422, exc.detail, exc.field)
        except (AdapterError, *BROKER_ERRORS) as exc:
            return _problem(503, f"could not publish: {exc}")
        return Accepted(id=message_id, status="published", status_url=f"/messages/{message_id}")

    @app.post("/precheck", response_model=Precheck)
    async def precheck(message: MessageRequest) -> Any:
        """What the hub's authorisation (registry) and data-sharing policy would do with this
        message, per body field, without sending it. Not checked here, because only the hub
        knows them: duplicates, the conversation of an answer, the agency's time-out rules."""
        return _precheck(adapter, policy, message)

    @app.get("/messages/{message_id}", response_model=MessageStatus,
             responses={404: {"model": Problem, "description": "no message sent with this id"}})
    async def get_status(message_id: UUID) -> Any:
        """What became of a sent message: published (no answer yet), refused by the hub (with
        the reason), delivered (the recipient's receipt), answered."""
        status = message_status(adapter.store, message_id)
        if status is None:
            return _problem(404, f"no message {message_id} was sent from here", "message_id")
        return status

    @app.get("/cases/{case_id}", response_model=CaseMessages)
    async def get_case(case_id: str) -> Any:
        """Every message of the case, sent and received, oldest first."""
        try:
            messages = adapter.store.case(case_id)
        except PublishError as exc:
            return _problem(400, exc.detail, "case_id")
        return CaseMessages(case_id=case_id, messages=messages)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The adapter process lives (no authentication)."""
        return {"participant": adapter.client.id, "status": "ok"}

    return app


def _precheck(adapter: CaseAdapter, policy: Policy, message: MessageRequest) -> Precheck:
    now = adapter.client.clock()
    try:
        document = adapter.build(**message.model_dump(exclude_none=True))
    except PublishError as exc:
        return Precheck(would_pass=False, authorised=exc.field not in ("type", "recipient"),
                        error=Problem(error=exc.detail, field=exc.field),
                        policy_version=policy.version, rule=None, fields=[])
    try:
        lines = policy.explain(document, adapter.client.registry, now)
    except HubError as exc:
        return Precheck(would_pass=False, authorised=True, error=Problem(error=str(exc),
                        field=None), policy_version=policy.version, rule=None, fields=[])
    recipient = adapter.client.registry.get(document["recipient"])
    assert recipient is not None  # build() checked it
    rule = policy.rule_for(document["type"], Purpose(document["purpose"]), recipient, now)
    fields = [FieldCheck(path=x.path, category=x.category.value if x.category else None,
                         allowed=x.allowed, rule=x.rule, why=x.why) for x in lines]
    passes = rule is not None and all(f.allowed for f in fields)
    error = None if passes else Problem(
        error=f"policy {policy.version} has no rule for {document['type']} to {recipient.id}"
        if rule is None else "the policy does not allow: " + ", ".join(
            f.path for f in fields if not f.allowed), field=None)
    return Precheck(would_pass=passes, authorised=True, error=error,
                    policy_version=policy.version, rule=rule.id if rule else None, fields=fields)

