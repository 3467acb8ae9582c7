"""The fixed test keys and the registry the test vectors are checked against."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from hub.contract.registry import DEFAULT_REGISTRY, strip_extensions
from hub.contract.signing import b64url, kid_for, public_key_raw

KEY_NOT_BEFORE = "2026-01-01T00:00:00.000Z"
KEY_NOT_AFTER = "2027-01-01T00:00:00.000Z"
KEY2_REVOKED_AT = "2026-11-01T00:00:00.000Z"
CREATED = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
VERIFY_DELAY = timedelta(minutes=5)
SKEW_SECONDS = 300


@dataclass(frozen=True)
class TestKey:
    """A fixed Ed25519 key for the vectors: the seed is SHA-256 of ``seed_text``."""

    name: str
    participant: str | None
    seed_text: str
    revoked_at: str | None = None

    @property
    def seed(self) -> bytes:
        return hashlib.sha256(self.seed_text.encode("utf-8")).digest()

    @property
    def private(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @property
    def public_raw(self) -> bytes:
        return public_key_raw(self.private.public_key())

    @property
    def kid(self) -> str:
        return kid_for(self.public_raw)

    def registry_entry(self) -> dict[str, str]:
        entry = {
            "kid": self.kid,
            "public_key": b64url(self.public_raw),
            "not_before": KEY_NOT_BEFORE,
            "not_after": KEY_NOT_AFTER,
        }
        if self.revoked_at is not None:
            entry["revoked_at"] = self.revoked_at
        return entry

    def published(self) -> dict[str, Any]:
        pem = self.private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        return {
            "name": self.name,
            "participant": self.participant,
            "in_registry": self.participant is not None,
            "seed_text": self.seed_text,
            "seed_hex": self.seed.hex(),
            "private_key_pkcs8_pem": pem.decode("ascii"),
            "public_key": b64url(self.public_raw),
            "public_key_hex": self.public_raw.hex(),
            "kid": self.kid,
            **({} if self.participant is None else {
                "not_before": KEY_NOT_BEFORE, "not_after": KEY_NOT_AFTER,
            }),
            **({} if self.revoked_at is None else {"revoked_at": self.revoked_at}),
        }


KEY1 = TestKey("key1", "gm0193", "maatwerk-hub test vector key 1")
KEY2 = TestKey("key2", "gm0193", "maatwerk-hub test vector key 2", revoked_at=KEY2_REVOKED_AT)
KEY3 = TestKey("key3", None, "maatwerk-hub test vector key 3")
KEY4 = TestKey("key4", "cjib", "maatwerk-hub test vector key 4")
KEY5 = TestKey("key5", "loket", "maatwerk-hub test vector key 5")
KEY6 = TestKey("key6", "let", "maatwerk-hub test vector key 6")
KEY7 = TestKey("key7", "hub", "maatwerk-hub test vector key 7")
TEST_KEYS = (KEY1, KEY2, KEY3, KEY4, KEY5, KEY6, KEY7)
SIGNING_KEYS = {"gm0193": KEY1, "cjib": KEY4, "loket": KEY5, "let": KEY6, "hub": KEY7}
_VECTOR_PARTICIPANTS = ("hub", "loket", "let", "cjib", "duo", "gm0193")

def vector_registry() -> dict[str, Any]:
    """The registry of the vectors: the demo entries of a few participants, keys inline."""
    text = resources.files("hub.contract.defaults").joinpath(DEFAULT_REGISTRY).read_text("utf-8")
    demo = strip_extensions(yaml.safe_load(text))
    by_id = {p["id"]: p for p in demo["participants"]}
    participants = []
    for pid in _VECTOR_PARTICIPANTS:
        entry = dict(by_id[pid])
        keys = [k.registry_entry() for k in TEST_KEYS if k.participant == pid]
        if keys:
            entry["keys"] = keys
        participants.append(entry)
    return {"version": "test-vectors-1", "participants": participants}


def keys_file() -> dict[str, Any]:
    return {
        "description": (
            "Fixed Ed25519 test keys: seed = SHA-256 of seed_text (UTF-8). For tests only; "
            "never use them anywhere else. key1 and key2 belong to gm0193 (key2 is revoked), "
            "key4 to cjib, key5 to loket, key6 to let, key7 to the hub; key3 is registered for "
            "nobody."
        ),
        "keys": [k.published() for k in TEST_KEYS],
    }

