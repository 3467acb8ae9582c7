"""Checks every inbound message passes after the schema: signature, key validity and freshness.

The routing pipeline calls :func:`check_signature` and :func:`check_freshness` separately (it has
already parsed and validated the message); the CLI and the test vectors use :func:`verify_message`,
which does all three in the contract's order: schema, signature and key, expiry and clock skew.
Every function raises :class:`hub.errors.Refusal` with a named reason.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hub.errors import ReasonCode, Refusal
from hub.messages import Envelope, parse_message, utc_iso
from hub.registry import Registry
from hub.signing import verify_document

DEFAULT_SKEW_SECONDS = 300


def check_signature(
    document: dict[str, Any], envelope: Envelope, registry: Registry, now: datetime
) -> None:
    """Refuse unless ``document`` is signed by a key of its sender.

    The key named by ``signature.kid`` must belong to ``envelope.sender``, be valid at
    ``envelope.created_at`` and not be revoked by ``now`` (UNKNOWN_SENDER, UNKNOWN_KEY,
    KEY_NOT_VALID, KEY_REVOKED); then the Ed25519 signature over the JCS bytes must hold
    (BAD_SIGNATURE, MISSING_SIGNATURE).
    """
    public_raw = registry.key_for(
        envelope.sender, envelope.signature.kid, at=envelope.created_at, now=now
    )
    verify_document(document, public_raw)


def check_freshness(envelope: Envelope, now: datetime, skew_seconds: int) -> None:
    """Refuse an expired message (EXPIRED) or one created too far in the future (CLOCK_SKEW)."""
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


def verify_message(
    raw: bytes, registry: Registry, now: datetime, skew_seconds: int = DEFAULT_SKEW_SECONDS
) -> Envelope:
    """Parse, validate and verify raw message bytes; return the envelope or raise a Refusal."""
    document, envelope = parse_message(raw)
    check_signature(document, envelope, registry, now)
    check_freshness(envelope, now, skew_seconds)
    return envelope
