"""The probes of a conformance run: signed messages as the hub would deliver them.

Kinds of probe, and what a conforming adapter does with each (judged in :mod:`.checks`):

- ``genuine``: one per message type the registry says the adapter receives, from a sender the
  registry lets send it (the hub itself for its own notices), signed with that sender's key and
  allowed by the data-sharing policy. Answered with a receipt when the type needs one, and with
  a business answer when the type expects one.
- ``tampered``: a genuine message changed after signing (``case_id`` altered), its signature
  value altered, or its signature removed. Refused: dead-lettered, no receipt, no answer.
- ``forged``: a hub notice signed with a key that is not the hub's. Refused likewise.
- ``expired``: correctly signed, ``expires_at`` already past. Refused likewise.
- ``duplicate``: a genuine message delivered twice, same id and same bytes. Handled once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.contract.errors import ConfigError, PolicyRefusal, Refusal
from hub.contract.keys import load_private_key, private_key_path
from hub.contract.messages import MESSAGE_SPECS, Purpose, new_document, validate_document
from hub.contract.notary import encode
from hub.contract.policy import Policy
from hub.contract.registry import Participant, Registry
from hub.contract.signing import kid_for, public_key_raw, sign_document
from hub.ops.conformance.samples import Context, fabricated_id, sample_body

GENUINE, TAMPERED, FORGED, EXPIRED, DUPLICATE = (
    "genuine", "tampered", "forged", "expired", "duplicate")
# A forged notice is most dangerous when the real one has an effect (a time-out ending resumes
# collection): the kit forges the first of these that the adapter receives.
FORGE_PREFERENCE = ("timeout.ended", "notice.reminder", "notice.refused", "notice.duplicate",
                    "notice.overdue", "register.answer")


@dataclass
class Probe:
    """One message the kit delivers to the adapter's inbox."""

    kind: str
    label: str
    document: dict[str, Any]
    raw: bytes
    headers: dict[str, str] = field(default_factory=dict)
    copies: int = 1
    sent_at: float | None = None
    """Monotonic time of the broker's confirm of the (first) copy."""

    @property
    def id(self) -> UUID:
        return UUID(str(self.document["id"]))

    @property
    def type(self) -> str:
        return str(self.document["type"])

    @property
    def sender(self) -> str:
        return str(self.document["sender"])


def _purpose(type_name: str) -> Purpose:
    purposes = MESSAGE_SPECS[type_name].purposes
    if len(purposes) == 1 or Purpose.COORDINATION in purposes:
        return MESSAGE_SPECS[type_name].purpose
    return sorted(purposes, key=lambda p: p.value)[0]


