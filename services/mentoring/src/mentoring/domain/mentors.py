"""Mentors: registration, capacity, and the mentorships they hold.

Everything here is decided on one mentor's stream, ``mentor-<trn>``. The stream is the
consistency boundary, so capacity holds under concurrent assignments. "One active mentor per
mentee per programme" across *different* mentors needs the mentee's side too and is not decided
here yet; within one mentor, a mentee has at most one active mentorship per programme.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from cpd_events.decider import Decider, Rule, RuleBroken
from cpd_events.envelope import Event
from cpd_events.mentoring_events import (
    MentorAssigned,
    MentorCapacitySet,
    MentorRegistered,
    MentorshipEnded,
)
from cpd_events.types import MentoringProgramme

#: How many mentees a mentor may hold until a capacity is set.
DEFAULT_CAPACITY = 3
#: The bounds of ``MentorCapacitySet.max_mentees``.
MAX_CAPACITY = 50


@dataclass(frozen=True)
class Assignment:
    assignment_id: str
    mentee_trn: str
    school_urn: str
    programme: MentoringProgramme
    starts_on: date
    ended_on: date | None = None
    end_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.ended_on is None


@dataclass(frozen=True)
class Mentor:
    trn: str
    school_urn: str
    max_mentees: int = DEFAULT_CAPACITY
    assignments: tuple[Assignment, ...] = ()

    @property
    def active(self) -> tuple[Assignment, ...]:
        return tuple(a for a in self.assignments if a.active)

    def assignment(self, assignment_id: str) -> Assignment | None:
        return next((a for a in self.assignments if a.assignment_id == assignment_id), None)


# --- commands -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterMentor:
    trn: str
    school_urn: str


@dataclass(frozen=True)
class SetMentorCapacity:
    trn: str
    max_mentees: int


@dataclass(frozen=True)
class AssignMentor:
    trn: str  # the mentor
    assignment_id: str
    mentee_trn: str
    school_urn: str
    programme: MentoringProgramme
    starts_on: date


@dataclass(frozen=True)
class EndMentorship:
    trn: str  # the mentor
    assignment_id: str
    ended_on: date
    reason: str


MentorCommand = RegisterMentor | SetMentorCapacity | AssignMentor | EndMentorship


# --- decide and evolve ----------------------------------------------------------------------


def _registered(trn: str, state: Mentor | None) -> Mentor:
    if state is None:
        raise RuleBroken(f"mentor {trn} is not registered", Rule.NOT_FOUND)
    return state


def _assign(command: AssignMentor, mentor: Mentor) -> list[Event]:
    if command.mentee_trn == mentor.trn:
        raise RuleBroken("a teacher cannot mentor themselves", Rule.INVALID, "mentee_trn")
    if mentor.assignment(command.assignment_id) is not None:
        raise RuleBroken(
            f"assignment {command.assignment_id} exists already", Rule.CONFLICT, "assignment_id"
        )
    if any(
        a.mentee_trn == command.mentee_trn and a.programme == command.programme
        for a in mentor.active
    ):
        raise RuleBroken(
            f"mentor {mentor.trn} already mentors {command.mentee_trn}"
            f" on {command.programme.value}",
            Rule.CONFLICT,
            "mentee_trn",
        )
    if len(mentor.active) >= mentor.max_mentees:
        raise RuleBroken(
            f"mentor {mentor.trn} is at capacity"
            f" ({len(mentor.active)} of {mentor.max_mentees} mentees)",
            Rule.CONFLICT,
        )
    return [
        MentorAssigned(
            assignment_id=command.assignment_id,
            trn=mentor.trn,
            mentee_trn=command.mentee_trn,
            school_urn=command.school_urn,
            programme=command.programme,
            starts_on=command.starts_on,
        )
    ]


def _end(command: EndMentorship, mentor: Mentor) -> list[Event]:
    assignment = mentor.assignment(command.assignment_id)
    if assignment is None:
        raise RuleBroken(
            f"mentor {mentor.trn} has no assignment {command.assignment_id}", Rule.NOT_FOUND
        )
    if not assignment.active:
        raise RuleBroken(f"assignment {command.assignment_id} has ended already", Rule.CONFLICT)
    if command.ended_on < assignment.starts_on:
        raise RuleBroken(
            f"a mentorship cannot end before it starts ({assignment.starts_on.isoformat()})",
            Rule.INVALID,
            "ended_on",
        )
    return [
        MentorshipEnded(
            assignment_id=assignment.assignment_id,
            trn=mentor.trn,
            mentee_trn=assignment.mentee_trn,
            ended_on=command.ended_on,
            reason=command.reason,
        )
    ]


def decide_mentor(command: MentorCommand, state: Mentor | None) -> list[Event]:
    match command:
        case RegisterMentor():
            if state is not None:
                raise RuleBroken(
                    f"mentor {command.trn} is registered already", Rule.CONFLICT, "trn"
                )
            return [MentorRegistered(trn=command.trn, school_urn=command.school_urn)]
        case SetMentorCapacity():
            mentor = _registered(command.trn, state)
            if not 0 <= command.max_mentees <= MAX_CAPACITY:
                raise RuleBroken(
                    f"capacity must be between 0 and {MAX_CAPACITY} mentees",
                    Rule.INVALID,
                    "max_mentees",
                )
            return [MentorCapacitySet(trn=mentor.trn, max_mentees=command.max_mentees)]
        case AssignMentor():
            return _assign(command, _registered(command.trn, state))
        case EndMentorship():
            return _end(command, _registered(command.trn, state))


def evolve_mentor(state: Mentor | None, event: Event) -> Mentor | None:
    if isinstance(event, MentorRegistered):
        return Mentor(trn=event.trn, school_urn=event.school_urn)
    if state is None:
        return state
    if isinstance(event, MentorCapacitySet):
        return replace(state, max_mentees=event.max_mentees)
    if isinstance(event, MentorAssigned):
        assignment = Assignment(
            assignment_id=event.assignment_id,
            mentee_trn=event.mentee_trn,
            school_urn=event.school_urn,
            programme=event.programme,
            starts_on=event.starts_on,
        )
        return replace(state, assignments=(*state.assignments, assignment))
    if isinstance(event, MentorshipEnded):
        return replace(
            state,
            assignments=tuple(
                replace(a, ended_on=event.ended_on, end_reason=event.reason)
                if a.assignment_id == event.assignment_id
                else a
                for a in state.assignments
            ),
        )
    return state


#: One mentor's stream, ``mentor-<trn>``; ``None`` until the mentor is registered.
mentor_decider: Decider[Mentor | None, MentorCommand] = Decider(
    initial=lambda: None, evolve=evolve_mentor, decide=decide_mentor
)
