"""The bodies of the PMM instruments beyond the time-out (issue 13), with their data categories.

- **Afwijkingsbevoegdheid**: :class:`DeviationRecord` (``deviation.record``, to the loket): the
  rule deviated from as a structured reference, what was decided instead (a code and bounded
  text), the period, the *role* that decided (never a person), the legal ground and, where the
  role needs it, the bestuurlijke approval (reference and date).
- **Afstemmingsbepaling**: :class:`InfoRequest` / :class:`InfoResponse` (``info.request`` /
  ``info.response``): a purpose, a legal ground and the fields asked; the answer carries only
  what the policy's information rule allows, and a refusal names the rule.
- **Agency-started time-out messages**: :class:`TimeoutEndByAgency` and :class:`TimeoutSuspend`.
- **Maatwerkregister self-service**: :class:`RegisterUpdate` (``register.update``, to the hub).

Every field is a code, a date, an amount, a reference with a tight pattern, or (only
``decision_text``) bounded free text that the policy lets through with a legal ground.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import StringConstraints, model_validator

from hub.contract.bodies import AgencyReference, Body, Cents, Contact, DataCategory, field
from hub.contract.errors import rule_error
from hub.contract.identifiers import Bsn

C = DataCategory

LawCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,39}$")]
"""A law or an organisation's own rule set, as a code: ``participatiewet``, ``awir``,
``wsf-2000``, ``wahv``, ``invorderingswet-1990``, ``awb``, ``beleidsregel-uwv-terugvordering``."""
ArticleRef = Annotated[str, StringConstraints(
    pattern=r"^(art\. )?[0-9]{1,4}[a-z]?(:[0-9]{1,4}[a-z]?)?( lid [0-9]{1,2})?( onder [a-z])?$")]
"""An article: ``58``, ``art. 58 lid 2``, ``4:84``, ``art. 30 lid 1 onder b``."""


class RuleReference(Body):
    """A rule as law code and article: structured, so it cannot carry anything about a person."""

    law: LawCode = field(C.OPERATIONAL, description="law or rule-set code, e.g. participatiewet")
    article: ArticleRef = field(C.OPERATIONAL, description="article, e.g. 'art. 58 lid 2'")


# -- afwijkingsbevoegdheid ------------------------------------------------------------------------

class DeviationDecision(StrEnum):
    """What was decided instead of applying the rule (the outcome the knelpunten report counts)."""

    RECOVERY_WAIVED = "recovery_waived"
    RECOVERY_DEFERRED = "recovery_deferred"
    RECOVERY_REDUCED = "recovery_reduced"
    SURCHARGES_WAIVED = "surcharges_waived"
    SET_OFF_NOT_APPLIED = "set_off_not_applied"
    PAYMENT_CONTINUED = "payment_continued"
    LATE_APPLICATION_ACCEPTED = "late_application_accepted"
    PAYMENT_ARRANGEMENT = "payment_arrangement"
    OTHER = "other"


class DeciderRole(StrEnum):
    """The role that decided; a deviation never names a person."""

    MAATWERKFUNCTIONARIS = "maatwerkfunctionaris"
    TEAMLEIDER = "teamleider"
    MANAGER = "manager"
    DIRECTOR = "director"
    BOARD = "board"  # college van B&W, raad van bestuur: the bestuur itself


ROLES_WITHOUT_APPROVAL = frozenset({DeciderRole.BOARD})
"""The bestuur needs no bestuurlijke approval of its own decision; every other role does."""


class BestuurlijkeApproval(Body):
    """The administrative backing (bestuurlijke rugdekking): a reference and a date."""

    reference: AgencyReference = field(C.REFERENCE, description="e.g. BA-2026-014")
    approved_on: date = field(C.OPERATIONAL)


class DeviationRecord(Body):
    """Municipality or agency -> Maatwerkloket: a deviation from a rule was decided for the case."""

    rule: RuleReference = field(C.OPERATIONAL)
    decision_code: DeviationDecision = field(C.OPERATIONAL)
    decision_text: str = field(C.FREE_TEXT, min_length=1, max_length=500,
                               description="what was decided instead; no personal details")
    period_from: date = field(C.OPERATIONAL)
    period_until: date = field(C.OPERATIONAL)
    decided_by_role: DeciderRole = field(C.OPERATIONAL)
    legal_ground: RuleReference = field(C.OPERATIONAL, description="the power used, e.g. awb 4:84")
    approval: BestuurlijkeApproval | None = field(C.OPERATIONAL, default=None)
    amount_cents: Cents | None = field(C.FINANCIAL, default=None)

    @model_validator(mode="after")
    def _consistent(self) -> DeviationRecord:
        # The JSON Schema carries the approval rule as if/then (schemas.body_rules); the date
        # order is a listed rule (rules.py: period-until-not-before-from).
        if self.period_until < self.period_from:
            raise rule_error("period_until is before period_from", "period_until")
        if self.decided_by_role not in ROLES_WITHOUT_APPROVAL and self.approval is None:
            raise rule_error(f"a deviation decided by the {self.decided_by_role.value} needs the "
                             "bestuurlijke approval (approval.reference, approval.approved_on)",
                             "approval")
        return self


# -- afstemmingsbepaling ----------------------------------------------------------------------

class InfoPurpose(StrEnum):
    """Why a maatwerkfunctionaris asks (purpose limitation): matched by the information rules."""

    TIMEOUT_PREPARATION = "timeout_preparation"
    DEBT_OVERVIEW = "debt_overview"
    INCOME_CHECK = "income_check"
    PAYMENT_ARRANGEMENT = "payment_arrangement"


class InfoField(StrEnum):
    """What may be asked: each is a field of :class:`InfoItems`."""

    DEBT_TOTAL_CENTS = "debt_total_cents"
    DEBT_REFERENCES = "debt_references"
    COLLECTION_STATUS = "collection_status"
    RECOVERY_STATUS = "recovery_status"
    MONTHLY_INCOME_CENTS = "monthly_income_cents"
    BENEFIT_STATUS = "benefit_status"
    ARRANGEMENT_STATUS = "arrangement_status"
    CONTACT = "contact"


LegalGroundCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,63}$")]


class InfoRequest(Body):
    """Maatwerkfunctionaris -> another organisation: information about the case, for a purpose."""

    bsn: Bsn = field(C.IDENTIFYING)
    purpose_code: InfoPurpose = field(C.OPERATIONAL)
    legal_ground: LegalGroundCode = field(
        C.OPERATIONAL, description="code of the legal ground; must match the information rule")
    fields: list[InfoField] = field(C.OPERATIONAL, min_length=1, max_length=len(InfoField))
    urgency: Literal["normal", "urgent"] = field(C.OPERATIONAL, default="normal")

    @model_validator(mode="after")
    def _unique(self) -> InfoRequest:
        # The JSON Schema: uniqueItems (schemas.body_rules).
        if len(set(self.fields)) != len(self.fields):
            raise rule_error("each field is asked once", "fields")
        return self


Status = Literal["none", "open", "paused", "in_collection", "stopped", "settled"]


class InfoItems(Body):
    """The answered fields; every one optional, each with its own category."""

    debt_total_cents: Cents | None = field(C.FINANCIAL, default=None)
    debt_references: list[AgencyReference] | None = field(C.REFERENCE, default=None,
                                                          max_length=50)
    collection_status: Status | None = field(C.OPERATIONAL, default=None)
    recovery_status: Status | None = field(C.OPERATIONAL, default=None)
    monthly_income_cents: Cents | None = field(C.FINANCIAL, default=None)
    benefit_status: Literal["paid", "suspended", "stopped", "none"] | None = field(
        C.OPERATIONAL, default=None)
    arrangement_status: Literal["none", "proposed", "active", "broken"] | None = field(
        C.OPERATIONAL, default=None)
    contact: Contact | None = field(C.CONTACT, default=None)

    def present(self) -> list[str]:
        return sorted(k for k, v in self.model_dump(exclude_none=True).items())


class InfoRefusal(StrEnum):
    NOT_ALLOWED_FOR_PURPOSE = "not_allowed_for_purpose"
    NOT_HELD = "not_held"
    PERSON_UNKNOWN = "person_unknown"


class InfoResponse(Body):
    """The organisation's answer: what the rule allows, and for the rest the rule that refuses."""

    outcome: Literal["answered", "partially_answered", "refused"] = field(C.OPERATIONAL)
    items: InfoItems | None = field(C.OPERATIONAL, default=None)
    refused_fields: list[InfoField] = field(C.OPERATIONAL, default_factory=list)
    refusal_reason: InfoRefusal | None = field(C.OPERATIONAL, default=None)
    rule: str | None = field(C.OPERATIONAL, default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,79}$",
                             description="the information rule applied (policy.yaml)")

    @model_validator(mode="after")
    def _consistent(self) -> InfoResponse:
        # The JSON Schema carries all four as if/then (schemas.body_rules).
        answered = self.items is not None and bool(self.items.present())
        if (self.outcome == "refused") == answered:
            raise rule_error("an answer has items, a refusal has none", "items")
        if (self.outcome == "answered") == bool(self.refused_fields):
            raise rule_error("a partial answer or a refusal lists refused_fields, a full answer "
                             "none", "refused_fields")
        if self.refused_fields and self.refusal_reason is None:
            raise rule_error("a refusal explains itself in refusal_reason", "refusal_reason")
        if self.refusal_reason is InfoRefusal.NOT_ALLOWED_FOR_PURPOSE and self.rule is None:
            raise rule_error("a refusal by the policy names the rule", "rule")
        return self