class Planner:
    """Builds the probes for one adapter (``subject``) from the registry and the policy."""

    def __init__(self, *, registry: Registry, policy: Policy, keys_dir: Path, subject: str,
                 clock: Callable[[], datetime]) -> None:
        participant = registry.get(subject)
        if participant is None:
            raise ConfigError(f"{subject} is not in the registry")
        if participant.kind == "hub":
            raise ConfigError(f"{subject} is the hub; the kit tests participants' adapters")
        self.registry = registry
        self.policy = policy
        self.keys_dir = keys_dir
        self.subject: Participant = participant
        self.clock = clock
        run = uuid4().hex.upper()
        self.case_id = f"KIT-{run[:4]}-{run[4:8]}"  # never 8 digits in a row (a BSN's shape)
        self._keys: dict[str, Ed25519PrivateKey] = {}
        self.skipped: dict[str, str] = {}
        """Received types the kit cannot deliver, and why (reported as skipped checks)."""

    # -- who signs -----------------------------------------------------------------------------

    def key_of(self, participant_id: str) -> Ed25519PrivateKey:
        if participant_id not in self._keys:
            self._keys[participant_id] = load_private_key(
                private_key_path(self.keys_dir, participant_id))
        return self._keys[participant_id]

    def sender_for(self, type_name: str) -> Participant:
        """The hub for its own types; else the first participant that may send the type and
        whose private key the kit has."""
        if type_name in self.registry.hub.sends:
            return self.registry.hub
        candidates = [p for p in self.registry.document.participants
                      if type_name in p.sends and p.id != self.subject.id and p.kind != "hub"]
        for participant in candidates:
            if private_key_path(self.keys_dir, participant.id).exists():
                return participant
        if not candidates:
            raise ConfigError(f"no participant of the registry sends {type_name}, which "
                              f"{self.subject.id} receives")
        names = ", ".join(p.id for p in candidates)
        raise ConfigError(f"to send {type_name} the kit needs the private key of one of "
                          f"{names} in {self.keys_dir / 'private'} (maatwerk-hub keys generate "
                          f"{candidates[0].id})")

    # -- building ------------------------------------------------------------------------------

    def document(self, type_name: str, *, sender: Participant | None = None,
                 in_reply_to: UUID | None = None, conversation_id: UUID | None = None,
                 created_at: datetime | None = None, ttl: timedelta | None = None,
                 ) -> dict[str, Any]:
        """An unsigned message of ``type_name`` to the subject, with a sample body."""
        sender = sender or self.sender_for(type_name)
        now = created_at or self.clock()
        purpose = _purpose(type_name)
        ctx = Context(sender=sender, recipient=self.subject, registry=self.registry,
                      policy=self.policy, now=now, purpose=purpose)
        spec = MESSAGE_SPECS[type_name]
        if spec.reply and in_reply_to is None:
            in_reply_to = fabricated_id()
        extra: dict[str, Any] = {"ttl": ttl} if ttl is not None else {}
        return new_document(
            type=type_name, sender=sender.id, recipient=self.subject.id, case_id=self.case_id,
            body=sample_body(type_name, ctx), purpose=purpose, conversation_id=conversation_id,
            in_reply_to=in_reply_to, created_at=now, **extra)

    def headers(self, document: dict[str, Any]) -> dict[str, str]:
        """The headers the hub sets on a delivered copy (policy rule and version for routed
        participant messages). Raises PolicyRefusal when the hub would not deliver it."""
        headers = {"x-maatwerk-sender": str(document["sender"])}
        if document["sender"] == self.registry.hub.id:
            return headers
        envelope = validate_document(document)
        decision = self.policy.evaluate(envelope, document, self.subject, self.clock())
        headers.update({"x-maatwerk-policy-version": decision.version,
                        "x-maatwerk-rule": decision.rule})
        return headers

    def signed(self, kind: str, label: str, document: dict[str, Any],
               key: Ed25519PrivateKey | None = None) -> Probe:
        signed = sign_document(document, key or self.key_of(str(document["sender"])))
        return Probe(kind=kind, label=label, document=signed, raw=encode(signed),
                     headers=self.headers(signed))

    def genuine(self, type_name: str, **envelope: Any) -> Probe | None:
        """A genuine probe, or None (with the reason in :attr:`skipped`) when the hub's policy
        would never deliver such a message to the subject."""
        document = self.document(type_name, **envelope)
        try:
            probe = self.signed(GENUINE, type_name, document)
        except PolicyRefusal as refusal:
            self.skipped[type_name] = (f"the policy lets no {type_name} reach "
                                       f"{self.subject.id}: {refusal.detail}")
            return None
        except Refusal as refusal:  # a sample that does not fit the contract: the kit's bug
            raise ConfigError(f"the kit's sample {type_name} is invalid: {refusal}") from refusal
        return probe

    # -- the probes ----------------------------------------------------------------------------

    def receives(self) -> list[str]:
        return [t for t in self.subject.receives if t in MESSAGE_SPECS]

    def main_type(self) -> str | None:
        """The type the refusal and duplicate probes use: one with a receipt and an answer if
        the adapter receives one, else one with a receipt, else any participant-sent type."""
        received = [t for t in self.receives() if t not in self.skipped
                    and t not in self.registry.hub.sends and not MESSAGE_SPECS[t].follows_up]
        for wanted in (lambda t: MESSAGE_SPECS[t].needs_receipt and MESSAGE_SPECS[t].responses,
                       lambda t: MESSAGE_SPECS[t].needs_receipt, lambda t: True):
            found = [t for t in received if wanted(t)]
            if found:
                return found[0]
        return None

    def first_wave(self) -> list[Probe]:
        """Genuine messages that start something (not follow-ups, not receipts)."""
        out = []
        for type_name in self.receives():
            spec = MESSAGE_SPECS[type_name]
            if spec.follows_up or type_name == "receipt":
                continue
            probe = self.genuine(type_name)
            if probe is not None:
                out.append(probe)
        return out

    def second_wave(self, first: list[Probe], answers: dict[UUID, dict[str, Any]]) -> list[Probe]:
        """Follow-ups to the first wave's requests, and a receipt for one of the adapter's
        answers (``answers``: first-wave probe id -> the adapter's answer document)."""
        out = []
        by_type = {p.type: p for p in first}
        for type_name in self.receives():
            spec = MESSAGE_SPECS[type_name]
            if spec.follows_up:
                origin = next((by_type[t] for t in spec.replies_to if t in by_type), None)
                envelope: dict[str, Any] = {}
                if origin is not None:
                    envelope = {"in_reply_to": origin.id, "conversation_id": UUID(
                        str(origin.document["conversation_id"])), "sender": self.registry.get(
                            origin.sender)}
                probe = self.genuine(type_name, **envelope)
            elif type_name == "receipt":
                probe = self._receipt(answers)
            else:
                continue
            if probe is not None:
                out.append(probe)
        return out

    def _receipt(self, answers: dict[UUID, dict[str, Any]]) -> Probe | None:
        for answer in answers.values():
            sender = self.registry.get(str(answer.get("recipient")))
            if (MESSAGE_SPECS.get(str(answer.get("type"))) and
                    MESSAGE_SPECS[str(answer["type"])].needs_receipt and sender is not None and
                    private_key_path(self.keys_dir, sender.id).exists()):
                return self.genuine("receipt", sender=sender, in_reply_to=UUID(str(answer["id"])),
                                    conversation_id=UUID(str(answer["conversation_id"])))
        return self.genuine("receipt")

    def tampered(self, type_name: str) -> list[Probe]:
        out = []
        changed = self.signed(TAMPERED, "case_id changed after signing",
                              self.document(type_name))
        changed.document["case_id"] = f"{self.case_id}-X"
        out.append(changed)
        flipped = self.signed(TAMPERED, "signature value altered", self.document(type_name))
        value = flipped.document["signature"]["value"]
        flipped.document["signature"]["value"] = ("B" if value[0] == "A" else "A") + value[1:]
        out.append(flipped)
        stripped = self.signed(TAMPERED, "signature removed", self.document(type_name))
        del stripped.document["signature"]
        out.append(stripped)
        for probe in out:
            probe.raw = encode(probe.document)
        return out

    def forged(self) -> Probe | None:
        """A hub notice the adapter receives, signed with a fresh key that is not the hub's."""
        type_name = next((t for t in FORGE_PREFERENCE if t in self.receives()), None)
        if type_name is None:
            return None
        key = Ed25519PrivateKey.generate()
        probe = self.signed(FORGED, f"{type_name} signed with a key that is not the hub's",
                            self.document(type_name, sender=self.registry.hub), key=key)
        probe.label += f" (kid {kid_for(public_key_raw(key.public_key()))})"
        return probe

    def expired(self, type_name: str) -> Probe:
        """Correctly signed, but ``expires_at`` has passed (created after the key's start)."""
        sender = self.sender_for(type_name)
        now = self.clock()
        kid = kid_for(public_key_raw(self.key_of(sender.id).public_key()))
        entry = next((k for k in sender.keys if k.kid == kid), None)
        start = now - timedelta(minutes=10)
        if entry is not None and entry.not_before > start:
            start = entry.not_before
        document = self.document(type_name, sender=sender, created_at=start,
                                 ttl=timedelta(milliseconds=1))
        if not now > start + timedelta(milliseconds=1):
            raise ConfigError(f"the key of {sender.id} is too new to sign an expired message")
        return self.signed(EXPIRED, f"{type_name} expired at {document['expires_at']}", document)

    def duplicate(self, type_name: str) -> Probe:
        probe = self.signed(DUPLICATE, f"{type_name} delivered twice (same id, same bytes)",
                            self.document(type_name))
        probe.copies = 2
        return probe

