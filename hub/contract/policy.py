"""The data-sharing policy: which body fields may reach which recipient, and why.

A policy file lists rules. A rule names a message type, a recipient (participant id) or recipient
kind, optionally a purpose and a validity window, and the body field paths it allows, with a
one-line reason and -- when a sensitive field (free text, health, addiction, justice) is allowed --
the legal ground. Evaluation is deny by default: every field present in the body must be allowed
by the one rule that applies, or the message is refused. Nothing is silently stripped, and a
refusal names the rule and the field paths, never their values.

Field categories are read from the body models (``x-data-category``), see :func:`field_categories`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hub.contract.bodies import CATEGORY_KEY, DataCategory
from hub.contract.errors import ConfigError, HubError, PolicyRefusal, ReasonCode, json_pointer
from hub.contract.information import InformationRule
from hub.contract.messages import MESSAGE_SPECS, Envelope, Purpose
from hub.contract.registry import (
    Kind,
    Participant,
    Registry,
    describe_errors,
    read_yaml,  # the registry's reader: same sources, same errors
    strip_extensions,
)

DEFAULT_POLICY = "policy.yaml"


# -- field categories --------------------------------------------------------------------------

def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model class of a field typed ``Model`` or ``Model | None`` (not lists of models)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, UnionType):
        for arg in get_args(annotation):
            found = _nested_model(arg)
            if found is not None:
                return found
    return None


@cache
def _categories(model: type[BaseModel]) -> Mapping[str, DataCategory]:
    out: dict[str, DataCategory] = {}

    def walk(m: type[BaseModel], prefix: str, inherited: DataCategory | None) -> None:
        for name, info in m.model_fields.items():
            extra = info.json_schema_extra
            raw = extra.get(CATEGORY_KEY) if isinstance(extra, dict) else None
            # A field without its own category inherits its parent's; unknown is treated as the
            # most careful category (free text), so it can never slip through unnoticed.
            category = DataCategory(str(raw)) if raw else inherited or DataCategory.FREE_TEXT
            out[prefix + name] = category
            nested = _nested_model(info.annotation)
            if nested is not None:
                walk(nested, f"{prefix}{name}.", category)

    walk(model, "", None)
    return out


def field_categories(body_model: type[BaseModel]) -> dict[str, DataCategory]:
    """Every dot path of a body model (nested models descended, lists not) -> its data category."""
    return dict(_categories(body_model))


def present_paths(body: Mapping[str, Any], body_model: type[BaseModel]) -> list[str]:
    """The leaf paths present in a raw body: null counts as absent; lists are one path."""
    categories = _categories(body_model)
    out: list[str] = []

    def walk(value: Mapping[str, Any], prefix: str) -> None:
        for key, item in value.items():
            if item is None:
                continue
            path = prefix + str(key)
            nested = any(p.startswith(path + ".") for p in categories)
            if isinstance(item, Mapping) and nested:
                walk(item, path + ".")
            else:
                out.append(path)

    walk(body, "")
    return sorted(out)


def _covers(allowed: str, path: str) -> bool:
    return path == allowed or path.startswith(allowed + ".")


def _sensitive(category: DataCategory | None) -> bool:
    return category is None or category.sensitive


# -- the policy file ---------------------------------------------------------------------------

class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Rule(_Strict):
    """One data-sharing agreement: these fields of this type may reach this recipient."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,79}$")
    message_type: str
    recipient: str | None = None
    recipient_kind: Kind | None = None
    purpose: Purpose | None = None
    allow: list[str] = Field(min_length=1)
    legal_ground: str | None = Field(default=None, min_length=1)
    reason: str = Field(min_length=1, pattern=r"^[^\r\n]+$")
    not_before: date | None = None
    not_after: date | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if (self.recipient is None) == (self.recipient_kind is None):
            raise ValueError("name exactly one of recipient and recipient_kind")
        spec = MESSAGE_SPECS.get(self.message_type)
        if spec is None:
            raise ValueError(f"message_type: unknown message type {self.message_type!r}")
        categories = _categories(spec.body)
        for path in self.allow:
            if path not in categories:
                raise ValueError(f"allow: {path!r} is not a field of {self.message_type} "
                                 f"(body {spec.body.__name__})")
        sensitive = sorted({p for a in self.allow for p, c in categories.items()
                            if _covers(a, p) and c.sensitive})
        if sensitive and self.legal_ground is None:
            raise ValueError(f"legal_ground: required, the rule allows sensitive fields: "
                             f"{', '.join(sensitive)}")
        return self

    @property
    def selector(self) -> str:
        return f"recipient {self.recipient}" if self.recipient else f"kind {self.recipient_kind}"

    def selects(self, participant: Participant) -> bool:
        return participant.id == self.recipient or participant.kind == self.recipient_kind

    def valid_on(self, day: date) -> bool:
        return (self.not_before is None or self.not_before <= day) and (
            self.not_after is None or day <= self.not_after
        )

    def allows(self, path: str) -> bool:
        return any(_covers(a, path) for a in self.allow)


