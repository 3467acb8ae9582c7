"""What a handler gets: a verified inbox message (:class:`Delivery`), with the durable
``once`` for side effects and ``reply`` for an answer whose id is derived from the message."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from uuid import uuid5

from adapters.sdk.errors import TransientError
from adapters.sdk.handled import HandledIds
from hub.contract.messages import MESSAGE_SPECS, Envelope, new_document

__all__ = ["Delivery", "GiveUp", "Handler", "Reply"]

T = TypeVar("T")


@dataclass(frozen=True)
class Delivery:
    """A verified message from the participant's inbox."""

    envelope: Envelope
    document: dict[str, Any]
    raw: bytes
    redelivered: bool
    me: str
    created_at: datetime
    journal: HandledIds | None = field(default=None, repr=False, compare=False)

    async def once(self, step: str, action: Callable[[], Awaitable[T]],
                   encode: Callable[[T], Any] = lambda value: value,
                   decode: Callable[[Any], T] = lambda value: value) -> T:
        """Run ``action`` at most once for this message id, durably.

        The result is recorded (as JSON, through ``encode``) as soon as ``action`` returns; a
        copy of the message redelivered after a crash or a lost connection gets the recorded
        result back (through ``decode``) instead of running ``action`` again. Use it for every
        call with an effect outside the hub, such as a back-office call. An exception is not
        recorded: the action runs again on the next attempt.
        """
        if self.journal is None:
            return await action()
        recorded = await self.journal.recall(self.envelope.id, step)
        if recorded is not None:
            return decode(json.loads(recorded))
        result = await action()
        await self.journal.remember(self.envelope.id, step, json.dumps(encode(result)))
        return result

    def reply(self, type: str, body: dict[str, Any]) -> dict[str, Any]:
        """An unsigned answer in this message's case and conversation, back to its sender.

        Its id is derived from the message and the answer type, so an answer sent again after
        a crash is recognised by the hub as the same message.
        """
        document = new_document(
            type=type, sender=self.me, recipient=self.envelope.sender,
            case_id=self.envelope.case_id, body=body, purpose=self.envelope.purpose,
            conversation_id=self.envelope.conversation_id, in_reply_to=self.envelope.id,
            created_at=self.created_at,
        )
        document["id"] = str(uuid5(self.envelope.id, type))
        return document


def _envelope_id(body: bytes) -> str | None:
    """The ``id`` of a JSON message, when the bytes are one and have a string id."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    value = document.get("id") if isinstance(document, dict) else None
    return value if isinstance(value, str) else None


Reply = dict[str, Any] | None
Handler = Callable[[Delivery], Awaitable[Reply]]
GiveUp = Callable[[Delivery, TransientError], Awaitable[Reply]]


def _register(table: dict[str, Any], types: tuple[str, ...], value: Any) -> None:
    """Put ``value`` in ``table`` for each of ``types``; refuse a type the contract lacks."""
    for type_name in types:
        if type_name not in MESSAGE_SPECS:
            raise ValueError(f"unknown message type {type_name!r}")
        table[type_name] = value
