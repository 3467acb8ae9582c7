"""The typed body of every message type, with the data category of every field.

Each body field carries ``x-data-category`` in its JSON Schema (set through :func:`field`), so the
policy engine and agency teams read the same fact: what kind of data a field is. Categories:

- ``identifying``: identifies the person (the BSN);
- ``reference``: an agency's own case or debt references;
- ``financial``: amounts;
- ``contact``: contact details of professionals;
- ``operational``: codes, dates, periods, participant ids (no personal content);
- ``free_text``: free text that may describe the household;
- ``health``, ``addiction``, ``justice``: special categories (AVG art. 9 and 10).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from hub.contract.errors import ReasonCode, rule_error
from hub.contract.identifiers import Bsn, CbsCode, ParticipantId, WholeNumber, whole_number


class DataCategory(StrEnum):
    IDENTIFYING = "identifying"
    REFERENCE = "reference"
    FINANCIAL = "financial"
    CONTACT = "contact"
    OPERATIONAL = "operational"
    FREE_TEXT = "free_text"
    HEALTH = "health"
    ADDICTION = "addiction"
    JUSTICE = "justice"

    @property
    def sensitive(self) -> bool:
        """Special categories and free text: only a rule with a legal ground lets them through."""
        return self in _SENSITIVE


_SENSITIVE = frozenset(
    {DataCategory.FREE_TEXT, DataCategory.HEALTH, DataCategory.ADDICTION, DataCategory.JUSTICE}
)
CATEGORY_KEY = "x-data-category"


def field(category: DataCategory, **kwargs: Any) -> Any:
    """A pydantic ``Field`` that records the data category of a body field."""
    return Field(json_schema_extra={CATEGORY_KEY: category.value}, **kwargs)


class Body(BaseModel):
    """Base of every body: strict, closed, immutable."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


C = DataCategory
# Constraint inside the type, so that it holds (and is published) also as ``Cents | None``.
Cents = Annotated[int, Field(ge=0), BeforeValidator(whole_number)]
FreeText = str
_TEXT = {"min_length": 1, "max_length": 4000}


class ProblemArea(StrEnum):
    DEBTS = "debts"
    BENEFITS = "benefits"
    ALLOWANCES = "allowances"
    FINES = "fines"
    STUDY_DEBT = "study_debt"
    HOUSING = "housing"
    CARE = "care"
    INCOME = "income"
    EMPLOYMENT = "employment"


class TimeoutReason(StrEnum):
    LIVELIHOOD_THREATENED = "livelihood_threatened"
    INCOME_BELOW_MINIMUM = "income_below_minimum"
    EVICTION_THREATENED = "eviction_threatened"
    DEBT_ASSISTANCE_STARTED = "debt_assistance_started"
    MULTIPLE_COLLECTIONS = "multiple_collections"
    OTHER = "other"


class PauseScope(StrEnum):
    COLLECTION = "collection"
    RECOVERY = "recovery"
    RUNNING_DEDUCTION = "running_deduction"
    SET_OFF = "set_off"
    SURCHARGES = "surcharges"
    SEIZURE = "seizure"
    DECISIONS = "decisions"
    PAYMENT_STOP = "payment_stop"


class TimeoutOutcome(StrEnum):
    ACCEPTED = "accepted"
    PARTIALLY_ACCEPTED = "partially_accepted"
    DECLINED = "declined"


class DeclineReason(StrEnum):
    OTHER_ROUTE_APPLIES = "other_route_applies"
    NO_LEGAL_ROOM = "no_legal_room"
    PERSON_UNKNOWN = "person_unknown"
    REFERENCE_UNKNOWN = "reference_unknown"
    INSUFFICIENT_INFORMATION = "insufficient_information"
    ALREADY_PAUSED = "already_paused"
    MAXIMUM_EXCEEDED = "maximum_exceeded"
    BACK_OFFICE_UNAVAILABLE = "back_office_unavailable"
    OTHER = "other"


class Contact(Body):
    """A professional's contact point (never the household's)."""

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)
    phone: str = Field(pattern=r"^\+?[0-9 ()-]{6,20}$")


CjibReference = Annotated[str, StringConstraints(pattern=r"^[0-9]{16}$")]
AgencyReference = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9./-]{0,39}$")]
AllowanceYear = Annotated[int, Field(ge=2000, le=2100), BeforeValidator(whole_number)]


