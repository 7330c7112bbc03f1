"""Catalogue events: providers, courses, quality badges, cohorts and feedback.

A badge's lapse is not an event: a badge is valid up to and including its ``expires_on`` and
readers compute "lapsed" from that date and today, so nothing has to run at midnight.
"""

from __future__ import annotations

from datetime import date

from pydantic import Field, ValidationInfo, field_validator

from cpd_events.envelope import Event
from cpd_events.registry import event
from cpd_events.types import (
    CareerStage,
    CourseKind,
    Hours,
    Identifier,
    Name,
    NpqType,
    Pence,
    ProviderKind,
    Text,
    Trn,
    Urn,
)


def npq_type_problem(kind: CourseKind, npq_type: NpqType | None) -> str | None:
    """Why ``npq_type`` does not fit ``kind`` (an NPQ names its type, nothing else does)."""
    if kind == CourseKind.NPQ and npq_type is None:
        return "an NPQ course needs its npq_type (NPQH, NPQSL, ...)"
    if kind != CourseKind.NPQ and npq_type is not None:
        return f"only an NPQ course has an npq_type, not a {kind.value} course"
    return None


@event
class ProviderRegistered(Event):
    event_type = "ProviderRegistered"
    provider_id: Identifier
    name: Name
    kind: ProviderKind


@event
class ProviderUpdated(Event):
    """Only the fields that changed are set."""

    event_type = "ProviderUpdated"
    provider_id: Identifier
    name: Name | None = None
    kind: ProviderKind | None = None


@event
class ProviderDeactivated(Event):
    """The provider lists no more courses; its courses stay readable."""

    event_type = "ProviderDeactivated"
    provider_id: Identifier
    reason: Text = Field(min_length=1)


@event
class CourseListed(Event):
    event_type = "CourseListed"
    course_id: Identifier
    provider_id: Identifier
    title: Name
    kind: CourseKind
    npq_type: NpqType | None = Field(
        default=None,
        validate_default=True,
        description="Required for kind npq, absent otherwise",
        examples=["NPQH"],
    )
    subjects: list[Name] = []
    phases: list[Name] = []
    career_stages: list[CareerStage] = Field(default=[], description="Career stages it suits")
    hours: Hours
    price_pence: Pence = Field(description="Price per participant; 0 for internal courses")
    government_funded: bool = False
    delivery_mode: Name = "blended"
    evidence_summary: Text = ""

    @field_validator("npq_type")
    @classmethod
    def _npq_type_fits_kind(cls, value: NpqType | None, info: ValidationInfo) -> NpqType | None:
        kind = info.data.get("kind")
        if isinstance(kind, CourseKind) and (problem := npq_type_problem(kind, value)):
            raise ValueError(problem)
        return value


@event
class CourseUpdated(Event):
    """Only the fields that changed are set (kind, NPQ type and provider never change)."""

    event_type = "CourseUpdated"
    course_id: Identifier
    title: Name | None = None
    subjects: list[Name] | None = None
    phases: list[Name] | None = None
    career_stages: list[CareerStage] | None = None
    hours: Hours | None = None
    price_pence: Pence | None = None
    government_funded: bool | None = None
    delivery_mode: Name | None = None
    evidence_summary: Text | None = None


@event
class CourseBadged(Event):
    """Awarded or renewed under the national CPD badging scheme, valid through ``expires_on``."""

    event_type = "CourseBadged"
    course_id: Identifier
    level: Name
    expires_on: date


@event
class CourseBadgeRevoked(Event):
    event_type = "CourseBadgeRevoked"
    course_id: Identifier
    reason: Text = Field(min_length=1)


@event
class CourseRetired(Event):
    event_type = "CourseRetired"
    course_id: Identifier
    reason: Text = ""


@event
class CohortScheduled(Event):
    """A run of a course (stream ``cohort-<cohort_id>``, which also holds its bookings)."""

    event_type = "CohortScheduled"
    cohort_id: Identifier
    course_id: Identifier
    starts_on: date
    ends_on: date
    capacity: int = Field(gt=0)

    @field_validator("ends_on")
    @classmethod
    def _ends_after_start(cls, value: date, info: ValidationInfo) -> date:
        starts_on = info.data.get("starts_on")
        if isinstance(starts_on, date) and value < starts_on:
            raise ValueError(f"a cohort ends on or after its start ({starts_on.isoformat()})")
        return value


@event
class CohortPlaceBooked(Event):
    """A teacher's place on a cohort, booked by their school within the cohort's capacity."""

    event_type = "CohortPlaceBooked"
    cohort_id: Identifier
    course_id: Identifier
    booking_id: Identifier
    trn: Trn
    school_urn: Urn


@event
class CourseFeedbackSubmitted(Event):
    """A teacher who completed the course rates it, once (stream ``feedback-<course>-<trn>``)."""

    event_type = "CourseFeedbackSubmitted"
    course_id: Identifier
    trn: Trn
    rating: int = Field(ge=1, le=5)
    impact_note: Text = ""
