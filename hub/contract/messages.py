"""The message contract: one envelope, a typed body per message type, and what each type expects.

The envelope is the same for every type; ``type`` selects the body model. :data:`MESSAGE_SPECS` is
the single table of message types: body model, allowed purposes, whether it replies to another
message, whether it needs a delivery receipt and which business responses close it. JSON Schemas,
the AsyncAPI document, the pipeline and the ledger are all derived from it.
"""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, cast
from uuid import UUID, uuid4

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    model_validator,
)

from hub.contract import bodies as b
from hub.contract import instruments as ib
from hub.contract import trust_bodies as tb
from hub.contract.canonical import JsonError, loads_strict
from hub.contract.errors import RULE_ERROR, ReasonCode, Refusal, json_pointer, rule_error
from hub.contract.identifiers import CaseId, ParticipantId

SCHEMA_VERSION = "1.0"


class Purpose(StrEnum):
    """Why data is exchanged (purpose limitation, AVG art. 5). A closed list."""

    ESCALATION = "pmm.escalation"
    TIMEOUT = "pmm.timeout"
    BRIDGING = "pmm.bridging"
    COORDINATION = "pmm.coordination"
    DEVIATION = "pmm.deviation"
    INFORMATION = "pmm.information"


class Signature(BaseModel):
    """``value`` is Ed25519 over the JCS bytes of the whole message without ``signature.value``."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    alg: Literal["Ed25519"]
    kid: str = Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")
    value: str = Field(pattern=r"^[A-Za-z0-9_-]{86}$", description="base64url, no padding")


class Envelope(BaseModel):
    """The part every message shares. Concrete per-type models narrow ``type`` and ``body``."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)

    id: UUID
    type: str
    schema_version: Literal["1.0"]
    sender: ParticipantId
    recipient: ParticipantId
    case_id: CaseId
    conversation_id: UUID
    in_reply_to: UUID | None = None
    created_at: AwareDatetime
    expires_at: AwareDatetime
    purpose: Purpose
    body: b.Body
    signature: Signature

    @model_validator(mode="after")
    def _envelope_rules(self) -> Envelope:
        spec = MESSAGE_SPECS[self.type]
        if self.expires_at <= self.created_at:
            raise rule_error("expires_at must be after created_at", "expires_at")
        if self.purpose not in spec.purposes:
            allowed = ", ".join(sorted(p.value for p in spec.purposes))
            raise rule_error(
                f"purpose {self.purpose.value} is not allowed for {self.type}: {allowed}",
                "purpose",
            )
        if spec.reply and self.in_reply_to is None:
            raise rule_error(f"{self.type} answers another message: in_reply_to is required",
                            "in_reply_to")
        if self.sender == self.recipient:
            raise rule_error("sender and recipient must differ", "recipient")
        return self


@dataclass(frozen=True, kw_only=True)
class MessageSpec:
    """What the contract says about one message type."""

    type: str
    body: builtins.type[b.Body]
    purposes: frozenset[Purpose]
    summary: str
    reply: bool = False
    needs_receipt: bool = True
    responses: tuple[str, ...] = ()
    replies_to: tuple[str, ...] = ()
    follows_up: bool = False

    @property
    def purpose(self) -> Purpose:
        """The purpose of hub messages about this type: its only one, else coordination."""
        return next(iter(self.purposes)) if len(self.purposes) == 1 else Purpose.COORDINATION


