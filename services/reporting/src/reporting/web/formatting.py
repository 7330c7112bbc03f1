"""How figures read on the pages: GOV.UK style (plain English, "1 December 2026", "£1,250")."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

#: What an unknown or empty figure reads as (an en dash).
NONE = "\u2013"

REGION_NAMES: dict[str, str] = {
    "north_east": "North East",
    "north_west": "North West",
    "yorkshire_and_the_humber": "Yorkshire and the Humber",
    "east_midlands": "East Midlands",
    "west_midlands": "West Midlands",
    "east_of_england": "East of England",
    "london": "London",
    "south_east": "South East",
    "south_west": "South West",
}

POT_NAMES = {
    "school": "School budgets (delegated)",
    "trust": "Trust central budget",
    "national_premium": "National premium (disadvantaged schools)",
}


def number(value: Any) -> str:
    if value is None:
        return NONE
    if isinstance(value, Decimal | float):
        return f"{value:,.1f}".removesuffix(".0")
    return f"{int(value):,}"


def money(pence: Any) -> str:
    """Whole pounds from integer pence (the pence shown only under £100)."""
    if pence is None:
        return NONE
    pence = int(pence)
    sign = "-" if pence < 0 else ""
    pence = abs(pence)
    if pence < 10_000 and pence % 100:
        return f"{sign}£{pence / 100:,.2f}"
    return f"{sign}£{round(pence / 100):,}"


def hours(value: Any) -> str:
    if value is None:
        return NONE
    figure = Decimal(value).quantize(Decimal("0.1"))
    return f"{figure:,.1f}".removesuffix(".0")


def percent(value: Any) -> str:
    if value is None:
        return NONE
    return f"{float(value):.1f}%".replace(".0%", "%")


def share(part: Any, whole: Any) -> float | None:
    """part / whole as a percentage (``None`` without a whole)."""
    if not whole:
        return None
    return 100 * float(part) / float(whole)


def region(value: str | None) -> str:
    if not value:
        return "Region not known"
    return REGION_NAMES.get(value, value.replace("_", " ").title())


def pot(value: str) -> str:
    return POT_NAMES.get(value, value)


def day(value: date | datetime | str | None) -> str:
    if value is None:
        return NONE
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        return f"{value.day} {value:%B %Y} {value:%H:%M}"
    return f"{value.day} {value:%B %Y}"


def words(value: str | None) -> str:
    """An identifier as plain words: ``ect_year_1`` -> ``ECT year 1``."""
    if not value:
        return NONE
    text = value.replace("_", " ")
    text = text[0].upper() + text[1:]
    return text.replace("Ect ", "ECT ").replace("Npq", "NPQ").replace("npq", "NPQ")


def clock(unix: float) -> str:
    """A Unix time as the time of day (UTC), e.g. ``22:07:08 UTC``."""
    return f"{datetime.fromtimestamp(unix, UTC):%H:%M:%S} UTC"


FILTERS: dict[str, Callable[..., str]] = {
    "clock": clock,
    "number": number,
    "money": money,
    "hours": hours,
    "percent": percent,
    "region": region,
    "pot": pot,
    "day": day,
    "words": words,
}


_EVENT_WORDS: dict[str, str] = {
    "TeacherRegistered": "Registered at school {school_urn} as {career_stage}",
    "TeacherMovedSchool": "Moved from school {from_school_urn} to school {school_urn}",
    "TeacherLeftProfession": "Left the profession",
    "EntitlementGranted": "Granted {hours} hours and {funding} for {academic_year}",
    "CPDRequested": "Asked for course {course_id} ({cost})",
    "CPDApproved": "Request {request_id} approved by {approved_by}",
    "CPDDeclined": "Request {request_id} declined",
    "CPDWithdrawn": "Request {request_id} withdrawn",
    "CPDCompleted": "Completed the CPD of request {request_id}",
    "HoursLogged": "Logged {hours} hours of {activity_type}",
    "HoursLogCorrected": "Corrected hours log {log_id} to {hours} hours",
    "FundingCommitted": "Funding committed: {amount}",
    "FundingSpent": "Funding spent: {amount}",
    "FundingReleased": "Funding released: {amount}",
    "DevelopmentPlanAgreed": "Agreed a development plan for {academic_year}",
    "MinimumEntitlementMet": "Met the minimum for {academic_year}",
    "MentorAssigned": "Mentorship started ({programme})",
    "MenteeMatched": "Matched with a mentor ({programme})",
    "MentorshipEnded": "Mentorship ended",
    "MentoringSessionLogged": "Mentoring session of {minutes} minutes",
    "MentorRegistered": "Registered as a mentor",
    "MentorTrainingCompleted": "Completed mentor training",
    "CPDLeadDesignated": "Designated CPD lead",
}


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def describe(event_type: str, data: dict[str, Any]) -> str:
    """One line in plain English for an event of a teacher's timeline."""
    words_of = _EVENT_WORDS.get(event_type)
    if words_of is None:
        return words(re.sub(r"(?<!^)(?=[A-Z])", " ", event_type).lower())
    values = _Blank(data)
    for key in ("hours",):
        if key in data:
            values[key] = hours(data[key])
    for key, source in (
        ("funding", "funding_pence"),
        ("cost", "cost_pence"),
        ("amount", "amount_pence"),
    ):
        if source in data:
            values[key] = money(data[source])
    for key in ("career_stage", "activity_type", "programme"):
        if key in data:
            values[key] = words(str(data[key])).lower().replace("ect ", "ECT ")
    return words_of.format_map(values)


FILTERS["describe_event"] = describe