class PolicyDocument(_Strict):
    version: str = Field(min_length=1)
    published: date
    rules: list[Rule] = Field(min_length=1)
    information: list[InformationRule] = Field(default_factory=list)
    """Information rules of the afstemmingsbepaling (:mod:`hub.contract.information`)."""


# -- evaluation --------------------------------------------------------------------------------

@dataclass(frozen=True)
class PolicyDecision:
    """The message may pass: the policy version and the rule that allowed it."""

    version: str
    rule: str


@dataclass(frozen=True)
class FieldExplanation:
    """One present body field: its category and whether (by which rule) it may pass."""

    path: str
    category: DataCategory | None
    allowed: bool
    rule: str | None
    why: str


def _day(at: datetime) -> date:
    """Validity windows are whole days in UTC."""
    return at.astimezone(UTC).date()


class Policy:
    """A loaded, validated policy."""

    def __init__(self, document: PolicyDocument) -> None:
        self.document = document
        self.version = document.version
        self.published = document.published
        self.rules: tuple[Rule, ...] = tuple(document.rules)
        self.information: tuple[InformationRule, ...] = tuple(document.information)

    def rule_for(
        self, message_type: str, purpose: Purpose, recipient: Participant, at: datetime
    ) -> Rule | None:
        """The rule that applies: valid at ``at``, purpose matches; recipient id beats kind.

        Among equals the first in the file wins (``check_policy`` reports such pairs as errors).
        """
        day = _day(at)
        candidates = [
            r for r in self.rules
            if r.message_type == message_type and r.selects(recipient) and r.valid_on(day)
            and (r.purpose is None or r.purpose == purpose)
        ]
        by_id = [r for r in candidates if r.recipient is not None]
        chosen = by_id or candidates
        return chosen[0] if chosen else None

    def evaluate(
        self, envelope: Envelope, document: dict[str, Any], recipient: Participant, at: datetime
    ) -> PolicyDecision:
        """Allow the message or raise :class:`PolicyRefusal` (naming rule and paths, no values)."""
        rule = self.rule_for(envelope.type, envelope.purpose, recipient, at)
        if rule is None:
            raise PolicyRefusal(
                ReasonCode.POLICY_NO_RULE,
                f"policy {self.version} has no rule that allows {envelope.type} to "
                f"{recipient.id} ({recipient.kind}) for purpose {envelope.purpose.value}",
                rule=None, field_paths=[],
            )
        body_model = MESSAGE_SPECS[envelope.type].body
        body = document.get("body")
        paths = present_paths(body if isinstance(body, Mapping) else {}, body_model)
        offending = [p for p in paths if not rule.allows(p)]
        if not offending:
            return PolicyDecision(version=self.version, rule=rule.id)
        categories = _categories(body_model)
        special = any(_sensitive(categories.get(p)) for p in offending)
        pointers = [json_pointer("body", *p.split(".")) for p in offending]
        listed = ", ".join(
            f"{ptr} ({_name(categories.get(p))})"
            for p, ptr in zip(offending, pointers, strict=True)
        )
        raise PolicyRefusal(
            ReasonCode.POLICY_SPECIAL_CATEGORY if special else ReasonCode.POLICY_FIELD_NOT_ALLOWED,
            f"rule {rule.id} (policy {self.version}) does not allow these fields of "
            f"{envelope.type} to {recipient.id}: {listed}",
            rule=rule.id, field_paths=pointers,
        )

    def explain(
        self, document: Mapping[str, Any], registry: Registry, at: datetime
    ) -> list[FieldExplanation]:
        """Per present body field of a (possibly unsigned) message: allowed by which rule, or why
        not. Raises :class:`HubError` when type, purpose or recipient cannot be read."""
        message_type, purpose, recipient = _header(document, registry)
        body_model = MESSAGE_SPECS[message_type].body
        body = document.get("body")
        if not isinstance(body, Mapping):
            raise HubError("the message has no body object")
        rule = self.rule_for(message_type, purpose, recipient, at)
        categories = _categories(body_model)
        out = []
        for path in present_paths(body, body_model):
            category = categories.get(path)
            if rule is None:
                why = f"no rule allows {message_type} to {recipient.id} for {purpose.value}"
            elif rule.allows(path):
                why = f"{rule.reason}" + (f" [{rule.legal_ground}]" if rule.legal_ground else "")
            else:
                why = f"not in rule {rule.id}" + (
                    f"; {_name(category)} needs a rule with a legal ground"
                    if _sensitive(category) else ""
                )
            out.append(FieldExplanation(
                path=path, category=category, rule=rule.id if rule else None,
                allowed=rule is not None and rule.allows(path), why=why,
            ))
        return out


def _name(category: DataCategory | None) -> str:
    return category.value if category else "unknown field"