# -- time-out messages an agency starts ---------------------------------------------------------

class AgencyPauseReason(StrEnum):
    AGREEMENTS_BROKEN = "agreements_broken"
    NEW_DEBTS = "new_debts"
    HOUSEHOLD_UNREACHABLE = "household_unreachable"
    DEBT_ASSISTANCE_ENDED = "debt_assistance_ended"
    SOLUTION_FOUND = "solution_found"
    OTHER = "other"


class TimeoutEndByAgency(Body):
    """Agency -> municipality: the agency ends the pause (a CJIB noodstop ends when agreements
    are broken); the municipality is told by this message."""

    ended_on: date = field(C.OPERATIONAL)
    reason_code: AgencyPauseReason = field(C.OPERATIONAL)


class TimeoutSuspend(Body):
    """Agency -> municipality: the agency suspends the pause (collection resumes) from a date."""

    suspended_from: date = field(C.OPERATIONAL)
    reason_code: AgencyPauseReason = field(C.OPERATIONAL)
    resume_on: date | None = field(C.OPERATIONAL, default=None)

    @model_validator(mode="after")
    def _order(self) -> TimeoutSuspend:
        # A listed rule (rules.py: resume-on-after-suspended-from): no JSON Schema compares dates.
        if self.resume_on is not None and self.resume_on <= self.suspended_from:
            raise rule_error("resume_on must be after suspended_from", "resume_on")
        return self


# -- Maatwerkregister self-service ---------------------------------------------------------------

class RegisterUpdate(Body):
    """Participant -> hub: new published contact details of the participant itself."""

    contact_point: str | None = field(C.CONTACT, default=None, min_length=1, max_length=200)
    email: str | None = field(C.CONTACT, default=None, max_length=254,
                              pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = field(C.CONTACT, default=None, pattern=r"^\+?[0-9 ()-]{6,20}$")

    @model_validator(mode="after")
    def _something(self) -> RegisterUpdate:
        # The JSON Schema: anyOf, one of the three present and not null (schemas.body_rules).
        if self.contact_point is None and self.email is None and self.phone is None:
            raise rule_error("name at least one of contact_point, email, phone",
                             "contact_point", "email", "phone")
        return self


__all__ = [
    "AgencyPauseReason", "BestuurlijkeApproval", "DeciderRole", "DeviationDecision",
    "DeviationRecord", "InfoField", "InfoItems", "InfoPurpose", "InfoRefusal", "InfoRequest",
    "InfoResponse", "RegisterUpdate", "RuleReference", "TimeoutEndByAgency", "TimeoutSuspend",
]