P = Purpose
_ANY = frozenset(Purpose)
_SPECS = (
    MessageSpec(type="escalation.request", body=b.EscalationRequest,
                purposes=frozenset({P.ESCALATION}), responses=("escalation.response",),
                summary="Municipality escalates a case to the Landelijk Maatwerkloket."),
    MessageSpec(type="escalation.response", body=b.EscalationResponse, reply=True,
                purposes=frozenset({P.ESCALATION}), replies_to=("escalation.request",),
                summary="The Maatwerkloket takes the case or asks for more."),
    MessageSpec(type="let.referral", body=b.LetReferral, purposes=frozenset({P.ESCALATION}),
                responses=("let.decision",),
                summary="The Maatwerkloket refers a case to the Landelijk Escalatie Team."),
    MessageSpec(type="let.decision", body=b.LetDecision, reply=True,
                purposes=frozenset({P.ESCALATION, P.BRIDGING}), replies_to=("let.referral",),
                summary="The LET decides who is responsible."),
    MessageSpec(type="escalation.progress", body=b.EscalationProgress, reply=True,
                purposes=frozenset({P.ESCALATION}), replies_to=("escalation.request",),
                summary="The Maatwerkloket tells the party that escalated it is working on it."),
    MessageSpec(type="escalation.closed", body=b.EscalationClosed, reply=True,
                purposes=frozenset({P.ESCALATION}), replies_to=("escalation.request",),
                summary="The Maatwerkloket closes an escalation and says how it ended."),
    MessageSpec(type="timeout.request", body=b.TimeoutRequest, purposes=frozenset({P.TIMEOUT}),
                responses=("timeout.response",),
                summary="Municipality asks an agency to pause collection, recovery or decisions."),
    MessageSpec(type="timeout.response", body=b.TimeoutResponse, reply=True,
                purposes=frozenset({P.TIMEOUT}), replies_to=("timeout.request", "timeout.extend"),
                summary="Agency accepts, partially accepts or declines a time-out or extension."),
    MessageSpec(type="timeout.extend", body=b.TimeoutExtend, reply=True, follows_up=True,
                purposes=frozenset({P.TIMEOUT}), responses=("timeout.response",),
                replies_to=("timeout.request",),
                summary="Municipality asks to extend an active time-out."),
    MessageSpec(type="timeout.lift", body=b.TimeoutLift, reply=True, follows_up=True,
                purposes=frozenset({P.TIMEOUT}), replies_to=("timeout.request",),
                summary="Municipality ends a time-out early."),
    MessageSpec(type="timeout.ended", body=b.TimeoutEnded, purposes=frozenset({P.TIMEOUT}),
                needs_receipt=False,
                summary="Hub tells both sides that a time-out has ended."),
    MessageSpec(type="receipt", body=b.Receipt, reply=True, needs_receipt=False, purposes=_ANY,
                replies_to=("*",),
                summary="Signed delivery receipt: the recipient has durably taken the message."),
    MessageSpec(type="notice.refused", body=b.NoticeRefused, needs_receipt=False, purposes=_ANY,
                summary="Hub refused a message; names the reason code, rule and field paths."),
    MessageSpec(type="notice.duplicate", body=b.NoticeDuplicate, reply=True,
                needs_receipt=False, purposes=_ANY,
                summary="Hub saw this message id before; repeats the original outcome."),
    MessageSpec(type="notice.reminder", body=b.NoticeReminder, needs_receipt=False,
                purposes=_ANY, summary="Hub reminds a late recipient (and tells the sender)."),
    MessageSpec(type="notice.overdue", body=b.NoticeOverdue, needs_receipt=False,
                purposes=_ANY, summary="Hub escalates a late answer to the Maatwerkloket."),
    MessageSpec(type="bridging.decision", body=b.BridgingDecision,
                purposes=frozenset({P.BRIDGING}),
                summary="Maatwerkloket decides to prefinance or guarantee (overbrugging)."),
    MessageSpec(type="bridging.settlement", body=b.BridgingSettlement,
                purposes=frozenset({P.BRIDGING}),
                summary="Maatwerkloket asks the responsible party to repay the prefinanced help."),
    MessageSpec(type="bridging.repaid", body=b.BridgingRepaid, reply=True,
                purposes=frozenset({P.BRIDGING}), replies_to=("bridging.settlement",),
                summary="The responsible party confirms it repaid the prefinanced amount."),
    MessageSpec(type="register.query", body=b.RegisterQuery, needs_receipt=False,
                purposes=frozenset({P.COORDINATION}), responses=("register.answer",),
                summary="Look up contact points in the Maatwerkregister."),
    MessageSpec(type="register.answer", body=b.RegisterAnswer, reply=True, needs_receipt=False,
                purposes=frozenset({P.COORDINATION}),
                summary="The Maatwerkregister's answer."),
)
_INSTRUMENT_SPECS = (  # issue 13: the other PMM instruments (hub/contract/instruments.py)
    MessageSpec(type="deviation.record", body=ib.DeviationRecord,
                purposes=frozenset({P.DEVIATION}),
                summary="Municipality or agency records a deviation from a rule (afwijking)."),
    MessageSpec(type="info.request", body=ib.InfoRequest, purposes=frozenset({P.INFORMATION}),
                responses=("info.response",),
                summary="A maatwerkfunctionaris asks another organisation for information."),
    MessageSpec(type="info.response", body=ib.InfoResponse, reply=True,
                purposes=frozenset({P.INFORMATION}), replies_to=("info.request",),
                summary="The answer: only what the information rule allows, or a refusal "
                        "naming the rule."),
    MessageSpec(type="timeout.end_by_agency", body=ib.TimeoutEndByAgency, reply=True,
                purposes=frozenset({P.TIMEOUT}), replies_to=("timeout.request",),
                summary="The agency ends a pause itself (e.g. agreements broken)."),
    MessageSpec(type="timeout.suspend", body=ib.TimeoutSuspend, reply=True,
                purposes=frozenset({P.TIMEOUT}), replies_to=("timeout.request",),
                summary="The agency suspends a pause (collection resumes) with a reason."),
    MessageSpec(type="register.update", body=ib.RegisterUpdate, needs_receipt=False,
                purposes=frozenset({P.COORDINATION}), responses=("register.answer",),
                summary="A participant updates its own published contact details."),
)
_TRUST_SPECS = (  # issue 12: the trust document over the hub (hub/contract/trust_bodies.py)
    MessageSpec(type="trust.query", body=tb.TrustQuery, needs_receipt=False,
                purposes=frozenset({P.COORDINATION}), responses=("trust.update",),
                summary="A participant asks the hub for the current signed trust document."),
    MessageSpec(type="trust.update", body=tb.TrustUpdate, needs_receipt=False,
                purposes=frozenset({P.COORDINATION}),
                summary="Hub sends the signed trust document: to every participant on a new "
                        "serial, or to one that asked."),
)
MESSAGE_SPECS: dict[str, MessageSpec] = {spec.type: spec
                                         for spec in (*_SPECS, *_INSTRUMENT_SPECS, *_TRUST_SPECS)}


