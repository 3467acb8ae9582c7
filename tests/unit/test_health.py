"""The signing probe: green only when the registry publishes the key the hub signs with."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.contract.notary import Notary
from hub.contract.registry import load_registry
from hub.ops.health import signing_works
from sandbox import dev_keys, private_key


def test_signing_probe(tmp_path: Path) -> None:
    dev_keys(tmp_path, ["hub"])
    registry = load_registry(None, tmp_path)
    now = datetime.now(UTC)
    own = Notary(registry, private_key(tmp_path, "hub"))
    assert signing_works(own, registry, now)
    stranger = Notary(registry, Ed25519PrivateKey.generate())  # a key nobody published
    assert not signing_works(stranger, registry, now)
