"""The hub's own messages (notices, register answers), signed with the hub's key.

Notice ids are derived from what they answer (UUID v5), so a notice that is sent again after a
crash carries the same id and the recipient's SDK drops the copy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4, uuid5

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.contract.messages import Envelope, Purpose, new_document, validate_document
from hub.contract.registry import Registry
from hub.contract.signing import kid_for, public_key_raw, sign_document

_NAMESPACE = UUID("6f1d0c7e-5a86-4f4e-9a55-2b8f3c0d9e11")
UNKNOWN_CASE = "unknown"


NOTICE_NAMESPACE = _NAMESPACE


def notice_id(kind: str, about: UUID, extra: str | None = None) -> UUID:
    """The stable id of the hub's ``kind`` notice about message ``about``.

    UUIDv5 in :data:`NOTICE_NAMESPACE` of the name ``<kind>:<about>`` (``about`` in its lowercase
    hyphenated form), or ``<kind>:<about>:<extra>`` when ``extra`` is given (a refusal of a
    reused id: ``extra`` is the hex SHA-256 of the refused message's canonical bytes).
    """
    name = f"{kind}:{about}" + (f":{extra}" if extra else "")
    return uuid5(_NAMESPACE, name)


def encode(document: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON: what goes on the wire (the signature covers its canonical form)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True, kw_only=True)
class Thread:
    """Where a hub message belongs: case, conversation, purpose, and what it answers."""

    case_id: str
    conversation_id: UUID
    purpose: Purpose
    in_reply_to: UUID | None = None

    @classmethod
    def of(cls, envelope: Envelope) -> Thread:
        return cls(case_id=envelope.case_id, conversation_id=envelope.conversation_id,
                   purpose=envelope.purpose, in_reply_to=envelope.id)


class Notary:
    """Builds and signs messages from the hub."""

    def __init__(self, registry: Registry, key: Ed25519PrivateKey) -> None:
        self.registry = registry
        self.hub_id = registry.hub.id
        self._key = key

    def update(self, registry: Registry, key: Ed25519PrivateKey) -> None:
        """Sign from now on with ``key`` and the hub entry of ``registry`` (after a reload)."""
        self.registry, self.hub_id, self._key = registry, registry.hub.id, key

    @property
    def kid(self) -> str:
        return kid_for(public_key_raw(self._key.public_key()))

    def countersign(self, document: dict[str, Any]) -> dict[str, Any]:
        """``document`` signed with the hub's key (an audit checkpoint, not a message)."""
        return sign_document(document, self._key)

    def sign(
        self, *, type: str, recipient: str, body: dict[str, Any], now: datetime,
        about: Envelope | None = None, thread: Thread | None = None,
        message_id: UUID | None = None,
    ) -> tuple[Envelope, bytes]:
        """A signed hub message in the thread of ``about`` (or an explicit ``thread``)."""
        thread = thread or (Thread.of(about) if about else Thread(
            case_id=UNKNOWN_CASE, conversation_id=uuid4(), purpose=Purpose.COORDINATION))
        document = new_document(
            type=type, sender=self.hub_id, recipient=recipient, case_id=thread.case_id,
            body=body, purpose=thread.purpose, conversation_id=thread.conversation_id,
            in_reply_to=thread.in_reply_to, created_at=now,
        )
        if message_id is not None:
            document["id"] = str(message_id)
        signed = sign_document(document, self._key)
        raw = encode(signed)
        return validate_document(signed, raw), raw