class AgencyReferences(Body):
    """Each agency's own references; a recipient may receive only its own (policy).

    Every reference has a tight pattern (at most 40 letters, digits, ``.``, ``/``, ``-``; CJIB's
    betalingskenmerk exactly 16 digits), so no free text can travel as a "reference".
    """

    cjib_payment_references: list[CjibReference] | None = field(
        C.REFERENCE, default=None, min_length=1, max_length=50,
        description="CJIB betalingskenmerken (16 digits each)",
    )
    uwv_recovery_decisions: list[AgencyReference] | None = field(
        C.REFERENCE, default=None, min_length=1, max_length=20,
        description="UWV decision references of the recovery (terugvordering)",
    )
    duo_debt_numbers: list[AgencyReference] | None = field(
        C.REFERENCE, default=None, min_length=1, max_length=20,
        description="DUO study-debt numbers",
    )
    toeslagen_years: list[AllowanceYear] | None = field(
        C.REFERENCE, default=None, min_length=1, max_length=20,
        description="Toeslagen allowance years under recovery",
    )
    belastingdienst_assessments: list[AgencyReference] | None = field(
        C.REFERENCE, default=None, min_length=1, max_length=20,
        description="Belastingdienst assessment numbers (aanslagnummers)",
    )
    svb_benefit_references: list[AgencyReference] | None = field(
        C.REFERENCE, default=None, min_length=1, max_length=20,
        description="SVB benefit references (e.g. kinderbijslag)",
    )


class EscalationRequest(Body):
    """Municipality -> Maatwerkloket: local and regional options are exhausted."""

    bsn: Bsn = field(C.IDENTIFYING)
    municipality: CbsCode = field(C.OPERATIONAL)
    problem_areas: list[ProblemArea] = field(C.OPERATIONAL, min_length=1)
    agencies_involved: list[ParticipantId] = field(C.OPERATIONAL)
    urgency: Literal["normal", "urgent", "acute"] = field(C.OPERATIONAL)
    situation_summary: FreeText = field(C.FREE_TEXT, **_TEXT)
    local_efforts: FreeText | None = field(C.FREE_TEXT, default=None, **_TEXT)
    health_context: FreeText | None = field(C.HEALTH, default=None, **_TEXT)
    addiction_context: FreeText | None = field(C.ADDICTION, default=None, **_TEXT)
    justice_context: FreeText | None = field(C.JUSTICE, default=None, **_TEXT)
    contact: Contact = field(C.CONTACT)


class EscalationResponse(Body):
    """Maatwerkloket -> municipality: the loket takes the case, or says what is missing."""

    outcome: Literal["accepted", "declined", "needs_information"] = field(C.OPERATIONAL)
    loket_reference: str = field(C.REFERENCE, min_length=1, max_length=64)
    next_step: Literal["mediation", "let_referral", "bridging", "none"] = field(C.OPERATIONAL)
    explanation: FreeText | None = field(C.FREE_TEXT, default=None, **_TEXT)


class LetReferral(Body):
    """Maatwerkloket -> Landelijk Escalatie Team: a bottleneck the administrators must resolve."""

    loket_reference: str = field(C.REFERENCE, min_length=1, max_length=64)
    agencies_involved: list[ParticipantId] = field(C.OPERATIONAL, min_length=1)
    problem_areas: list[ProblemArea] = field(C.OPERATIONAL, min_length=1)
    question: FreeText = field(C.FREE_TEXT, **_TEXT)
    bridging_amount_cents: Cents | None = field(C.FINANCIAL, default=None)


class LetDecision(Body):
    """Landelijk Escalatie Team -> Maatwerkloket: who is responsible, and what follows."""

    loket_reference: str = field(C.REFERENCE, min_length=1, max_length=64)
    decision: Literal["responsible_party_named", "no_agreement", "rule_change_proposed"] = field(
        C.OPERATIONAL
    )
    responsible_party: ParticipantId | None = field(C.OPERATIONAL, default=None)
    explanation: FreeText | None = field(C.FREE_TEXT, default=None, **_TEXT)


