"""The participants of one sandbox run: dev keys, the registry with run-specific broker user names,
that registry as a file (for hubs and adapters in other processes) and the users' passwords.

Run-specific user names (``cjib-t1a2b3c``, ``maatwerk-hub-b9f00d``...) keep runs side by side on
one broker from resetting each other's passwords; they are made here, on the local disk only.
Creating them on the broker is :meth:`sandbox.broker.Broker.create_users`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.contract.registry import Participant, Registry, RegistryDocument, load_registry
from hub.core.broker_admin import load_passwords
from sandbox.keys import dev_keys, private_key

__all__ = ["Participants", "fresh_passwords", "load_passwords", "run_registry", "write_registry"]


def run_registry(registry: Registry, suffix: str) -> Registry:
    """``registry`` with ``-<suffix>`` appended to every broker user name."""
    participants = [p.model_copy(update={"broker_user": f"{p.broker_user}-{suffix}"})
                    for p in registry.document.participants]
    return Registry(RegistryDocument(version=registry.version, participants=participants))


def write_registry(registry: Registry, path: Path) -> Path:
    """``registry`` as YAML at ``path`` (what ``MAATWERK_REGISTRY`` points at)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(registry.document.model_dump(mode="json"), sort_keys=False))
    return path


def fresh_passwords(users: Iterable[str]) -> dict[str, str]:
    """A random password for each user (kept in memory only)."""
    return {user: secrets.token_urlsafe(18) for user in users}


@dataclass(frozen=True)
class Participants:
    """Everything local a run needs about its participants; nothing on the broker yet."""

    root: Path
    keys_dir: Path
    registry: Registry
    registry_file: Path
    passwords: dict[str, str]

    @classmethod
    def create(cls, root: Path, suffix: str, *, registry_path: Path | None = None) -> Participants:
        """Under ``root``: dev keys in ``keys/``, the registry (default: the embedded demo
        registry) with broker users suffixed ``-<suffix>`` in ``registry.yaml``, and fresh
        passwords."""
        keys_dir = root / "keys"
        dev_keys(keys_dir, registry_path=registry_path)
        registry = run_registry(load_registry(registry_path, keys_dir), suffix)
        return cls(root=root, keys_dir=keys_dir, registry=registry,
                   registry_file=write_registry(registry, root / "registry.yaml"),
                   passwords=fresh_passwords(p.broker_user
                                             for p in registry.document.participants))

    @property
    def users(self) -> list[str]:
        return [p.broker_user for p in self.registry.document.participants]

    def participant(self, participant_id: str) -> Participant:
        found = self.registry.get(participant_id)
        if found is None:
            raise KeyError(f"{participant_id} is not in the registry")
        return found

    def user(self, participant_id: str) -> str:
        return self.participant(participant_id).broker_user

    def password(self, participant_id: str) -> str:
        return self.passwords[self.user(participant_id)]

    def key(self, participant_id: str) -> Ed25519PrivateKey:
        return private_key(self.keys_dir, participant_id)
