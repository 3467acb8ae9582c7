"""The participant registry (the Maatwerkregister): who takes part, how to reach them, their keys.

One YAML file lists every participant: id, name, kind, contact point (central mail address and
phone), broker user, public keys with validity, and which message types it may send and receive.
Public keys may also be published beside it as ``KEYS_DIR/<id>.json`` (see
:mod:`hub.contract.keys`); the
loader merges both. Errors name the entry and the field; nothing is half-loaded.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from hub.contract.errors import ConfigError, ReasonCode, Refusal
from hub.contract.identifiers import CbsCode, Oin, ParticipantId
from hub.contract.messages import MESSAGE_TYPES
from hub.contract.signing import b64url_decode, kid_for

Kind = Literal["municipality", "agency", "loket", "let", "hub"]
MessageTypeName = Literal[MESSAGE_TYPES]  # type: ignore[valid-type]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class PublicKeyEntry(_Strict):
    """A published Ed25519 public key with its validity window."""

    kid: str
    public_key: str = Field(pattern=r"^[A-Za-z0-9_-]{43}$", description="raw 32 bytes, base64url")
    not_before: AwareDatetime
    not_after: AwareDatetime
    revoked_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _kid_matches(self) -> PublicKeyEntry:
        if kid_for(self.raw) != self.kid:
            raise ValueError(f"kid {self.kid} is not derived from this public key")
        if self.not_after <= self.not_before:
            raise ValueError("not_after must be after not_before")
        return self

    @property
    def raw(self) -> bytes:
        return b64url_decode(self.public_key)


class ContactPoint(_Strict):
    contact_point: str = Field(min_length=1, description="e.g. 'Maatwerkfunctionaris CJIB'")
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str = Field(pattern=r"^\+?[0-9 ()-]{6,20}$")


class Mandate(_Strict):
    """The mandate of the maatwerkfunctionaris: the bestuurlijke afspraken it rests on."""

    reference: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9./-]{0,63}$",
                           description="reference of the bestuurlijke afspraken, e.g. BA-2026-014")
    agreed_on: date = Field(description="date of the bestuurlijke afspraken")


class Participant(_Strict):
    id: ParticipantId
    name: str = Field(min_length=1)
    kind: Kind
    oin: Oin | None = None
    cbs_code: CbsCode | None = None
    contact: ContactPoint
    broker_user: str = Field(pattern=r"^[a-z][a-z0-9_-]{1,63}$")
    keys: list[PublicKeyEntry] = Field(default_factory=list)
    sends: list[MessageTypeName] = Field(default_factory=list)
    receives: list[MessageTypeName] = Field(default_factory=list)
    status: Literal["active", "suspended"] = Field(
        default="active", description="a suspended participant's messages are refused "
        "(participant_suspended); its inbox is kept")
    mandate: Mandate | None = None
    """Admission (issue 13): a municipality takes part once its maatwerkfunctionaris has a
    mandate and it published a central mail address and phone (``contact``)."""

    @property
    def admitted(self) -> bool:
        """Active in the hub: every agency, loket, LET and hub; a municipality with a mandate."""
        return self.kind != "municipality" or self.mandate is not None

    @model_validator(mode="after")
    def _kind_rules(self) -> Participant:
        if self.kind == "municipality" and self.cbs_code is None:
            raise ValueError("a municipality needs its cbs_code (e.g. GM0193)")
        return self


class RegistryDocument(_Strict):
    version: str = Field(min_length=1)
    participants: list[Participant] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> RegistryDocument:
        for attr in ("id", "broker_user"):
            seen: set[str] = set()
            for p in self.participants:
                value = getattr(p, attr)
                if value in seen:
                    raise ValueError(f"participant {p.id}: {attr} {value!r} is used twice")
                seen.add(value)
        if sum(p.kind == "hub" for p in self.participants) != 1:
            raise ValueError("exactly one participant must have kind 'hub'")
        return self


class Registry:
    """Read-only view of a validated registry document."""

    def __init__(self, document: RegistryDocument) -> None:
        self.document = document
        self.version = document.version
        self.participants = {p.id: p for p in document.participants}
        self._by_user = {p.broker_user: p for p in document.participants}
        self.hub = next(p for p in document.participants if p.kind == "hub")

    def get(self, participant_id: str) -> Participant | None:
        return self.participants.get(participant_id)

    def by_broker_user(self, user: str) -> Participant | None:
        return self._by_user.get(user)

    def of_kind(self, kind: Kind) -> list[Participant]:
        return [p for p in self.document.participants if p.kind == kind]

    def key_for(self, participant_id: str, kid: str, *, at: datetime, now: datetime) -> bytes:
        """The raw public key ``kid`` of a participant: valid at ``at``, not revoked by ``now``."""
        participant = self.participants.get(participant_id)
        if participant is None:
            raise Refusal(ReasonCode.UNKNOWN_SENDER, f"{participant_id} is not in the registry")
        entry = next((k for k in participant.keys if k.kid == kid), None)
        if entry is None:
            raise Refusal(ReasonCode.UNKNOWN_KEY, f"{participant_id} has no registered key {kid}")
        if entry.revoked_at is not None and entry.revoked_at <= now:
            raise Refusal(ReasonCode.KEY_REVOKED, f"key {kid} of {participant_id} is revoked")
        if not entry.not_before <= at <= entry.not_after:
            raise Refusal(
                ReasonCode.KEY_NOT_VALID,
                f"key {kid} of {participant_id} is valid from {entry.not_before.isoformat()} "
                f"to {entry.not_after.isoformat()}, not at {at.isoformat()}",
            )
        return entry.raw


DEFAULT_REGISTRY = "registry.yaml"


def read_yaml(path: Path | None, default_name: str) -> tuple[str, Any]:
    if path is None:
        text = resources.files("hub.contract.defaults").joinpath(default_name).read_text("utf-8")
        return f"(embedded {default_name})", yaml.safe_load(text)
    try:
        return str(path), yaml.safe_load(path.read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc


def strip_extensions(raw: Any) -> Any:
    """Drop top-level ``x-`` keys: they hold YAML anchors that entries refer to."""
    if isinstance(raw, dict):
        return {k: v for k, v in raw.items() if not str(k).startswith("x-")}
    return raw


def describe_errors(source: str, raw: Any, exc: ValidationError, list_key: str) -> str:
    """Turn pydantic errors into lines that name the entry (by index and id) and the field."""
    lines = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = ".".join(str(p) for p in loc)
        if len(loc) >= 2 and loc[0] == list_key and isinstance(loc[1], int):
            entries = raw.get(list_key) if isinstance(raw, dict) else None
            entry = entries[loc[1]] if isinstance(entries, list) else None
            name = entry.get("id") if isinstance(entry, dict) else None
            field = ".".join(str(p) for p in loc[2:]) or "(entry)"
            where = f"{list_key}[{loc[1]}] (id {name!r}): {field}"
        lines.append(f"{source}: {where}: {err['msg']}")
    return "\n".join(lines)


def load_registry(path: Path | None = None, keys_dir: Path | None = None) -> Registry:
    """Load and validate a registry (the embedded demo one when ``path`` is None)."""
    source, raw = read_yaml(path, DEFAULT_REGISTRY)
    raw = strip_extensions(raw)
    if isinstance(raw, dict) and keys_dir is not None:
        raw = _merge_published_keys(raw, keys_dir, source)
    try:
        document = RegistryDocument.model_validate_json(json.dumps(raw, default=str))
    except ValidationError as exc:
        raise ConfigError(describe_errors(source, raw, exc, "participants")) from exc
    return Registry(document)


def _merge_published_keys(raw: dict[str, Any], keys_dir: Path, source: str) -> dict[str, Any]:
    participants = raw.get("participants")
    if not isinstance(participants, list):
        return raw
    merged = []
    for entry in participants:
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            path = keys_dir / f"{entry['id']}.json"
            if path.exists():
                try:
                    published = json.loads(path.read_text("utf-8"))
                except (OSError, ValueError) as exc:
                    raise ConfigError(f"{path}: cannot read published keys: {exc}") from exc
                entry = {**entry, "keys": [*entry.get("keys", []), *published]}
        merged.append(entry)
    return {**raw, "participants": merged}
