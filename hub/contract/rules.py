"""The contract rules a JSON Schema cannot carry, listed so that a team in any language can check
them next to a standard JSON Schema validator.

Every other rule of the models is in the generated schemas: patterns, bounds, ``not``, and the
rules across fields as ``if`` / ``then``, ``anyOf`` and ``uniqueItems``
(:mod:`hub.contract.schemas.body_rules`). What is listed here is published per schema under
``x-maatwerk.rules`` (an id, the JSON Pointers of the fields it reads, one sentence, and the
reason code the hub refuses with), and each rule has an invalid test vector. The models enforce
every rule; this module only says them.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.contract.errors import ReasonCode
from hub.contract.messages import MESSAGE_SPECS


@dataclass(frozen=True, kw_only=True)
class ListedRule:
    id: str
    field_paths: tuple[str, ...]
    rule: str
    reason: ReasonCode
    types: tuple[str, ...]  # the message types it applies to

    def published(self) -> dict[str, object]:
        return {"id": self.id, "field_paths": list(self.field_paths), "rule": self.rule,
                "reason_code": self.reason.value}


def _types_with_body_field(name: str) -> tuple[str, ...]:
    return tuple(t for t, spec in MESSAGE_SPECS.items() if name in spec.body.model_fields)


_ALL = tuple(MESSAGE_SPECS)
LISTED_RULES: tuple[ListedRule, ...] = (
    ListedRule(
        id="expires-after-created", field_paths=("/created_at", "/expires_at"),
        rule="expires_at is a later moment than created_at.",
        reason=ReasonCode.SCHEMA_VIOLATION, types=_ALL),
    ListedRule(
        id="sender-not-recipient", field_paths=("/sender", "/recipient"),
        rule="sender and recipient are different participants.",
        reason=ReasonCode.SCHEMA_VIOLATION, types=_ALL),
    ListedRule(
        id="bsn-elfproef", field_paths=("/body/bsn",),
        rule="The BSN passes the elfproef: 9*d1 + 8*d2 + ... + 2*d8 - 1*d9 is divisible by 11.",
        reason=ReasonCode.SCHEMA_VIOLATION, types=_types_with_body_field("bsn")),
    ListedRule(
        id="effective-until-not-before-from",
        field_paths=("/body/effective_from", "/body/effective_until"),
        rule="When both are given, effective_until is not before effective_from.",
        reason=ReasonCode.SCHEMA_VIOLATION, types=("timeout.response",)),
    ListedRule(
        id="period-until-not-before-from",
        field_paths=("/body/period_from", "/body/period_until"),
        rule="period_until is not before period_from (the same day is allowed).",
        reason=ReasonCode.SCHEMA_VIOLATION, types=("deviation.record",)),
    ListedRule(
        id="resume-on-after-suspended-from",
        field_paths=("/body/suspended_from", "/body/resume_on"),
        rule="When resume_on is given, it is a later day than suspended_from.",
        reason=ReasonCode.SCHEMA_VIOLATION, types=("timeout.suspend",)),
    ListedRule(
        id="max-lifetime", field_paths=("/created_at", "/expires_at"),
        rule=("expires_at - created_at is at most the agreed lifetime of the message type "
              "(agreements: lifetimes; default 30 days)."),
        reason=ReasonCode.LIFETIME_EXCEEDED, types=_ALL),
)


def rules_for(type_name: str) -> list[ListedRule]:
    """The listed rules that apply to messages of ``type_name``, in checking order."""
    return [r for r in LISTED_RULES if type_name in r.types]
