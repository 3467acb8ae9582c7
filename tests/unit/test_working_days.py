"""Working-day deadlines on the Dutch calendar: weekends and public holidays do not count."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from hub.contract.agreements import Duration, is_working_day


def test_koningsdag_is_not_a_working_day() -> None:
    assert not is_working_day(date(2027, 4, 27))  # Tuesday, Koningsdag
    assert is_working_day(date(2027, 4, 26))


def test_two_working_days_across_koningsdag_skip_it() -> None:
    # Monday 26 April 2027, 10:00 in Amsterdam (08:00 UTC); Tuesday 27 is Koningsdag.
    start = datetime(2027, 4, 26, 8, 0, tzinfo=UTC)
    deadline = Duration(working_days=2).after(start)
    assert deadline == datetime(2027, 4, 29, 8, 0, tzinfo=UTC)  # Thursday, same local time


def test_friday_before_easter_counts_neither_weekend_nor_easter_monday() -> None:
    # Thursday 25 March 2027; Good Friday 26, weekend, Easter Monday 29.
    start = datetime(2027, 3, 25, 9, 0, tzinfo=UTC)
    assert Duration(working_days=1).after(start).date() == date(2027, 3, 30)


@pytest.mark.parametrize(("year", "expected"), [(2025, False), (2026, True)])
def test_bevrijdingsdag_only_in_lustrum_years(year: int, expected: bool) -> None:
    day = date(year, 5, 5)
    if day.weekday() < 5:
        assert is_working_day(day) is expected


def test_deadline_late_in_the_utc_day_uses_the_dutch_date() -> None:
    # 23:30 UTC on Sunday 25 April 2027 is already Monday 26 April in Amsterdam.
    start = datetime(2027, 4, 25, 23, 30, tzinfo=UTC)
    deadline = Duration(working_days=1).after(start)
    assert deadline == datetime(2027, 4, 27, 23, 30, tzinfo=UTC)  # Wednesday 28, 01:30 local


def test_seconds_durations_are_unchanged() -> None:
    start = datetime(2027, 4, 26, 8, 0, tzinfo=UTC)
    assert (Duration(seconds=90).after(start) - start).total_seconds() == 90
