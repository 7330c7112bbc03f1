"""The school calendar of an academic year in England: terms, half-terms, INSET days.

Dates follow the usual pattern of local-authority calendars (each school's own dates differ by
a few days): autumn term from 1 September to the Friday before 20 December with half-term in the
last full week of October; spring term from the first weekday on or after 5 January to the end of
March with half-term in the third week of February; summer term from mid-April to 22 July with
half-term in the last week of May. Only weekdays in term are school days.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property

ONE_DAY = timedelta(days=1)


def _weekday_on_or_after(day: date) -> date:
    while day.weekday() >= 5:
        day += ONE_DAY
    return day


def _weekday_on_or_before(day: date) -> date:
    while day.weekday() >= 5:
        day -= ONE_DAY
    return day


def _monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _last_monday(year: int, month: int) -> date:
    day = date(year + month // 12, month % 12 + 1, 1) - ONE_DAY  # last day of the month
    return _monday_of(day)


@dataclass(frozen=True)
class Term:
    name: str
    first: date
    last: date
    half_term: date  # the Monday of its half-term week

    def school_days(self) -> list[date]:
        return list(self.days)

    @cached_property
    def days(self) -> tuple[date, ...]:
        days = []
        day = self.first
        while day <= self.last:
            in_half_term = self.half_term <= day < self.half_term + timedelta(days=7)
            if day.weekday() < 5 and not in_half_term:
                days.append(day)
            day += ONE_DAY
        return tuple(days)


@dataclass(frozen=True)
class SchoolYear:
    academic_year: str  # "2025/26"

    @property
    def start_year(self) -> int:
        return int(self.academic_year[:4])

    @property
    def first_day(self) -> date:
        return date(self.start_year, 9, 1)

    @property
    def last_day(self) -> date:
        return date(self.start_year + 1, 8, 31)

    @cached_property
    def terms(self) -> tuple[Term, Term, Term]:
        y = self.start_year
        autumn = Term(
            "autumn",
            _weekday_on_or_after(date(y, 9, 1)),
            _weekday_on_or_before(date(y, 12, 19)),
            _last_monday(y, 10),
        )
        feb_first_monday = _monday_of(date(y + 1, 2, 1) + timedelta(days=6))
        spring = Term(
            "spring",
            _weekday_on_or_after(date(y + 1, 1, 5)),
            _weekday_on_or_before(date(y + 1, 3, 27)),
            feb_first_monday + timedelta(days=14),
        )
        summer = Term(
            "summer",
            _weekday_on_or_after(date(y + 1, 4, 13)),
            _weekday_on_or_before(date(y + 1, 7, 22)),
            _last_monday(y + 1, 5),
        )
        return autumn, spring, summer

    @cached_property
    def school_days(self) -> tuple[date, ...]:
        return tuple(day for term in self.terms for day in term.school_days())

    @cached_property
    def term_weeks(self) -> tuple[tuple[date, ...], ...]:
        """The school days of each week in term (half-terms and holidays left out)."""
        weeks: dict[date, list[date]] = {}
        for day in self.school_days:
            weeks.setdefault(_monday_of(day), []).append(day)
        return tuple(tuple(days) for _, days in sorted(weeks.items()))

    @cached_property
    def inset_days(self) -> tuple[date, ...]:
        """Five staff training days: the first two of autumn, the first of spring and summer,
        the last of summer."""
        autumn, spring, summer = (term.school_days() for term in self.terms)
        return (autumn[0], autumn[1], spring[0], summer[0], summer[-1])

    def term_of(self, day: date) -> str | None:
        for term in self.terms:
            if term.first <= day <= term.last:
                return term.name
        return None

    def school_days_after(self, day: date, count: int) -> date:
        """The ``count``-th school day after ``day`` (beyond the year: calendar weekdays)."""
        days = self.school_days
        index = bisect.bisect_right(days, day) + count - 1
        if index < len(days):
            return days[index]
        extra = index - len(days) + 1
        current = max(days[-1], day)
        while extra:
            current += ONE_DAY
            if current.weekday() < 5:
                extra -= 1
        return current
