"""Catalogue events: providers, courses, quality badges, cohorts and feedback."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from cpd_events.envelope import Event
from cpd_events.registry import event
from cpd_events.types import CourseKind, Hours, Identifier, Name, Pence, Text, Trn


@event
class ProviderRegistered(Event):
    event_type = "ProviderRegistered"
    provider_id: Identifier
    name: Name
    kind: Name = Field(examples=["npq_lead_provider", "university", "teaching_school_hub"])


@event
class CourseListed(Event):
    event_type = "CourseListed"
    course_id: Identifier
    provider_id: Identifier
    title: Name
    kind: CourseKind
    npq_type: str | None = Field(default=None, examples=["NPQH"])
    subjects: list[Name] = []
    phases: list[Name] = []
    hours: Hours
    price_pence: Pence
    government_funded: bool = False
    delivery_mode: Name = "blended"
    evidence_summary: Text = ""


@event
class CourseUpdated(Event):
    event_type = "CourseUpdated"
    course_id: Identifier
    title: Name | None = None
    hours: Hours | None = None
    price_pence: Pence | None = None
    delivery_mode: Name | None = None
    evidence_summary: Text | None = None


@event
class CourseBadged(Event):
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
    event_type = "CohortScheduled"
    cohort_id: Identifier
    course_id: Identifier
    starts_on: date
    ends_on: date
    capacity: int = Field(gt=0)


@event
class CourseFeedbackSubmitted(Event):
    event_type = "CourseFeedbackSubmitted"
    course_id: Identifier
    trn: Trn
    rating: int = Field(ge=1, le=5)
    impact_note: Text = ""
