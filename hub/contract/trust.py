"""The signed trust document: who takes part, their keys, and what governs the exchange.

One JSON document, signed (Ed25519 over RFC 8785 canonical JSON without ``signature.value``,
exactly like a message) with the *registry-authority* key -- not the hub's message-signing key,
so a stolen hub key cannot rewrite who is trusted. It holds:

- ``format`` (``maatwerk-trust/1``), ``serial`` (grows by one with every change), ``issued_at``
  and ``valid_until``;
- ``registry_version``, and ``policy`` / ``agreements`` as ``{version, sha256}`` (SHA-256 over
  the canonical JSON of the validated document);
- ``participants``: every registry entry with its public keys and their validity.

A reader accepts a document only when the signature verifies under the authority key it was
configured with, the document is within its validity, and the serial is not lower than the one
it holds (the same serial must be the same document). See docs/federation.md.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from hub.contract.canonical import canonicalize, loads_strict
from hub.contract.config_bundle import ConfigBundle
from hub.contract.errors import HubError, Refusal
from hub.contract.messages import utc_iso
from hub.contract.notary import NOTICE_NAMESPACE
from hub.contract.registry import Participant, Registry, RegistryDocument
from hub.contract.signing import b64url_decode, kid_for, sign_document, verify_document

FORMAT = "maatwerk-trust/1"
AUTHORITY = "registry-authority"  # KEYS_DIR/private/registry-authority.pem
DEFAULT_VALID_DAYS = 7


class TrustError(HubError):
    """A trust document is refused: bad signature, wrong key, expired, or an older serial."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VersionHash(_Strict):
    version: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Signature(_Strict):
    alg: str
    kid: str
    value: str


class TrustDocument(_Strict):
    format: str = Field(pattern=r"^maatwerk-trust/1$")
    serial: int = Field(ge=1)
    issued_at: AwareDatetime
    valid_until: AwareDatetime
    registry_version: str
    policy: VersionHash
    agreements: VersionHash
    participants: list[Participant]
    signature: Signature

    def registry(self) -> Registry:
        return Registry(RegistryDocument(version=self.registry_version,
                                         participants=self.participants))


def _sha256(value: Any) -> str:
    return hashlib.sha256(canonicalize(value)).hexdigest()


def build(bundle: ConfigBundle, *, serial: int, issued_at: datetime,
          valid_days: int = DEFAULT_VALID_DAYS) -> dict[str, Any]:
    """The unsigned trust document for ``bundle``."""
    data = bundle.as_json()
    return {
        "format": FORMAT,
        "serial": serial,
        "issued_at": utc_iso(issued_at),
        "valid_until": utc_iso(issued_at + timedelta(days=valid_days)),
        "registry_version": bundle.registry.version,
        "policy": {"version": bundle.policy.version, "sha256": _sha256(data["policy"])},
        "agreements": {"version": bundle.agreements.version,
                       "sha256": _sha256(data["agreements"])},
        "participants": data["registry"]["participants"],
    }


def sign(document: dict[str, Any], authority: Ed25519PrivateKey) -> bytes:
    """Sign with the registry-authority key; the bytes to publish (UTF-8 JSON)."""
    signed = sign_document(document, authority)
    return json.dumps(signed, ensure_ascii=False, indent=1).encode() + b"\n"


def verify(raw: bytes, authority_public: bytes, *, now: datetime,
           current: TrustDocument | None = None) -> TrustDocument:
    """Parse and check a trust document; raise :class:`TrustError` saying why it is refused."""
    try:
        data = loads_strict(raw)
    except (ValueError, HubError) as exc:
        raise TrustError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise TrustError("a trust document is a JSON object")
    signature = data.get("signature")
    kid = signature.get("kid") if isinstance(signature, dict) else None
    if kid != kid_for(authority_public):
        raise TrustError(f"signed under key {kid!r}, not the configured registry authority "
                         f"{kid_for(authority_public)}")
    try:
        verify_document(data, authority_public)
    except Refusal as exc:
        raise TrustError(f"signature refused: {exc.detail}") from exc
    try:
        document = TrustDocument.model_validate_json(json.dumps(data))
    except ValidationError as exc:
        raise TrustError(f"not a trust document: {exc}") from exc
    if not document.issued_at <= now + timedelta(minutes=5):
        raise TrustError(f"issued in the future ({document.issued_at.isoformat()})")
    if document.valid_until < now:
        raise TrustError(f"expired at {document.valid_until.isoformat()}")
    if current is not None:
        if document.serial < current.serial:
            raise TrustError(f"serial {document.serial} is older than {current.serial}")
        if document.serial == current.serial and document != current:
            raise TrustError(f"serial {document.serial} differs from the one held")
    return document


def authority_public_key(text: str) -> bytes:
    """The raw authority public key from its base64url form (as configured in adapters)."""
    try:
        raw = b64url_decode(text.strip())
    except ValueError as exc:
        raise TrustError("the authority key is not base64url") from exc
    if len(raw) != 32:
        raise TrustError("the authority key is not a raw 32-byte Ed25519 key")
    return raw


def document_sha256(raw: bytes) -> str:
    """Hex SHA-256 of the signed bytes as published (the file, ``/trust``)."""
    return hashlib.sha256(raw).hexdigest()


def broadcast_id(serial: int, sha256: str, recipient: str) -> UUID:
    """The id of the hub's ``trust.update`` broadcasting ``serial`` to ``recipient``: UUIDv5 in
    the notice namespace of ``trust.update:<serial>:<sha256>:<recipient>`` (the same after a
    crash, so the SDK drops a copy). An answer to a ``trust.query`` is
    ``notice_id("trust.update", <the query's id>)``."""
    return uuid5(NOTICE_NAMESPACE, f"trust.update:{serial}:{sha256}:{recipient}")


def versions_of(document: TrustDocument) -> dict[str, str]:
    """What the audit trail records about a document besides its serial and hash."""
    return {"registry": document.registry_version, "policy": document.policy.version,
            "policy_sha256": document.policy.sha256, "agreements": document.agreements.version,
            "agreements_sha256": document.agreements.sha256,
            "issued_at": utc_iso(document.issued_at),
            "valid_until": utc_iso(document.valid_until)}
