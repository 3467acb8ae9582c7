"""The municipality API's request and response models (its OpenAPI document is generated from
them) and the status of a sent message, as learned from what came back.

A sent message's ``state`` (:func:`message_status`), from the messages the adapter received:

- ``published``: the broker confirmed it; nothing has come back yet (the hub may still be
  deciding, or the recipient has not sent its receipt);
- ``refused``: the hub's ``notice.refused`` (or a ``notice.duplicate`` of a refused original)
  names it: ``reason_code``, ``detail``, and for a policy refusal the ``rule`` and ``field_paths``;
- ``delivered``: the recipient's signed ``receipt``: the hub routed it and the recipient has it;
- ``answered``: the recipient's business answer (``in_reply_to`` it) came back.

The hub sends no notice for a routed message, so ``published`` followed by ``delivered`` is how
routing shows; ``notice.reminder`` about it is listed among the events (a late party).
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from adapters.cases import CaseStore

State = Literal["published", "refused", "delivered", "answered"]


class MessageRequest(BaseModel):
    """A message to publish as this municipality; the adapter adds sender, ids, times, signature."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(description="message type, e.g. timeout.request", max_length=64)
    recipient: str = Field(description="participant id, e.g. cjib", max_length=64)
    case_id: str = Field(description="the case id, e.g. ZW-2026-0042", max_length=64)
    body: dict[str, Any] = Field(description="the typed body (schemas/json/<type>.schema.json)")
    in_reply_to: str | None = Field(default=None, description="id of the message followed up")
    conversation_id: str | None = Field(default=None, description="its conversation id")
    purpose: str | None = Field(default=None, description="purpose (default: the type's)")


class Problem(BaseModel):
    error: str
    field: str | None = None


class Accepted(BaseModel):
    id: UUID
    status: Literal["published"]
    status_url: str = Field(description="GET it for the hub's decision")


class FieldCheck(BaseModel):
    path: str
    category: str | None = Field(description="data category of the field (None: unknown)")
    allowed: bool
    rule: str | None = Field(description="the policy rule that allows it")
    why: str = Field(description="why it passes or is refused")


class Precheck(BaseModel):
    would_pass: bool = Field(description="registry and policy would let it through")
    authorised: bool = Field(description="this municipality may send the type; the recipient "
                                         "receives it")
    error: Problem | None = Field(description="the first reason it would be refused")
    policy_version: str
    rule: str | None = Field(description="the policy rule that applies")
    fields: list[FieldCheck]


class Event(BaseModel):
    id: UUID
    type: str
    sender: str
    created_at: str


class MessageStatus(BaseModel):
    id: UUID
    case_id: str
    type: str
    recipient: str
    state: State
    reason_code: str | None = None
    detail: str | None = None
    rule: str | None = None
    field_paths: list[str] = Field(default_factory=list)
    events: list[Event] = Field(description="what came back about it, oldest first")


class CaseMessages(BaseModel):
    case_id: str
    messages: list[dict[str, Any]]


def _about(message: dict[str, Any], sent_id: str) -> bool:
    body = message.get("body") or {}
    return sent_id in (message.get("in_reply_to"), body.get("refused_message_id"),
                       body.get("original_message_id"), body.get("message_id"))


def message_status(store: CaseStore, message_id: UUID) -> MessageStatus | None:
    """The status of a message sent from this adapter, or None when none was sent with the id."""
    sent_id = str(message_id)
    matches = list(store.folder.glob(f"*/sent-{sent_id}.json"))
    if not matches:
        return None
    case_id = matches[0].parent.name
    sent = store.find(case_id, sent_id)
    if sent is None:
        return None
    back = [e["message"] for e in store.case(case_id)
            if e["direction"] == "received" and _about(e["message"], sent_id)]
    status = MessageStatus(id=message_id, case_id=case_id, type=sent["type"],
                           recipient=sent["recipient"], state="published",
                           events=[Event(id=m["id"], type=m["type"], sender=m["sender"],
                                         created_at=m["created_at"]) for m in back])
    for m in back:
        body = m.get("body") or {}
        refused = m["type"] == "notice.refused" or (
            m["type"] == "notice.duplicate" and body.get("original_outcome") == "refused")
        if refused:
            status.state = "refused"
            status.reason_code = body.get("reason_code")
            status.detail = body.get("detail")
            status.rule = body.get("rule")
            status.field_paths = list(body.get("field_paths") or [])
            return status
    answered = any(m.get("in_reply_to") == sent_id and m["type"] not in ("receipt",)
                   and not m["type"].startswith("notice.") for m in back)
    if answered:
        status.state = "answered"
    elif any(m["type"] == "receipt" and m.get("in_reply_to") == sent_id for m in back):
        status.state = "delivered"
    return status
