"""Mentoring events: mentors, the schools they serve, training, capacity, mentorships, sessions.

Streams (all published on ``cpd.mentoring.events``, keyed by stream id):

- ``mentor-<trn>``: the mentor's registration, schools served, training, capacity, and their
  caseload: ``MentorAssigned`` / ``MentorshipEnded`` and ``MentoringSessionLogged``.
- ``mentee-<trn>``: the mentee's side of the same mentorships, ``MenteeMatched`` /
  ``MenteeReleased``, written in the same transaction as the mentor's events. They exist so that
  mentoring can enforce "one active mentor per mentee per programme" across mentors.
- ``school-lead-mentor-<urn>``: ``LeadMentorDesignated``, one lead mentor per school.

Consumers that count or list mentorships use ``MentorAssigned`` / ``MentorshipEnded`` only:
``MenteeMatched`` / ``MenteeReleased`` describe the same mentorships again and would count each
twice.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from pydantic import Field, model_validator

from cpd_events.envelope import Event
from cpd_events.registry import event
from cpd_events.types import (
    AcademicYear,
    Hours,
    Identifier,
    MentoringProgramme,
    Text,
    Trn,
    Urn,
    academic_year_of,
)

#: The longest mentoring session that can be logged, in minutes (a working day).
MAX_SESSION_MINUTES = 480


def session_hours(minutes: int) -> Decimal:
    """Minutes as CPD hours, two decimal places, half up: 50 minutes -> ``0.83``."""
    return (Decimal(minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@event
class MentorRegistered(Event):
    """A teacher registered as a mentor at a first school (more through ``MentorSchoolAdded``)."""

    event_type = "MentorRegistered"
    trn: Trn
    school_urn: Urn


@event
class MentorSchoolAdded(Event):
    """A registered mentor serves one more school."""

    event_type = "MentorSchoolAdded"
    trn: Trn
    school_urn: Urn


@event
class MentorTrainingCompleted(Event):
    """A mentor completed mentor training: a catalogue course, which counts as CPD ``hours``."""

    event_type = "MentorTrainingCompleted"
    trn: Trn
    course_id: Identifier = Field(description="The catalogue course taken")
    completed_on: date
    hours: Hours = Field(gt=0, description="CPD hours the training counts for")


@event
class LeadMentorDesignated(Event):
    """The lead mentor of a school (stream ``school-lead-mentor-<urn>``): one per school."""

    event_type = "LeadMentorDesignated"
    trn: Trn
    school_urn: Urn
    replaces_trn: Trn | None = Field(
        default=None, description="The lead mentor this designation replaces, if any"
    )


@event
class MentorCapacitySet(Event):
    event_type = "MentorCapacitySet"
    trn: Trn
    max_mentees: int = Field(ge=0, le=50)


@event
class MentorAssigned(Event):
    """A mentorship starts (mentor's stream). The source of truth for counting mentorships."""

    event_type = "MentorAssigned"
    assignment_id: Identifier
    trn: Trn = Field(description="The mentor")
    mentee_trn: Trn
    school_urn: Urn = Field(description="The mentee's school, where the mentorship takes place")
    programme: MentoringProgramme
    starts_on: date


@event
class MentorshipEnded(Event):
    """A mentorship ends (mentor's stream). The source of truth for counting mentorships."""

    event_type = "MentorshipEnded"
    assignment_id: Identifier
    trn: Trn = Field(description="The mentor")
    mentee_trn: Trn
    ended_on: date
    reason: Text = Field(min_length=1)


@event
class MenteeMatched(Event):
    """The mentee-side record of a ``MentorAssigned`` (stream ``mentee-<trn>``).

    Written in the same transaction as the ``MentorAssigned`` with the same ``assignment_id``;
    it is the same mentorship, not another one: do not count it.
    """

    event_type = "MenteeMatched"
    assignment_id: Identifier
    trn: Trn = Field(description="The mentee")
    mentor_trn: Trn
    programme: MentoringProgramme
    school_urn: Urn
    starts_on: date


@event
class MenteeReleased(Event):
    """The mentee-side record of a ``MentorshipEnded`` (stream ``mentee-<trn>``).

    Written in the same transaction as the ``MentorshipEnded`` with the same ``assignment_id``;
    it is the same mentorship ending, not another one: do not count it.
    """

    event_type = "MenteeReleased"
    assignment_id: Identifier
    trn: Trn = Field(description="The mentee")
    mentor_trn: Trn
    programme: MentoringProgramme
    ended_on: date
    reason: Text = Field(min_length=1)


@event
class MentoringSessionLogged(Event):
    """A mentoring session held (mentor's stream): CPD hours for the mentor and the mentee.

    It carries everything entitlement needs to log hours for both teachers without arithmetic or
    look-ups: who (``trn`` the mentor, ``mentee_trn``), where (``mentor_school_urn``,
    ``school_urn`` the mentee's school), when (``held_on``, ``academic_year``), how long
    (``minutes`` and the same as ``hours``, two places, half up) and what (``focus``).
    """

    event_type = "MentoringSessionLogged"
    session_id: Identifier
    assignment_id: Identifier
    trn: Trn = Field(description="The mentor")
    mentee_trn: Trn
    school_urn: Urn = Field(description="The mentee's school")
    mentor_school_urn: Urn = Field(description="The mentor's school")
    programme: MentoringProgramme
    held_on: date
    minutes: int = Field(ge=1, le=MAX_SESSION_MINUTES)
    hours: Hours = Field(gt=0, description="minutes / 60, two decimal places, half up")
    focus: Text = Field(min_length=1)
    academic_year: AcademicYear = Field(description="The academic year of held_on")

    @model_validator(mode="after")
    def _derived_fields_agree(self) -> MentoringSessionLogged:
        if self.hours != session_hours(self.minutes):
            raise ValueError(f"hours must be {session_hours(self.minutes)} for {self.minutes} min")
        if self.academic_year != academic_year_of(self.held_on):
            raise ValueError(f"academic_year must be {academic_year_of(self.held_on)}")
        return self
