"""Ed25519 signatures over RFC 8785 canonical JSON.

The signed bytes are the JCS form of the whole message with only ``signature.value`` left out, so
``signature.alg`` and ``signature.kid`` are covered. ``value`` is base64url without padding.
A ``kid`` is derived from the public key: base64url (no padding) of the first 16 bytes of the
SHA-256 of the raw 32-byte public key.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hub.contract.canonical import JsonError, canonicalize
from hub.contract.errors import ReasonCode, Refusal

ALG = "Ed25519"


def b64url(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding; ValueError when it is not base64url."""
    if not text.isascii() or any(c in text for c in "+/="):
        raise ValueError("not base64url without padding")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_key_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def kid_for(public_raw: bytes) -> str:
    """The key id of a raw 32-byte Ed25519 public key."""
    return b64url(hashlib.sha256(public_raw).digest()[:16])


def signing_input(document: dict[str, Any]) -> bytes:
    """The exact bytes that are signed: JCS of the message without ``signature.value``."""
    signature = document.get("signature")
    if not isinstance(signature, dict):
        raise Refusal(ReasonCode.MISSING_SIGNATURE, "the message has no signature object")
    unsigned = dict(document)
    unsigned["signature"] = {k: v for k, v in signature.items() if k != "value"}
    try:
        return canonicalize(unsigned)
    except JsonError as exc:
        raise Refusal(ReasonCode.MALFORMED_JSON, str(exc)) from exc


def sign_document(document: dict[str, Any], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """Return a copy of ``document`` with a fresh ``signature`` (alg, kid, value)."""
    signed = copy.deepcopy(document)
    kid = kid_for(public_key_raw(private_key.public_key()))
    signed["signature"] = {"alg": ALG, "kid": kid}
    signed["signature"]["value"] = b64url(private_key.sign(signing_input(signed)))
    return signed


@functools.lru_cache(maxsize=1024)
def _public_key(public_raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(public_raw)


def verify_document(document: dict[str, Any], public_raw: bytes) -> bytes:
    """Raise a BAD_SIGNATURE refusal unless ``document`` is signed by ``public_raw``; return the
    signing input (the JCS bytes without ``signature.value``) it verified."""
    signature = document.get("signature")
    value = signature.get("value") if isinstance(signature, dict) else None
    if not isinstance(value, str):
        raise Refusal(ReasonCode.MISSING_SIGNATURE, "signature.value is missing")
    if not isinstance(signature, dict) or signature.get("alg") != ALG:
        raise Refusal(ReasonCode.BAD_SIGNATURE, f"signature.alg must be {ALG}")
    try:
        raw_signature = b64url_decode(value)
        signed = signing_input(document)
        _public_key(public_raw).verify(raw_signature, signed)
    except (InvalidSignature, ValueError) as exc:
        raise Refusal(ReasonCode.BAD_SIGNATURE, "the signature does not verify") from exc
    return signed