def _header(document: Mapping[str, Any], registry: Registry) -> tuple[str, Purpose, Participant]:
    message_type = document.get("type")
    if not isinstance(message_type, str) or message_type not in MESSAGE_SPECS:
        raise HubError(f"unknown message type {message_type!r}")
    try:
        purpose = Purpose(str(document.get("purpose")))
    except ValueError as exc:
        raise HubError(f"unknown purpose {document.get('purpose')!r}") from exc
    recipient = registry.get(str(document.get("recipient")))
    if recipient is None:
        raise HubError(f"recipient {document.get('recipient')!r} is not in the registry")
    return message_type, purpose, recipient


# -- loading -----------------------------------------------------------------------------------

def load_policy(path: Path | None = None) -> Policy:
    """Load and validate a policy (the embedded default one when ``path`` is None)."""
    source, raw = read_yaml(path, DEFAULT_POLICY)
    raw = strip_extensions(raw)
    try:
        document = PolicyDocument.model_validate_json(json.dumps(raw, default=str))
    except ValidationError as exc:
        raise ConfigError(describe_errors(source, raw, exc, "rules")) from exc
    first: dict[str, int] = {}
    for index, rule in enumerate(document.rules):
        if rule.id in first:
            raise ConfigError(f"{source}: rules[{index}] (id {rule.id!r}): id: already used by "
                              f"rules[{first[rule.id]}]")
        first[rule.id] = index
    for index, info in enumerate(document.information):
        if info.id in first:
            raise ConfigError(f"{source}: information[{index}] (id {info.id!r}): id: already "
                              "used by another rule")
        first[info.id] = -1
    return Policy(document)


# -- checking against a registry ---------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    """Something ``policy check`` reports. ``rule`` is None for a registry-wide finding."""

    level: Literal["error", "warning"]
    rule: str | None
    text: str


def _overlap(a: Rule, b: Rule) -> bool:
    lo, hi = date.min, date.max
    purposes = a.purpose is None or b.purpose is None or a.purpose == b.purpose
    windows = (a.not_before or lo) <= (b.not_after or hi) and (b.not_before or lo) <= (
        a.not_after or hi
    )
    same = (a.recipient, a.recipient_kind) == (b.recipient, b.recipient_kind)
    return a.message_type == b.message_type and same and purposes and windows


def _reachability(rule: Rule, registry: Registry, today: date) -> list[Finding]:
    def err(text: str) -> Finding:
        return Finding("error", rule.id, text)

    out = []
    spec = MESSAGE_SPECS[rule.message_type]
    if rule.recipient is not None and registry.get(rule.recipient) is None:
        out.append(err(f"recipient {rule.recipient} is not in the registry"))
    targets = [p for p in registry.document.participants if rule.selects(p)]
    if targets and not any(rule.message_type in p.receives for p in targets):
        out.append(err(f"the registry lets no {rule.selector} receive {rule.message_type}"))
    elif rule.recipient_kind is not None and not targets:
        out.append(err(f"the registry has no participant of kind {rule.recipient_kind}"))
    if rule.purpose is not None and rule.purpose not in spec.purposes:
        out.append(err(f"purpose {rule.purpose.value} is not allowed for {rule.message_type}"))
    if rule.not_before and rule.not_after and rule.not_after < rule.not_before:
        out.append(err(f"not_after {rule.not_after} is before not_before {rule.not_before}"))
    elif rule.not_after is not None and rule.not_after < today:
        out.append(Finding("warning", rule.id, f"validity ended on {rule.not_after}"))
    return out


def check_policy(policy: Policy, registry: Registry, *, today: date | None = None) -> list[Finding]:
    """Unreachable and contradictory rules (errors), expired rules and receivers without a rule
    (warnings)."""
    today = today or datetime.now(UTC).date()
    findings: list[Finding] = []
    for rule in policy.rules:
        findings += _reachability(rule, registry, today)
    for i, a in enumerate(policy.rules):
        for b in policy.rules[i + 1:]:
            if _overlap(a, b):
                findings.append(Finding(
                    "error", b.id, f"contradicts rule {a.id}: same {a.message_type} to "
                    f"{a.selector}, overlapping purpose and validity; which applies is ambiguous",
                ))
    for info in policy.information:  # information rules name real participants
        for who in (info.asker, info.holder):
            if who is not None and registry.get(who) is None:
                findings.append(Finding("error", info.id, f"{who} is not in the registry"))
    for participant in registry.document.participants:
        for message_type in participant.receives:
            for purpose in sorted(MESSAGE_SPECS[message_type].purposes):
                covered = any(
                    r.message_type == message_type and r.selects(participant) and r.valid_on(today)
                    and r.purpose in (None, purpose) for r in policy.rules
                )
                if not covered:
                    findings.append(Finding(
                        "warning", None, f"no rule covers {message_type} to {participant.id} "
                        f"for {purpose.value}: such messages are all refused",
                    ))
    return findings