def _model_name(type_name: str) -> str:
    return "".join(part.capitalize() for part in type_name.replace(".", "_").split("_")) + "Message"


def _message_model(spec: MessageSpec) -> type[Envelope]:
    model = create_model(
        _model_name(spec.type),
        __base__=Envelope,
        __doc__=spec.summary,
        type=(Literal[spec.type], Field()),  # type: ignore[arg-type]
        body=(spec.body, Field()),
    )
    return cast(type[Envelope], model)


MESSAGE_MODELS: dict[str, type[Envelope]] = {t: _message_model(s) for t, s in MESSAGE_SPECS.items()}
MESSAGE_TYPES: tuple[str, ...] = tuple(MESSAGE_SPECS)


def _loc_parts(loc: tuple[int | str, ...]) -> list[int | str]:
    """The field names and indices of a pydantic location (union tags and the like left out)."""
    return [p for p in loc if isinstance(p, int) or p.isidentifier()]


def _item_paths(item: Any) -> list[str]:
    base = _loc_parts(item["loc"])
    fields = (item.get("ctx") or {}).get("fields") if item["type"] == RULE_ERROR else None
    if fields:
        return [json_pointer(*base, name) for name in fields]
    return [json_pointer(*base)]


def error_paths(error: ValidationError) -> list[str]:
    """JSON Pointers (RFC 6901) of every field a validation error names, in order, once each."""
    paths: list[str] = []
    for item in error.errors():
        paths.extend(p for p in _item_paths(item) if p not in paths)
    return paths


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ", ".join(p or "(message)" for p in _item_paths(item))
        message = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    more = error.error_count() - 5
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def parse_document(raw: bytes) -> dict[str, Any]:
    """Strict JSON parse of a message: refuses with MALFORMED_JSON when it is not a JSON object."""
    try:
        document = loads_strict(raw)
    except JsonError as exc:
        raise Refusal(ReasonCode.MALFORMED_JSON, str(exc)) from exc
    if not isinstance(document, dict):
        raise Refusal(ReasonCode.MALFORMED_JSON, "a message is a JSON object")
    return document