class EscalationProgress(Body):
    """Maatwerkloket -> the party that escalated: the loket is working on the case."""

    loket_reference: str = field(C.REFERENCE, min_length=1, max_length=64)
    step: Literal["mediation", "bridging", "let_referral", "other"] = field(C.OPERATIONAL)
    explanation: FreeText | None = field(C.FREE_TEXT, default=None, **_TEXT)


class EscalationClosed(Body):
    """Maatwerkloket -> the party that escalated: the escalation is closed, and how it ended."""

    loket_reference: str = field(C.REFERENCE, min_length=1, max_length=64)
    outcome: Literal["resolved", "let_decided", "no_solution", "withdrawn"] = field(
        C.OPERATIONAL)
    explanation: FreeText | None = field(C.FREE_TEXT, default=None, **_TEXT)


class TimeoutRequest(Body):
    """Municipality -> agency: pause collection, recovery or decisions that threaten livelihood."""

    bsn: Bsn = field(C.IDENTIFYING)
    references: AgencyReferences = field(C.REFERENCE)
    requested_from: date = field(C.OPERATIONAL)
    requested_months: WholeNumber = field(C.OPERATIONAL, ge=1, le=12)
    reason_code: TimeoutReason = field(C.OPERATIONAL)
    scope: list[PauseScope] = field(C.OPERATIONAL, min_length=1)
    debt_assistance_started: bool = field(C.OPERATIONAL, default=False)
    situation_summary: FreeText | None = field(C.FREE_TEXT, default=None, **_TEXT)
    health_context: FreeText | None = field(C.HEALTH, default=None, **_TEXT)
    addiction_context: FreeText | None = field(C.ADDICTION, default=None, **_TEXT)
    justice_context: FreeText | None = field(C.JUSTICE, default=None, **_TEXT)


class TimeoutResponse(Body):
    """Agency -> municipality: the answer to a time-out request or extension."""

    outcome: TimeoutOutcome = field(C.OPERATIONAL)
    effective_from: date | None = field(C.OPERATIONAL, default=None)
    effective_until: date | None = field(C.OPERATIONAL, default=None)
    paused_scope: list[PauseScope] = field(C.OPERATIONAL, default_factory=list)
    not_paused_scope: list[PauseScope] = field(C.OPERATIONAL, default_factory=list)
    reason_code: DeclineReason | None = field(C.OPERATIONAL, default=None)
    explanation: FreeText | None = field(C.FREE_TEXT, default=None, **_TEXT)
    contact: Contact | None = field(C.CONTACT, default=None)

    @model_validator(mode="after")
    def _consistent(self) -> TimeoutResponse:
        # The JSON Schema carries these as if/then (schemas.body_rules), except the date order
        # (whatever the outcome), which it lists as a rule it cannot express.
        if self.effective_from and self.effective_until and (
                self.effective_until < self.effective_from):
            raise rule_error("effective_until is before effective_from", "effective_until")
        if self.outcome is TimeoutOutcome.DECLINED:
            if self.reason_code is None:
                raise rule_error("a declined time-out needs a reason_code", "reason_code")
            return self
        if self.effective_from is None or self.effective_until is None:
            raise rule_error("an accepted time-out needs effective_from and effective_until",
                            "effective_from", "effective_until")
        if not self.paused_scope:
            raise rule_error("an accepted time-out names what it pauses in paused_scope",
                            "paused_scope")
        if self.outcome is TimeoutOutcome.PARTIALLY_ACCEPTED and self.reason_code is None:
            raise rule_error("a partially accepted time-out needs a reason_code for what is not",
                            "reason_code")
        return self


class TimeoutExtend(Body):
    """Municipality -> agency: extend an active time-out."""

    extend_months: WholeNumber = field(C.OPERATIONAL, ge=1, le=12)
    reason_code: TimeoutReason = field(C.OPERATIONAL)
    debt_assistance_started: bool = field(C.OPERATIONAL, default=False)


class TimeoutLift(Body):
    """Municipality -> agency: end a time-out early."""

    lift_on: date = field(C.OPERATIONAL)
    reason_code: Literal["household_stable", "solution_found", "agreements_broken", "other"] = (
        field(C.OPERATIONAL)
    )


