"""Dev keys of the participants: an Ed25519 key pair for each participant of a registry that has
none yet in the keys folder (private keys 0600 under ``private/``), and loading them back."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.contract.keys import ensure_dev_keys, load_private_key, private_key_path
from hub.contract.registry import load_registry

__all__ = ["dev_keys", "private_key"]


def dev_keys(keys_dir: Path, participants: Iterable[str] | None = None, *,
             registry_path: Path | None = None) -> list[str]:
    """Make the missing key pairs in ``keys_dir``; return the participants that got one.

    ``participants`` defaults to everybody in the registry at ``registry_path`` (``None``: the
    embedded demo registry)."""
    if participants is None:
        participants = [p.id for p in load_registry(registry_path).document.participants]
    return ensure_dev_keys(keys_dir, list(participants))


def private_key(keys_dir: Path, participant: str) -> Ed25519PrivateKey:
    return load_private_key(private_key_path(keys_dir, participant))
