"""Mentoring events: mentors, capacity, assignments and sessions."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from cpd_events.envelope import Event
from cpd_events.registry import event
from cpd_events.types import Hours, Identifier, MentoringProgramme, Text, Trn, Urn


@event
class MentorRegistered(Event):
    event_type = "MentorRegistered"
    trn: Trn
    school_urn: Urn


@event
class MentorTrainingCompleted(Event):
    event_type = "MentorTrainingCompleted"
    trn: Trn
    course_id: Identifier
    completed_on: date


@event
class LeadMentorDesignated(Event):
    event_type = "LeadMentorDesignated"
    trn: Trn
    school_urn: Urn


@event
class MentorCapacitySet(Event):
    event_type = "MentorCapacitySet"
    trn: Trn
    max_mentees: int = Field(ge=0, le=50)


@event
class MentorAssigned(Event):
    event_type = "MentorAssigned"
    assignment_id: Identifier
    trn: Trn = Field(description="The mentor")
    mentee_trn: Trn
    school_urn: Urn
    programme: MentoringProgramme
    starts_on: date


@event
class MentorshipEnded(Event):
    event_type = "MentorshipEnded"
    assignment_id: Identifier
    trn: Trn
    mentee_trn: Trn
    ended_on: date
    reason: Text = Field(min_length=1)


@event
class MentoringSessionLogged(Event):
    event_type = "MentoringSessionLogged"
    session_id: Identifier
    assignment_id: Identifier
    trn: Trn
    mentee_trn: Trn
    school_urn: Urn
    held_on: date
    hours: Hours = Field(gt=0)