class TimeoutEnded(Body):
    """Hub -> municipality and agency: a time-out has ended."""

    agency: ParticipantId = field(C.OPERATIONAL)
    ended_on: date = field(C.OPERATIONAL)
    ended_by: Literal["end_date", "lifted"] = field(C.OPERATIONAL)


class Receipt(Body):
    """Recipient -> sender (via the hub): the message is durably taken. ``in_reply_to`` names it."""

    received_at: AwareDatetime = field(C.OPERATIONAL)


class NoticeRefused(Body):
    """Hub -> the broker-authenticated sender: a message was refused. Never carries field values."""

    refused_message_id: UUID | None = field(C.OPERATIONAL)
    reason_code: ReasonCode = field(C.OPERATIONAL)
    detail: str = field(C.OPERATIONAL, max_length=2000)
    rule: str | None = field(C.OPERATIONAL, default=None)
    field_paths: list[str] = field(C.OPERATIONAL, default_factory=list)
    policy_version: str | None = field(C.OPERATIONAL, default=None)


class NoticeDuplicate(Body):
    """Hub -> sender: this id was seen before; here is the original outcome again."""

    original_message_id: UUID = field(C.OPERATIONAL)
    original_outcome: Literal["routed", "refused", "in_progress"] = field(C.OPERATIONAL)
    reason_code: ReasonCode | None = field(C.OPERATIONAL, default=None)
    decided_at: AwareDatetime | None = field(C.OPERATIONAL, default=None)


class NoticeReminder(Body):
    """Hub -> late recipient (and a copy to the sender): a receipt or response is late."""

    message_id: UUID = field(C.OPERATIONAL)
    message_type: str = field(C.OPERATIONAL, max_length=64)
    awaited: Literal["receipt", "response"] = field(C.OPERATIONAL)
    late_participant: ParticipantId = field(C.OPERATIONAL)
    deadline: AwareDatetime = field(C.OPERATIONAL)


class NoticeOverdue(Body):
    """Hub -> Maatwerkloket: still late after a reminder. The case id and who is late; no more."""

    message_id: UUID = field(C.OPERATIONAL)
    message_type: str = field(C.OPERATIONAL, max_length=64)
    awaited: Literal["receipt", "response"] = field(C.OPERATIONAL)
    late_participant: ParticipantId = field(C.OPERATIONAL)
    deadline: AwareDatetime = field(C.OPERATIONAL)


class BridgingDecision(Body):
    """Maatwerkloket -> municipality: the overbruggingsprocedure prefinances or guarantees help."""

    loket_reference: str = field(C.REFERENCE, min_length=1, max_length=64)
    decision: Literal["prefinance", "guarantee", "declined"] = field(C.OPERATIONAL)
    amount_cents: WholeNumber = field(C.FINANCIAL, ge=0)
    creditor_kind: Literal[
        "housing_corporation", "energy_supplier", "water_company", "health_insurer", "other"
    ] = field(C.OPERATIONAL)
    referred_to_let: bool = field(C.OPERATIONAL)


class BridgingSettlement(Body):
    """Maatwerkloket -> responsible party: repay the prefinanced amount the LET assigned."""

    loket_reference: str = field(C.REFERENCE, min_length=1, max_length=64)
    responsible_party: ParticipantId = field(C.OPERATIONAL)
    amount_cents: WholeNumber = field(C.FINANCIAL, ge=0)
    due_on: date = field(C.OPERATIONAL)


class BridgingRepaid(Body):
    """Responsible party -> Maatwerkloket: the prefinanced amount has been repaid."""

    loket_reference: str = field(C.REFERENCE, min_length=1, max_length=64)
    amount_cents: WholeNumber = field(C.FINANCIAL, gt=0)
    repaid_on: date = field(C.OPERATIONAL)


class RegisterQuery(Body):
    """Any participant -> hub: look up contact points in the Maatwerkregister."""

    participant_ids: list[ParticipantId] | None = field(C.OPERATIONAL, default=None)
    kinds: list[Literal["municipality", "agency", "loket", "let"]] | None = field(
        C.OPERATIONAL, default=None
    )


class RegisterEntry(Body):
    id: ParticipantId
    name: str
    kind: str
    contact_point: str
    email: str
    phone: str


class RegisterAnswer(Body):
    """Hub -> requester: the matching contact points."""

    entries: list[RegisterEntry] = field(C.CONTACT)
