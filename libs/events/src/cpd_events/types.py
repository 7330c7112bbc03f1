"""Value types of the published language.

Money is integer pence, hours are decimals with two places (never floats), identifiers are
validated where they enter the system: a teacher reference number (TRN) has 7 digits, a school
unique reference number (URN) has 6, an academic year reads ``2025/26``.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints

Trn = Annotated[
    str,
    StringConstraints(pattern=r"^\d{7}$"),
    Field(description="Teacher reference number: 7 digits", examples=["1234567"]),
]
Urn = Annotated[
    str,
    StringConstraints(pattern=r"^\d{6}$"),
    Field(description="School unique reference number: 6 digits", examples=["100000"]),
]
TrustId = Annotated[
    str,
    StringConstraints(pattern=r"^\d{1,10}$"),
    Field(description="Trust group UID as published by DfE", examples=["2044"]),
]
Identifier = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"),
    Field(description="An identifier chosen by the caller: letters, digits, . _ : -"),
]


def _no_nul(value: str) -> str:
    # PostgreSQL stores no text with NUL (not even in jsonb): refuse it at the edge, by name
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_no_nul),
]
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=4000), AfterValidator(_no_nul)
]
Pence = Annotated[int, Field(ge=0, description="Money in integer pence")]
Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2)]


def _web_address(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http or https address with a host, e.g. https://x.org/a")
    return value


WebUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=500, pattern=r"^\S+$"),
    AfterValidator(_web_address),
    Field(description="An http(s) address, at most 500 characters", examples=["https://x.org/e"]),
]

HOURS_SCALE = Decimal("0.01")


def _two_places(value: Decimal) -> Decimal:
    return value.quantize(HOURS_SCALE, rounding=ROUND_HALF_UP)


Hours = Annotated[
    Decimal,
    Field(ge=0, le=10000, max_digits=7, decimal_places=2, description="Hours, two decimal places"),
    AfterValidator(_two_places),
]


def hours(value: str | int | Decimal) -> Decimal:
    """Build an hours value with the fixed scale, e.g. ``hours("1.5") == Decimal("1.50")``."""
    return _two_places(Decimal(value))


def _check_academic_year(value: str) -> str:
    start, end = value.split("/")
    if (int(start) + 1) % 100 != int(end):
        raise ValueError(f"academic year {value!r} must span consecutive years, e.g. 2025/26")
    return value


AcademicYear = Annotated[
    str,
    StringConstraints(pattern=r"^\d{4}/\d{2}$"),
    AfterValidator(_check_academic_year),
    Field(description="Academic year, September to August", examples=["2025/26"]),
]


def academic_year_of(day: date) -> str:
    """The academic year (September to August) a day falls in: 2025-10-01 -> ``2025/26``."""
    start = day.year if day.month >= 9 else day.year - 1
    return f"{start}/{(start + 1) % 100:02d}"


class CareerStage(StrEnum):
    TRAINEE = "trainee"
    ECT_YEAR_1 = "ect_year_1"
    ECT_YEAR_2 = "ect_year_2"
    EARLY_CAREER = "early_career"
    EXPERIENCED = "experienced"
    MIDDLE_LEADER = "middle_leader"
    SENIOR_LEADER = "senior_leader"


class FundingModel(StrEnum):
    CENTRALISED = "centralised"
    DELEGATED = "delegated"
    HYBRID = "hybrid"


class ActivityType(StrEnum):
    COURSE = "course"
    NPQ = "npq"
    MENTORING = "mentoring"
    COACHING = "coaching"
    INSET = "inset"
    PEER_OBSERVATION = "peer_observation"
    RESEARCH = "research"
    OTHER = "other"
    SHADOWING = "shadowing"
    NETWORK = "network"


class CourseKind(StrEnum):
    NPQ = "npq"
    MENTOR_DEVELOPMENT = "mentor_development"
    UNIVERSITY = "university"
    HUB = "hub"
    INSET = "inset"
    COACHING = "coaching"
    SHADOWING = "shadowing"
    PROFESSIONAL_MEMBERSHIP = "professional_membership"
    OTHER = "other"


class NpqType(StrEnum):
    """The National Professional Qualifications (NPQs) in England."""

    NPQLT = "NPQLT"  # Leading Teaching
    NPQLTD = "NPQLTD"  # Leading Teacher Development
    NPQLBC = "NPQLBC"  # Leading Behaviour and Culture
    NPQLL = "NPQLL"  # Leading Literacy
    NPQLPM = "NPQLPM"  # Leading Primary Mathematics
    NPQSL = "NPQSL"  # Senior Leadership
    NPQH = "NPQH"  # Headship
    NPQEL = "NPQEL"  # Executive Leadership
    NPQEYL = "NPQEYL"  # Early Years Leadership
    NPQSENCO = "NPQSENCO"  # Special Educational Needs Co-ordinators


class ProviderKind(StrEnum):
    NPQ_LEAD_PROVIDER = "npq_lead_provider"
    UNIVERSITY = "university"
    CHARTERED_COLLEGE = "chartered_college"
    TEACHING_SCHOOL_HUB = "teaching_school_hub"
    CURRICULUM_HUB = "curriculum_hub"
    MENTOR_TRAINING_PROVIDER = "mentor_training_provider"
    SCHOOL_OR_TRUST_INTERNAL = "school_or_trust_internal"
    OTHER = "other"


class MentoringProgramme(StrEnum):
    INITIAL_TEACHER_TRAINING = "initial_teacher_training"
    EARLY_CAREER_INDUCTION = "early_career_induction"
    NPQ = "npq"
    PEER_COACHING = "peer_coaching"


class Region(StrEnum):
    NORTH_EAST = "north_east"
    NORTH_WEST = "north_west"
    YORKSHIRE_AND_THE_HUMBER = "yorkshire_and_the_humber"
    EAST_MIDLANDS = "east_midlands"
    WEST_MIDLANDS = "west_midlands"
    EAST_OF_ENGLAND = "east_of_england"
    LONDON = "london"
    SOUTH_EAST = "south_east"
    SOUTH_WEST = "south_west"
