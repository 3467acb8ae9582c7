"""Steps 1-5 of the contract, in one function: is this message what it claims to be?

1. size limit                      -> ``oversize``
2. parse (JSON, type, schema)      -> ``malformed_json``, ``unknown_type``, ``schema_violation``
3. broker identity (AMQP user_id)  -> ``missing_user_id``, ``user_id_mismatch``, ``unknown_sender``
   AMQP message_id = envelope id    -> ``message_id_mismatch``
4. signature (registered key)      -> ``missing_signature``, ``unknown_key``, ``key_revoked``,
                                      ``key_not_valid``, ``bad_signature``
5. freshness                       -> ``expired``, ``clock_skew``

:func:`authenticate` is what the routing pipeline, ``maatwerk-hub verify``, the test vectors and
the hostile-input tests all call, so there is one reading of the rules. Step 3 needs the identity
the broker authenticated; a caller that has none (a file on disk) passes ``broker_user=None`` with
``check_identity=False`` and gets steps 1, 2, 4 and 5. Every step raises
:class:`hub.contract.errors.Refusal` with a named reason; what was learned before the refusal
stays in the :class:`Authentication` passed as ``into``, so a refusal can be worded with the
message id and sender that could be read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hub.contract.errors import ReasonCode, Refusal
from hub.contract.messages import Envelope, parse_document, utc_iso, validate_document
from hub.contract.registry import Participant, Registry
from hub.contract.signing import verify_document

DEFAULT_SKEW_SECONDS = 300
DEFAULT_MAX_BYTES = 256 * 1024


@dataclass(frozen=True, kw_only=True)
class Limits:
    """The two numbers of steps 1 and 5."""

    max_message_bytes: int | None = DEFAULT_MAX_BYTES  # None: no size check (a file on disk)
    clock_skew_seconds: int = DEFAULT_SKEW_SECONDS


@dataclass
class Authentication:
    """What steps 1-5 learned, filled in as each step passes."""

    document: dict[str, Any] | None = None
    envelope: Envelope | None = None
    sender: Participant | None = None
    content_sha256: str | None = None  # see content_digest, once the signature verified


def check_size(raw: bytes, limit: int | None) -> None:
    """Step 1: refuse a message larger than ``limit`` bytes (OVERSIZE)."""
    if limit is not None and len(raw) > limit:
        raise Refusal(ReasonCode.OVERSIZE, f"{len(raw)} bytes; the limit is {limit}")


def check_broker_identity(
    broker_user: str | None, envelope: Envelope, registry: Registry
) -> Participant:
    """Step 3: the broker-authenticated user must be the broker user registered for ``sender``."""
    if not broker_user:
        raise Refusal(ReasonCode.MISSING_USER_ID, "publish with the AMQP user_id property set")
    sender = registry.get(envelope.sender)
    if sender is None:
        raise Refusal(ReasonCode.UNKNOWN_SENDER, f"{envelope.sender} is not in the registry")
    if sender.broker_user != broker_user:
        raise Refusal(
            ReasonCode.USER_ID_MISMATCH,
            f"broker user {broker_user} may not send as {envelope.sender}",
        )
    return sender


def check_message_id(message_id: str | None, document: dict[str, Any]) -> None:
    """Step 3: the AMQP ``message_id`` property is the envelope ``id``, character for character."""
    if message_id != document.get("id"):
        shown = "not set" if not message_id else repr(message_id[:64])
        raise Refusal(
            ReasonCode.MESSAGE_ID_MISMATCH,
            f"the AMQP message_id ({shown}) must equal the envelope id",
            field_paths=["/id"],
        )


def content_digest(signed: bytes, document: dict[str, Any]) -> str:
    """Hex SHA-256 that identifies a message's content: over its signing input (RFC 8785 bytes
    without ``signature.value``) followed by the ``signature.value`` characters. Two messages
    have the same digest exactly when they have the same canonical bytes."""
    value = str(document["signature"]["value"])
    return hashlib.sha256(signed + value.encode("ascii")).hexdigest()


def check_signature(
    document: dict[str, Any], envelope: Envelope, registry: Registry, now: datetime
) -> bytes:
    """Step 4: refuse unless ``document`` is signed by a key of its sender.

    The key named by ``signature.kid`` must belong to ``envelope.sender``, be valid at
    ``envelope.created_at`` and not be revoked by ``now`` (UNKNOWN_SENDER, UNKNOWN_KEY,
    KEY_NOT_VALID, KEY_REVOKED); then the Ed25519 signature over the JCS bytes must hold
    (BAD_SIGNATURE, MISSING_SIGNATURE).
    """
    public_raw = registry.key_for(
        envelope.sender, envelope.signature.kid, at=envelope.created_at, now=now
    )
    return verify_document(document, public_raw)


def check_freshness(envelope: Envelope, now: datetime, skew_seconds: int) -> None:
    """Step 5: refuse an expired message (EXPIRED) or one created too far ahead (CLOCK_SKEW)."""
    if now >= envelope.expires_at:
        raise Refusal(
            ReasonCode.EXPIRED,
            f"the message expired at {utc_iso(envelope.expires_at)} (now {utc_iso(now)})",
        )
    if envelope.created_at > now + timedelta(seconds=skew_seconds):
        raise Refusal(
            ReasonCode.CLOCK_SKEW,
            f"created_at {utc_iso(envelope.created_at)} lies more than {skew_seconds} s after "
            f"now ({utc_iso(now)})",
        )


def authenticate(
    raw: bytes, broker_user: str | None, registry: Registry, now: datetime, *,
    limits: Limits | None = None, check_identity: bool = True,
    into: Authentication | None = None, message_id: str | None = None,
) -> Authentication:
    """Run steps 1-5 on ``raw``; return what they established or raise the first Refusal.

    ``message_id`` is the AMQP property; with ``check_identity`` it must equal the envelope id.
    """
    limits = limits or Limits()
    result = into if into is not None else Authentication()
    check_size(raw, limits.max_message_bytes)
    result.document = document = parse_document(raw)
    result.envelope = envelope = validate_document(document, raw)
    if check_identity:
        result.sender = check_broker_identity(broker_user, envelope, registry)
        check_message_id(message_id, document)
    signed = check_signature(document, envelope, registry, now)
    result.content_sha256 = content_digest(signed, document)
    if not check_identity:
        result.sender = registry.get(envelope.sender)
    check_freshness(envelope, now, limits.clock_skew_seconds)
    return result


def verify_message(
    raw: bytes, registry: Registry, now: datetime, skew_seconds: int = DEFAULT_SKEW_SECONDS
) -> Envelope:
    """Steps 1, 2, 4 and 5 on bytes without a broker identity (a file, a test vector)."""
    limits = Limits(clock_skew_seconds=skew_seconds, max_message_bytes=None)
    result = authenticate(raw, None, registry, now, check_identity=False, limits=limits)
    return _envelope(result)


def _envelope(result: Authentication) -> Envelope:
    if result.envelope is None:  # pragma: no cover - authenticate() sets it or raises
        raise RuntimeError("authenticate() returned without an envelope")
    return result.envelope
