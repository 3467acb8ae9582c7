"""Proof of possession: a participant submits only its new public key, in a request signed with
the new key itself (docs/federation.md, "Keys made where they are used").

The request is a JSON object, signed exactly like a message (Ed25519 over the RFC 8785
canonical JSON without ``signature.value``), with the *new* key::

    {"format": "maatwerk-key-request/1", "participant": "gm0014", "created_at": "...Z",
     "key": {"kid", "public_key", "not_before", "not_after"}, "signature": {alg, kid, value}}

The operator accepts it only when ``signature.kid`` is the submitted key's kid and the signature
verifies under the submitted key (so the submitter holds its private key), the key entry is
valid (its kid derived from the key) and the request is at most :data:`MAX_AGE` old. Whether
the participant may have a key at all (who sent the file) is the operator's check, out of band.
A refused request raises :class:`~hub.contract.errors.KeyStoreError`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from hub.contract.canonical import loads_strict
from hub.contract.errors import KeyStoreError, Refusal
from hub.contract.messages import utc_iso
from hub.contract.registry import PublicKeyEntry
from hub.contract.signing import sign_document, verify_document

FORMAT = "maatwerk-key-request/1"
MAX_AGE = timedelta(days=7)


def make_request(participant: str, key: Ed25519PrivateKey, entry: PublicKeyEntry,
                 now: datetime) -> bytes:
    """The signed request for ``entry`` (the public half of ``key``)."""
    document: dict[str, Any] = {"format": FORMAT, "participant": participant,
                                "created_at": utc_iso(now),
                                "key": entry.model_dump(mode="json", exclude_none=True)}
    return json.dumps(sign_document(document, key), indent=1).encode() + b"\n"


def verify_request(raw: bytes, now: datetime) -> tuple[str, PublicKeyEntry]:
    """The participant and its new key entry, when the request proves possession."""
    try:
        data = loads_strict(raw)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise KeyStoreError(f"not a {FORMAT} request")
        entry = PublicKeyEntry.model_validate_json(json.dumps(data.get("key")))
        participant, created = str(data["participant"]), datetime.fromisoformat(
            str(data["created_at"]).replace("Z", "+00:00"))
    except (ValueError, KeyError, ValidationError) as exc:
        raise KeyStoreError(f"malformed key request: {exc}") from exc
    signature = data.get("signature")
    if not isinstance(signature, dict) or signature.get("kid") != entry.kid:
        raise KeyStoreError("not signed with the submitted key (signature.kid differs)")
    try:
        verify_document(data, entry.raw)
    except Refusal as exc:
        raise KeyStoreError(f"no proof of possession: {exc.detail}") from exc
    if created > now + timedelta(minutes=5) or created < now - MAX_AGE:
        raise KeyStoreError(f"request made at {created.isoformat()}: older than "
                              f"{MAX_AGE.days} days or in the future")
    return participant, entry
