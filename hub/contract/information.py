"""Information rules (afstemmingsbepaling): who may ask whom for which fields, for which purpose.

The ``information`` section of the policy file lists them. A rule names a purpose code
(:class:`~hub.contract.instruments.InfoPurpose`), the asking organisation (id or kind), the
holding organisation (id or kind), the fields the holder may give for that purpose, and its legal
ground -- both as a code that an ``info.request`` must name and as the text the rule rests on.
The seeds say the afstemmingsbepaling is still being studied: the ground is configuration, not
code, so a changed ground is a policy change with a new version.

The hub applies the rules twice (:mod:`hub.core.information_rules`): an ``info.request`` with no
rule, or naming another legal ground, is refused (``policy_no_rule``, ``policy_legal_ground``); an
``info.response`` may carry only fields that the rule allows *and* that were asked, or it is
refused (``policy_field_not_allowed``). The holder's adapter uses :func:`plan_answer` to give what
is allowed and to refuse the rest, naming the rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.contract.instruments import InfoField, InfoPurpose, LegalGroundCode
from hub.contract.registry import Kind, Participant


class InformationRule(BaseModel):
    """One agreement to share: these fields, from this holder, to this asker, for this purpose."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,79}$")
    purpose_code: InfoPurpose
    asker: str | None = None
    asker_kind: Kind | None = None
    holder: str | None = None
    holder_kind: Kind | None = None
    fields: list[InfoField] = Field(min_length=1)
    legal_ground_code: LegalGroundCode
    legal_ground: str = Field(min_length=1)
    reason: str = Field(min_length=1, pattern=r"^[^\r\n]+$")

    @model_validator(mode="after")
    def _one_each(self) -> InformationRule:
        if (self.asker is None) == (self.asker_kind is None):
            raise ValueError("name exactly one of asker and asker_kind")
        if (self.holder is None) == (self.holder_kind is None):
            raise ValueError("name exactly one of holder and holder_kind")
        return self

    def matches(self, purpose: InfoPurpose, asker: Participant, holder: Participant) -> bool:
        return (self.purpose_code == purpose
                and (asker.id == self.asker or asker.kind == self.asker_kind)
                and (holder.id == self.holder or holder.kind == self.holder_kind))

    @property
    def specificity(self) -> int:
        """Rules naming participants beat rules naming kinds (holder first, then asker)."""
        return 2 * (self.holder is not None) + (self.asker is not None)


def find_rule(rules: Iterable[InformationRule], purpose: InfoPurpose, asker: Participant,
              holder: Participant) -> InformationRule | None:
    """The most specific rule for this purpose between ``asker`` and ``holder``; among equals the
    first in the file."""
    best: InformationRule | None = None
    for rule in rules:
        if rule.matches(purpose, asker, holder) and (
                best is None or rule.specificity > best.specificity):
            best = rule
    return best


@dataclass(frozen=True)
class AnswerPlan:
    """What the holder may give (``allowed``) and must refuse (``refused``) under ``rule``."""

    rule: InformationRule
    allowed: list[InfoField]
    refused: list[InfoField]


def plan_answer(rule: InformationRule, asked: Sequence[InfoField]) -> AnswerPlan:
    allowed = [f for f in asked if f in rule.fields]
    return AnswerPlan(rule=rule, allowed=allowed, refused=[f for f in asked if f not in allowed])
