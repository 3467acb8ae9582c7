"""The configuration a decision is made under: registry (with its keys), policy and agreements.

A :class:`ConfigBundle` is validated as a whole before anything uses it, and identified by the
SHA-256 of its canonical JSON (RFC 8785), so two replicas that loaded the same files hold the
same hash, and a bundle stored in the shared state reads back to exactly the same thing.

Keys published as ``KEYS_DIR/<id>.json`` are merged into the registry entries by ``kid``: a
published entry replaces an entry with the same kid (that is how a revocation in the published
file reaches a registry that was given as an object), others are added.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hub.contract.agreements import Agreements, load_agreements
from hub.contract.canonical import canonicalize
from hub.contract.errors import ConfigError
from hub.contract.policy import Policy, PolicyDocument, load_policy
from hub.contract.registry import PublicKeyEntry, Registry, RegistryDocument, load_registry


@dataclass(frozen=True)
class ConfigBundle:
    registry: Registry
    policy: Policy
    agreements: Agreements
    hash: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hash", hashlib.sha256(canonicalize(self.as_json())).hexdigest())

    def as_json(self) -> dict[str, Any]:
        return {
            "registry": self.registry.document.model_dump(mode="json", exclude_none=True),
            "policy": self.policy.document.model_dump(mode="json", exclude_none=True),
            "agreements": self.agreements.model_dump(mode="json", exclude_none=True),
        }

    def encode(self) -> str:
        return canonicalize(self.as_json()).decode()

    @classmethod
    def decode(cls, text: str) -> ConfigBundle:
        """Read a bundle back from :meth:`encode`; a bad one is a :class:`ConfigError`."""
        try:
            raw = json.loads(text)
            return cls(
                registry=Registry(RegistryDocument.model_validate_json(
                    json.dumps(raw["registry"]))),
                policy=Policy(PolicyDocument.model_validate_json(json.dumps(raw["policy"]))),
                agreements=Agreements.model_validate_json(json.dumps(raw["agreements"])),
            )
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise ConfigError(f"stored configuration cannot be read: {exc}") from exc

    @property
    def versions(self) -> dict[str, str]:
        return {"registry": self.registry.version, "policy": self.policy.version,
                "agreements": self.agreements.version}


def merge_published_keys(document: RegistryDocument, keys_dir: Path) -> RegistryDocument:
    """``document`` with the keys of ``KEYS_DIR/<id>.json`` merged in by kid."""
    participants = []
    for participant in document.participants:
        path = keys_dir / f"{participant.id}.json"
        if not path.exists():
            participants.append(participant)
            continue
        try:
            published = [PublicKeyEntry.model_validate_json(json.dumps(e))
                         for e in json.loads(path.read_text("utf-8"))]
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigError(f"{path}: cannot read published keys: {exc}") from exc
        by_kid = {k.kid: k for k in participant.keys}
        by_kid.update({k.kid: k for k in published})
        participants.append(participant.model_copy(update={"keys": list(by_kid.values())}))
    try:
        return RegistryDocument.model_validate_json(json.dumps(
            {**document.model_dump(mode="json"),
             "participants": [p.model_dump(mode="json") for p in participants]}))
    except ValidationError as exc:
        raise ConfigError(f"registry with published keys: {exc}") from exc


@dataclass(frozen=True)
class Sources:
    """Where each part comes from: a file (watched, reloaded) or a fixed object."""

    keys_dir: Path
    registry_path: Path | None = None
    policy_path: Path | None = None
    agreements_path: Path | None = None
    registry: Registry | None = None
    policy: Policy | None = None
    agreements: Agreements | None = None

    def load(self) -> ConfigBundle:
        """Read and validate everything; raises :class:`ConfigError` naming what is wrong."""
        base = self.registry or load_registry(self.registry_path, None)
        registry = Registry(merge_published_keys(base.document, self.keys_dir))
        policy = self.policy or load_policy(self.policy_path)
        agreements = self.agreements or load_agreements(self.agreements_path)
        return ConfigBundle(registry=registry, policy=policy, agreements=agreements)

    def watched(self) -> list[Path]:
        """The files whose change means a reload."""
        files = [p for p, fixed in ((self.registry_path, self.registry),
                                    (self.policy_path, self.policy),
                                    (self.agreements_path, self.agreements))
                 if p is not None and fixed is None]
        if self.keys_dir.is_dir():
            files.extend(sorted(self.keys_dir.glob("*.json")))
        private = self.keys_dir / "private"
        if private.is_dir():
            files.extend(sorted(private.glob("*.pem")))
        return files


def fingerprint(paths: list[Path]) -> str:
    """A hash over the names and contents of ``paths`` (a missing file counts as absent)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path).encode() + b"\0")
        try:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        except OSError:
            digest.update(b"-")
    return digest.hexdigest()