def validate_document(document: dict[str, Any], raw: bytes | None = None) -> Envelope:
    """Validate a parsed message against the model for its ``type``.

    ``raw`` are the bytes ``document`` was parsed from, when there are any (saves a re-encode).
    """
    type_name = document.get("type")
    if not isinstance(type_name, str) or type_name not in MESSAGE_MODELS:
        raise Refusal(ReasonCode.UNKNOWN_TYPE, f"unknown message type {type_name!r}")
    if raw is None:
        raw = json.dumps(document, ensure_ascii=False, allow_nan=False).encode()
    try:
        return MESSAGE_MODELS[type_name].model_validate_json(raw)
    except ValidationError as exc:
        raise Refusal(ReasonCode.SCHEMA_VIOLATION, _describe(exc),
                      field_paths=error_paths(exc)) from exc


def parse_message(raw: bytes) -> tuple[dict[str, Any], Envelope]:
    """Parse and validate raw bytes; return the plain document (for signing) and the model."""
    document = parse_document(raw)
    return document, validate_document(document, raw)


def message_id_of(document: dict[str, Any]) -> UUID | None:
    """The ``id`` of a document that may not have validated, when it has a readable one."""
    try:
        return UUID(str(document.get("id")))
    except ValueError:
        return None


def utc_now() -> datetime:
    """The current moment, UTC (the default clock everywhere)."""
    return datetime.now(UTC)


def utc_iso(moment: datetime) -> str:
    """The wire form of a timestamp: UTC, ISO 8601 with milliseconds and ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


DEFAULT_TTL = timedelta(days=30)


def new_document(
    *,
    type: str,
    sender: str,
    recipient: str,
    case_id: str,
    body: dict[str, Any],
    purpose: Purpose | None = None,
    conversation_id: UUID | None = None,
    in_reply_to: UUID | None = None,
    created_at: datetime | None = None,
    ttl: timedelta = DEFAULT_TTL,
) -> dict[str, Any]:
    """An unsigned message with fresh id and timestamps (sign it with signing.sign_document).

    ``purpose`` defaults to the type's only purpose when it has exactly one.
    """
    spec = MESSAGE_SPECS[type]
    if purpose is None:
        if len(spec.purposes) != 1:
            raise ValueError(f"{type} allows several purposes: name one")
        (purpose,) = spec.purposes
    created = created_at or datetime.now(UTC)
    document: dict[str, Any] = {
        "id": str(uuid4()),
        "type": type,
        "schema_version": SCHEMA_VERSION,
        "sender": sender,
        "recipient": recipient,
        "case_id": case_id,
        "conversation_id": str(conversation_id or uuid4()),
        "created_at": utc_iso(created),
        "expires_at": utc_iso(created + ttl),
        "purpose": purpose.value,
        "body": body,
    }
    if in_reply_to is not None:
        document["in_reply_to"] = str(in_reply_to)
    return document
