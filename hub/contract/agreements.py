"""Service levels (receipt and response deadlines) and per-agency time-out rules.

Read from a YAML file (embedded defaults in ``hub/contract/defaults/agreements.yaml``; override with
``MAATWERK_AGREEMENTS``). Tests shorten deadlines to seconds through the same file.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hub.contract.errors import ConfigError
from hub.contract.registry import describe_errors, read_yaml

# Working days are counted on the Dutch calendar: Monday to Friday, less the public holidays that
# the ``holidays`` package knows for the Netherlands (Nieuwjaarsdag, Goede Vrijdag, Pasen,
# Koningsdag, Bevrijdingsdag in lustrum years, Hemelvaart, Pinksteren, Kerstmis), in Dutch time.
CALENDAR_ZONE = ZoneInfo("Europe/Amsterdam")


@lru_cache(maxsize=64)
def _dutch_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("NL", years=year))


def is_working_day(day: date) -> bool:
    """Monday to Friday and not a Dutch public holiday."""
    return day.weekday() < 5 and day not in _dutch_holidays(day.year)


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Duration(_Strict):
    """Exactly one of seconds, minutes, hours, days or working_days."""

    seconds: float | None = Field(default=None, gt=0)
    minutes: float | None = Field(default=None, gt=0)
    hours: float | None = Field(default=None, gt=0)
    days: float | None = Field(default=None, gt=0)
    working_days: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one(self) -> Duration:
        given = [v for v in (self.seconds, self.minutes, self.hours, self.days,
                             self.working_days) if v]
        if len(given) != 1:
            raise ValueError("give exactly one of seconds, minutes, hours, days, working_days")
        return self

    def after(self, start: datetime) -> datetime:
        """The moment this duration after ``start``.

        Working days skip Saturdays, Sundays and Dutch public holidays, counted on the calendar
        of Europe/Amsterdam; the deadline keeps the local time of day of ``start``.
        """
        if self.working_days is None:
            seconds = ((self.seconds or 0) + (self.minutes or 0) * 60 + (self.hours or 0) * 3600
                       + (self.days or 0) * 86400)
            return start + timedelta(seconds=seconds)
        local = start.astimezone(CALENDAR_ZONE)
        day, left = local.date(), self.working_days
        while left:
            day += timedelta(days=1)
            if is_working_day(day):
                left -= 1
        moment = datetime.combine(day, local.timetz().replace(tzinfo=None), CALENDAR_ZONE)
        return moment.astimezone(start.tzinfo) if start.tzinfo else moment


class Deadlines(_Strict):
    receipt: Duration | None = None
    response: Duration | None = None


class DeadlineTable(_Strict):
    receipt: Duration
    response: Duration
    per_participant: dict[str, Deadlines] = Field(default_factory=dict)


class TimeoutRule(_Strict):
    max_months: int = Field(ge=1, le=24)
    extension_months_with_debt_assistance: int = Field(default=0, ge=0, le=24)
    rule: str = Field(min_length=1)


class TimeoutRules(_Strict):
    default: TimeoutRule
    per_agency: dict[str, TimeoutRule] = Field(default_factory=dict)


class EscalationDeadlines(_Strict):
    """How long each step of an escalation may take (:mod:`hub.state.escalations`).

    The loket decides "op zo kort mogelijke termijn"; no number was found, so the defaults are
    ours: 5 working days for the loket's first answer, 10 for each later step of the loket,
    10 for the LET's decision and 5 for closing after it. A missed step is reminded once and,
    when the same period passes again, reported overdue once.
    """

    loket_decision: Duration = Field(default_factory=lambda: Duration(working_days=5))
    loket_progress: Duration = Field(default_factory=lambda: Duration(working_days=10))
    let_decision: Duration = Field(default_factory=lambda: Duration(working_days=10))
    loket_closing: Duration = Field(default_factory=lambda: Duration(working_days=5))


class BridgingTerms(_Strict):
    """Repayment terms of the overbrugging (:mod:`hub.state.bridging`).

    On the due date without a confirmed repayment the responsible party is reminded; when
    ``overdue_after`` has passed since that reminder, the loket is told it is overdue.
    """

    overdue_after: Duration = Field(default_factory=lambda: Duration(working_days=5))


class Lifetimes(_Strict):
    """The longest a message may live (``expires_at - created_at``), per message type."""

    default: Duration
    per_type: dict[str, Duration] = Field(default_factory=dict)


DEFAULT_MAX_LIFETIME = Duration(days=30)


class Agreements(_Strict):
    version: str
    deadlines: DeadlineTable
    timeouts: TimeoutRules
    escalation: EscalationDeadlines = Field(default_factory=EscalationDeadlines)
    bridging: BridgingTerms = Field(default_factory=BridgingTerms)

    lifetimes: Lifetimes = Lifetimes(default=DEFAULT_MAX_LIFETIME)

    def max_lifetime(self, message_type: str) -> Duration:
        """How long a message of ``message_type`` may live at most."""
        return self.lifetimes.per_type.get(message_type, self.lifetimes.default)

    def receipt_deadline(self, recipient: str) -> Duration:
        own = self.deadlines.per_participant.get(recipient)
        return (own.receipt if own else None) or self.deadlines.receipt

    def response_deadline(self, recipient: str) -> Duration:
        own = self.deadlines.per_participant.get(recipient)
        return (own.response if own else None) or self.deadlines.response

    def timeout_rule(self, agency: str) -> TimeoutRule:
        return self.timeouts.per_agency.get(agency, self.timeouts.default)


def load_agreements(path: Path | None = None) -> Agreements:
    source, raw = read_yaml(path, "agreements.yaml")
    try:
        return Agreements.model_validate_json(json.dumps(raw))
    except ValidationError as exc:
        raise ConfigError(describe_errors(source, raw, exc, "timeouts")) from exc
